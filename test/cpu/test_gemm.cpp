#define BOOST_TEST_MODULE gemm
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <new>
#include <random>
#include <utility>
#include <vector>

#include "kiln/backend/cpu/gemm.h"
#include "kiln/backend/reference/kernels.h"

#include "alloc_counter.h"
#include "quick.h"

using kiln::ThreadPool;
using kiln::cpu::Gemm;

namespace {

// One problem, its operands stored with leading dimensions wider than needed: the extra columns
// of A and B hold NaN, which must never reach the result, and those of C must stay untouched.
struct Case {
    bool ta, tb;
    int64_t m, n, k;
    float alpha = 1.0f, beta = 0.0f;
    int64_t pad = 0;  // extra elements per row of A, B and C

    int64_t lda() const { return (ta ? m : k) + pad; }
    int64_t ldb() const { return (tb ? k : n) + pad; }
    int64_t ldc() const { return n + pad; }
};

struct Operands {
    std::vector<float> a, b, c;
    Operands(const Case& t, uint32_t seed) {
        std::mt19937 rng(seed);
        std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
        fill(a, t.ta ? t.k : t.m, t.lda(), t.ta ? t.m : t.k, rng);
        fill(b, t.tb ? t.n : t.k, t.ldb(), t.tb ? t.k : t.n, rng);
        c.resize(t.m * t.ldc());
        for (float& x : c) x = dist(rng);
    }

    static void fill(std::vector<float>& x, int64_t rows, int64_t ld, int64_t cols, std::mt19937& rng) {
        std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
        x.resize(rows * ld);
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < ld; ++j) x[i * ld + j] = j < cols ? dist(rng) : std::numeric_limits<float>::quiet_NaN();
    }
};

void run(Gemm& gemm, const Case& t, const Operands& o, std::vector<float>& c) {
    gemm(t.ta, t.tb, t.m, t.n, t.k, t.alpha, o.a.data(), t.lda(), o.b.data(), t.ldb(), t.beta, c.data(), t.ldc());
}

