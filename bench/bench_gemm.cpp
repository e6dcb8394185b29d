// bench-gemm: GFLOP/s of kiln::cpu::Gemm on the shapes kiln's layers produce, with 1 and 2
// threads (or those given: bench-gemm 1 2 4). Each figure is the median of 7 timings, each timing
// averaging enough calls to last ≥ 20 ms. The first line measures the machine's FMA peak with the
// same SIMD width, so the figures can be read as a fraction of it.
//   bench-gemm --peak    only that line (bench/models_vs_peers.py reads it)
//   bench-gemm --smoke   every shape once, timed over ~1 ms (CI: the program still runs)
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "kiln/backend/cpu/gemm.h"

using Clock = std::chrono::steady_clock;

namespace {

struct Shape {
    const char* what;
    bool trans_a, trans_b;
    int64_t m, n, k;
};

const Shape shapes[] = {
    {"square", false, false, 64, 64, 64},
    {"square", false, false, 128, 128, 128},
    {"square", false, false, 256, 256, 256},
    {"square", false, false, 512, 512, 512},
    {"square", false, false, 1024, 1024, 1024},
    {"square", false, false, 2048, 2048, 2048},
    {"square A^T B^T", true, true, 1024, 1024, 1024},
    {"linear fwd x.W^T, batch 1", false, true, 1, 128, 784},
    {"linear fwd x.W^T, batch 1", false, true, 1, 120, 400},
    {"linear fwd x.W^T", false, true, 64, 128, 784},
    {"linear fwd x.W^T", false, true, 1024, 128, 784},
    {"linear fwd x.W^T", false, true, 1024, 10, 64},
    {"linear fwd x.W (W stored KxN)", false, false, 1024, 128, 784},
    {"linear bwd dx = dy.W", false, false, 1024, 784, 128},
    {"linear bwd dW = dy^T.x", true, false, 128, 784, 1024},
    {"conv fwd W.cols", false, false, 6, 50176, 25},
    {"conv fwd W.cols", false, false, 16, 6400, 150},
    {"conv fwd W.cols", false, false, 32, 100352, 9},
    {"conv fwd W.cols", false, false, 32, 12544, 288},
    {"conv fwd W.cols", false, false, 64, 3136, 576},
    {"conv bwd dW = dy.cols^T", false, true, 32, 288, 12544},
    {"conv bwd dcols = W^T.dy", true, false, 288, 12544, 32},
    // One image of the course's CNNs (kiln's conv kernels run these on one thread each):
    {"tinyvgg conv 10→10 @28², W.col", false, false, 10, 784, 90},
    {"tinyvgg conv 10→10 @14², W.col", false, false, 10, 196, 90},
    {"tinyvgg dW = dy.colᵀ @28²", false, true, 10, 90, 784},
    {"resnet conv 16→16 @28², W.col", false, false, 16, 784, 144},
    {"resnet conv 32→32 @14², W.col", false, false, 32, 196, 288},
    {"resnet conv 64→64 @7², W.col", false, false, 64, 49, 576},
    {"resnet dW = dy.colᵀ 16 @28²", false, true, 16, 144, 784},
    {"resnet dW = dy.colᵀ 64 @7²", false, true, 64, 576, 49},
    {"tinyvgg dW = dy.colT @28²", false, false, 10, 90, 784},
    {"resnet dW = dy.colT 16 @28²", false, false, 16, 144, 784},
    {"resnet dW = dy.colT 64 @7²", false, false, 64, 576, 49},
};

bool smoke = false;

template <class F> double median_seconds_per_call(F&& call) {
    call();
    int64_t calls = 1;
    for (;;) {  // find a call count that lasts ≥ 20 ms
        auto t0 = Clock::now();
        for (int64_t i = 0; i < calls; ++i) call();
        if (std::chrono::duration<double>(Clock::now() - t0).count() >= (smoke ? 0.001 : 0.02)) break;
        calls *= 2;
    }
    std::vector<double> samples;
    for (int rep = 0; rep < (smoke ? 1 : 7); ++rep) {
        auto t0 = Clock::now();
        for (int64_t i = 0; i < calls; ++i) call();
        samples.push_back(std::chrono::duration<double>(Clock::now() - t0).count() / calls);
    }
    std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
    return samples[samples.size() / 2];
}

// Independent FMA chains in registers: the most this core can do at this SIMD width.
double peak_gflops() {
    using V = xsimd::batch<float>;
    constexpr int chains = 12;
    V acc[chains];
    for (int i = 0; i < chains; ++i) acc[i] = V(float(i));
    volatile float seed = 0.999f;  // opaque, so x and y stay in registers (not memory operands)
    const V x(seed), y(seed * 0.001f);
    const int64_t steps = smoke ? 1 << 12 : 1 << 22;
    double s = median_seconds_per_call([&] {
        for (int64_t n = 0; n < steps; ++n)
            for (int i = 0; i < chains; ++i) acc[i] = xsimd::fma(acc[i], x, y);
        asm volatile("" : : "g"(&acc) : "memory");
    });
    return 2.0 * chains * V::size * steps / s * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<int> thread_counts;
    bool peak_only = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--peak")) peak_only = true;
        else if (!std::strcmp(argv[i], "--smoke")) smoke = true;
        else thread_counts.push_back(std::atoi(argv[i]));
    }
    if (thread_counts.empty()) thread_counts = {1, 2};

    std::printf("FMA peak, one thread: %.1f GFLOP/s (%d-lane %s)\n", peak_gflops(),
                int(xsimd::batch<float>::size), xsimd::default_arch::name());
    if (peak_only) return 0;
    std::printf("%-32s %5s %5s %6s %6s", "shape (op(A) MxK, op(B) KxN)", "tA tB", "M", "N", "K");
    for (int t : thread_counts) std::printf("  %2d thr GF/s", t);
    std::printf("\n");

    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (const Shape& s : shapes) {
        std::vector<float> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n);
        for (float& x : a) x = dist(rng);
        for (float& x : b) x = dist(rng);
        const int64_t lda = s.trans_a ? s.m : s.k, ldb = s.trans_b ? s.k : s.n;
        std::printf("%-32s %2d %2d %5lld %6lld %6lld", s.what, s.trans_a, s.trans_b, (long long)s.m,
                    (long long)s.n, (long long)s.k);
        for (int t : thread_counts) {
            kiln::ThreadPool pool(t);
            kiln::cpu::Gemm gemm(pool);
            double sec = median_seconds_per_call([&] {
                gemm(s.trans_a, s.trans_b, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f,
                     c.data(), s.n);
            });
            std::printf("  %11.1f", 2.0 * s.m * s.n * s.k / sec * 1e-9);
        }
        std::printf("\n");
        std::fflush(stdout);
    }
}