// Checks Gemm against reference::gemm element by element. Both sum k products in float, in
// different orders, so each may be off from the exact value by at most about k·u·Σ|a||b|
// (u = 2⁻²⁴, the standard bound for recursive summation); we allow twice that for the two of them,
// plus the roundings of alpha and beta. The bound is per element, computed from the operands, so
// it stays tight where the sum cancels; a wrong index or a missed term is far outside it.
void check_against_reference(Gemm& gemm, const Case& t, uint32_t seed = 1) {
    BOOST_TEST_CONTEXT("ta=" << t.ta << " tb=" << t.tb << " m=" << t.m << " n=" << t.n << " k=" << t.k
                             << " alpha=" << t.alpha << " beta=" << t.beta << " pad=" << t.pad) {
        Operands o(t, seed);
        std::vector<float> fast = o.c, ref = o.c;
        run(gemm, t, o, fast);
        kiln::reference::gemm(t.ta, t.tb, t.m, t.n, t.k, t.alpha, o.a.data(), t.lda(), o.b.data(), t.ldb(), t.beta,
                       ref.data(), t.ldc());
        const double u = std::ldexp(1.0, -24);
        int64_t bad = 0;
        for (int64_t i = 0; i < t.m; ++i) {
            for (int64_t j = 0; j < t.n; ++j) {
                double mag = 0.0;
                for (int64_t p = 0; p < t.k; ++p) {
                    float aip = t.ta ? o.a[p * t.lda() + i] : o.a[i * t.lda() + p];
                    float bpj = t.tb ? o.b[j * t.ldb() + p] : o.b[p * t.ldb() + j];
                    mag += std::fabs(double(aip) * bpj);
                }
                const double bound = 2.0 * (t.k + 2) * u * (std::fabs(t.alpha) * mag + std::fabs(t.beta * o.c[i * t.ldc() + j]));
                const float got = fast[i * t.ldc() + j], want = ref[i * t.ldc() + j];
                if (!(std::fabs(double(got) - want) <= bound) && bad++ < 5)
                    BOOST_ERROR("C[" << i << "][" << j << "] = " << got << ", reference " << want << ", bound " << bound);
            }
            // The padding past column n of C must be untouched.
            for (int64_t j = t.n; j < t.ldc(); ++j)
                if (fast[i * t.ldc() + j] != o.c[i * t.ldc() + j] && bad++ < 5) BOOST_ERROR("C[" << i << "][" << j << "] (padding) was written");
        }
        BOOST_TEST(bad == 0);
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(hand_worked_example) {
    // A = [1 2 3; 4 5 6], B = [7 8; 9 10; 11 12]:
    // A·B = [1·7+2·9+3·11, 1·8+2·10+3·12; 4·7+5·9+6·11, 4·8+5·10+6·12] = [58 64; 139 154].
    // With alpha = 2, beta = -1 and C = [1 2; 3 4]: [115 126; 275 304]. Every value is an integer
    // well below 2²⁴, so any order of summation gives them exactly.
    const float a[] = {1, 2, 3, 4, 5, 6}, b[] = {7, 8, 9, 10, 11, 12};
    const float at[] = {1, 4, 2, 5, 3, 6}, bt[] = {7, 9, 11, 8, 10, 12};  // the same, transposed
    ThreadPool pool(1);
    Gemm gemm(pool);
    for (bool ta : {false, true})
        for (bool tb : {false, true}) {
            BOOST_TEST_CONTEXT("ta=" << ta << " tb=" << tb) {
                float c[] = {1, 2, 3, 4};
                gemm(ta, tb, 2, 2, 3, 2.0f, ta ? at : a, ta ? 2 : 3, tb ? bt : b, tb ? 3 : 2, -1.0f, c, 2);
                const float want[] = {115, 126, 275, 304};
                BOOST_TEST(c == want, boost::test_tools::per_element());
                float r[] = {1, 2, 3, 4};
                kiln::reference::gemm(ta, tb, 2, 2, 3, 2.0f, ta ? at : a, ta ? 2 : 3, tb ? bt : b, tb ? 3 : 2, -1.0f, r, 2);
                BOOST_TEST(r == want, boost::test_tools::per_element());
            }
        }
}

BOOST_AUTO_TEST_CASE(matches_reference_on_many_shapes) {
    // Sizes around the tile and block edges of every SIMD width (MR 4/6/12, NR 4/8/16/32, KC 256,
    // MC 20·MR), primes, and 1.
    const int64_t sizes[] = {1, 2, 3, 5, 7, 8, 13, 16, 17, 31, 33, 64, 97, 121, 257};
    // Quick: every third m (still every edge in n and k).
    const size_t m_step = kiln::testing::full_or_quick<size_t>(1, 3, "every third row count of many_shapes");
    ThreadPool pool(2);
    Gemm gemm(pool);
    std::mt19937 rng(7);
    for (bool ta : {false, true})
        for (bool tb : {false, true})
            for (size_t mi = 0; mi < std::size(sizes); mi += m_step)
                for (int64_t n : sizes) {
                    const int64_t m = sizes[mi];
                    // Several k per (m, n), including 1 and one past a KC slice.
                    for (int64_t k : {int64_t(1), sizes[rng() % std::size(sizes)], int64_t(260)}) {
                        Case t{ta, tb, m, n, k};
                        t.pad = rng() % 3 == 0 ? 3 : 0;
                        check_against_reference(gemm, t, static_cast<uint32_t>(rng()));
                    }
                }
}

BOOST_AUTO_TEST_CASE(larger_and_skinny_shapes) {
    // Shapes of kiln's layers: a Linear layer at batch 1 and 300, its backward products, conv via
    // im2col; and sizes past MC (120/240 rows), NC (2048 columns) and several KC slices.
    const Case cases[] = {
        {false, true, 1, 128, 784},    {false, false, 1, 128, 784},   {false, true, 300, 10, 64},
        {false, true, 300, 120, 400},  {false, false, 300, 784, 120}, {true, false, 120, 400, 300},
        {false, false, 6, 3000, 25},   {false, false, 16, 700, 150},  {false, true, 16, 150, 700},
        {true, false, 150, 700, 16},   {false, false, 250, 2100, 40}, {true, true, 130, 70, 600},
        {false, false, 1, 1, 1000},    {false, true, 1, 1, 1000},     {true, false, 1000, 1, 1},
    };
    ThreadPool pool(2);
    Gemm gemm(pool);
    for (Case t : cases) {
        check_against_reference(gemm, t);
        t.pad = 5;
        check_against_reference(gemm, t);
    }
}

BOOST_AUTO_TEST_CASE(alpha_and_beta) {
    ThreadPool pool(2);
    Gemm gemm(pool);
    for (bool ta : {false, true})
        for (bool tb : {false, true})
            for (auto [alpha, beta] : {std::pair{1.0f, 1.0f}, {0.5f, -2.0f}, {-1.5f, 0.0f}, {0.0f, 0.75f}})
                for (int64_t m : {1, 7, 50})
                    check_against_reference(gemm, Case{ta, tb, m, 37, 300, alpha, beta, 2});
}

BOOST_AUTO_TEST_CASE(beta_zero_ignores_nan_in_c) {
    ThreadPool pool(2);
    Gemm gemm(pool);
    for (bool ta : {false, true})
        for (bool tb : {false, true})
            for (int64_t m : {1, 5, 70})
                for (int64_t n : {1, 9, 100}) {
                    Case t{ta, tb, m, n, 20, 1.0f, 0.0f};
                    Operands o(t, 3);
                    std::vector<float> c(o.c.size(), std::numeric_limits<float>::quiet_NaN());
                    run(gemm, t, o, c);
                    bool finite = true;
                    for (float x : c) finite = finite && std::isfinite(x);
                    BOOST_TEST(finite, "ta=" << ta << " tb=" << tb << " m=" << m << " n=" << n);
                }
    float c = std::numeric_limits<float>::quiet_NaN();
    const float a = 1.0f, b = 1.0f;
    gemm(false, false, 1, 1, 0, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1);  // k = 0: C = beta·C = 0
    BOOST_TEST(c == 0.0f);
}

// Each element of C is computed by the same sequence of operations whichever thread computes it,
// so results are bit-identical between runs and across thread counts.
BOOST_AUTO_TEST_CASE(deterministic_across_runs_and_thread_counts) {
    const Case cases[] = {{false, false, 300, 500, 700}, {true, true, 97, 2100, 300}, {false, true, 1, 300, 500},
                          {false, true, 500, 13, 300},   {true, false, 33, 5000, 9},  {false, false, 4, 64, 10000}};
    ThreadPool pool1(1), pool2(2), pool3(3);
    Gemm gemm1(pool1), gemm2(pool2), gemm3(pool3);
    for (Case t : cases) {
        BOOST_TEST_CONTEXT("m=" << t.m << " n=" << t.n << " k=" << t.k) {
            t.beta = 0.5f;
            Operands o(t, 11);
            std::vector<float> c1 = o.c, c2 = o.c, c2again = o.c, c3 = o.c;
            run(gemm1, t, o, c1);
            run(gemm2, t, o, c2);
            run(gemm2, t, o, c2again);
            run(gemm3, t, o, c3);
            BOOST_TEST(std::memcmp(c2.data(), c2again.data(), c2.size() * sizeof(float)) == 0);
            BOOST_TEST(std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float)) == 0);
            BOOST_TEST(std::memcmp(c1.data(), c3.data(), c1.size() * sizeof(float)) == 0);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_call_allocates_nothing) {
    ThreadPool pool(2);
    Gemm gemm(pool);
    const Case cases[] = {{false, false, 300, 500, 700}, {true, true, 64, 3000, 300}, {false, true, 1, 128, 784},
                          {false, true, 500, 10, 64},     {false, false, 3, 3, 3},     {false, false, 5, 5, 0}};
    for (const Case& t : cases) {
        Operands o(t, 5);
        std::vector<float> c = o.c;
        const long before = kiln::testing::allocations();
        run(gemm, t, o, c);
        BOOST_TEST(kiln::testing::allocations() - before == 0, "m=" << t.m << " n=" << t.n << " k=" << t.k);
    }
}
