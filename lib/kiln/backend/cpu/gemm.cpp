// Single-precision GEMM. How the fast path works (GotoBLAS/BLIS blocking):
//
//   for each NC-wide block of C's columns          (B panel, kept in L3)
//     for each KC-deep slice of the contraction    (pack op(B)[KC × NC] into NR-wide strips)
//       for each MC-tall block of C's rows         (pack op(A)[MC × KC] into MR-tall strips, in L2)
//         for each NR-wide strip, MR-tall strip:   micro-kernel: an MR × NR tile of C lives in
//                                                  registers for the whole KC slice (B strip in L1)
//
// The micro-kernel does MR broadcasts and NR/W vector loads for MR·NR/W FMAs per step of k, which is
// what lets it run at the FMA units' speed. Packing puts the operands in exactly the order the
// kernel reads them, so it streams contiguous memory whatever the transposes and strides.
//
// Packing costs one pass over an operand; it is skipped where that pass would not pay for itself:
// A is used in place (through strides) when C has few columns, and op(B) in place when C has few
// rows and B is not transposed. Neither choice changes the arithmetic.
//
// Threads split C into a grid of rectangles, one per thread, each with its own packing buffers
// (allocated once, in the constructor). Every element of C is computed by the same sequence of
// operations whichever rectangle it lands in: acc = Σ fma over one KC slice in order of k, then
// c = alpha·acc + beta·c, slice after slice (beta = 1 after the first). So results are
// bit-identical for any thread count; only the problem's shape chooses the code path.
//
// One more path, "dot": when op(A) = A and op(B) = Bᵀ and C has few rows (a Linear layer x·Wᵀ at
// a small batch), each c[i][j] is a dot product of two contiguous rows, vectorised along k. This
// avoids transposing B into strips, which would cost about as much as the product itself.
#include "kiln/backend/cpu/gemm.h"

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdlib>
#include <new>
#include <utility>

namespace kiln::cpu {

namespace {

// ---- The SIMD vocabulary: xsimd's batch for the instruction set chosen at compile time, or a
// one-lane stand-in where xsimd has none (e.g. armhf without NEON).
#if defined(XSIMD_NO_SUPPORTED_ARCHITECTURE)
using Vec = float;
constexpr int W = 1;
inline Vec load(const float* p) { return *p; }
inline void store(float* p, Vec v) { *p = v; }
inline Vec fma(Vec a, Vec b, Vec c) { return a * b + c; }
inline float hsum(Vec v) { return v; }
#else
using Vec = xsimd::batch<float>;
constexpr int W = static_cast<int>(Vec::size);
inline Vec load(const float* p) { return Vec::load_unaligned(p); }
inline void store(float* p, Vec v) { v.store_unaligned(p); }
inline Vec fma(Vec a, Vec b, Vec c) { return xsimd::fma(a, b, c); }
inline float hsum(Vec v) { return xsimd::hadd(v); }
#endif

// ---- Tile and block sizes. The MR × NR tile of C takes MR·NV accumulator registers, plus NV for
// the B row and one for the broadcast A value: 6·2 + 3 = 15 of 16 registers on AVX2/SSE/armhf NEON,
// 12·2 + 3 = 27 of 32 on AVX-512 and aarch64; the one-lane stand-in takes a 4 × 4 tile.
#if defined(XSIMD_NO_SUPPORTED_ARCHITECTURE)
constexpr int MR = 4, NV = 4;
#elif XSIMD_WITH_AVX512F || XSIMD_WITH_NEON64
constexpr int MR = 12, NV = 2;
#else
constexpr int MR = 6, NV = 2;
#endif
constexpr int NR = NV * W;
// Sized in bytes, so that they suit every vector width: a B strip (KC·NR floats, 16 KiB) stays in
// half of L1 while a column of tiles passes over it; an A block (MC·KC, about 120 KiB) stays in L2;
// a B panel (KC·NC, 2 MiB per thread) in L3. With AVX2: KC = 256, MC = 120, NC = 2048.
constexpr int64_t KC = 4096 / NR;
constexpr int64_t MC = 30720 / KC / MR * MR;
constexpr int64_t NC = 524288 / KC / NR * NR;

// Below this many multiply-adds (about 30 µs on one AVX2 core) a call runs on the calling thread
// alone: waking the pool's workers takes about 5 µs, and the halves would finish little sooner.
constexpr int64_t kParallelMinFmas = 1 << 20;

// The operands of one call, as given.
struct Problem {
    bool trans_a, trans_b;
    int64_t m, n, k;
    float alpha;
    const float* a;
    int64_t lda;
    const float* b;
    int64_t ldb;
    float beta;
    float* c;
    int64_t ldc;
};

// ---- Micro-kernel: C[R × NR] = alpha · A[R × kc] · B[kc × NR] + beta · C.
// Element (r, k) of A is at a[r·a_rs + k·a_ks]: a packed strip (a_rs = 1, a_ks = MR, fixed at
// compile time when PackedA, which frees registers and address arithmetic) or A in place, either
// way round. Row k of B starts at b + k·ldb.
// The loops over r and v have constant trip counts; the unroll pragmas make sure they are fully
// unrolled, which keeps acc in registers (GCC otherwise spills the tile to the stack around the
// k loop). C is written as alpha·acc + beta·C, and not read at all when beta == 0, so that NaN
// there does not propagate (as in BLAS).
template <int R, bool PackedA>
void micro_kernel(int64_t kc, const float* a, int64_t a_rs, int64_t a_ks, const float* b, int64_t ldb,
                  float* c, int64_t ldc, float alpha, float beta) {
    if constexpr (PackedA) a_rs = 1, a_ks = MR;
    Vec acc[R][NV];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < NV; ++v) acc[r][v] = Vec(0.0f);
    for (int64_t k = 0; k < kc; ++k, a += a_ks, b += ldb) {
        Vec bv[NV];
        for (int v = 0; v < NV; ++v) bv[v] = load(b + v * W);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            const Vec ar(a[r * a_rs]);
            for (int v = 0; v < NV; ++v) acc[r][v] = fma(ar, bv[v], acc[r][v]);
        }
    }
    const Vec va(alpha), vb(beta);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < NV; ++v) {
            float* p = c + r * ldc + v * W;
            store(p, beta == 0.0f ? va * acc[r][v] : fma(va, acc[r][v], vb * load(p)));
        }
}

using MicroKernel = void (*)(int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*,
                             int64_t, float, float);
template <bool PackedA, size_t... R>
constexpr std::array<MicroKernel, MR + 1> kernel_table(std::index_sequence<R...>) {
    return {nullptr, &micro_kernel<int(R) + 1, PackedA>...};
}
// kernels[r] handles a tile of r rows (the last tile of a block may be short).
constexpr auto packed_a_kernels = kernel_table<true>(std::make_index_sequence<MR>{});
constexpr auto strided_a_kernels = kernel_table<false>(std::make_index_sequence<MR>{});

// ---- Packing. A B strip holds NR columns of op(B) for kc values of k, row after row (zero-padded
// past n); an A strip holds up to MR rows of op(A), column after column.
// Packs op(B)[k0 .. k0+kc) × [j0 .. j0+nc) as strips of NR columns, strip s at out + s·kc·NR.
void pack_b(const Problem& p, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* out) {
    if (!p.trans_b) {
        // Row by row, so B is read in its own order (the strips are written side by side).
        for (int64_t k = 0; k < kc; ++k) {
            const float* src = p.b + (k0 + k) * p.ldb + j0;
            float* dst = out + k * NR;
            int64_t j = 0;
            for (; j + NR <= nc; j += NR, dst += kc * NR)
                for (int v = 0; v < NV; ++v) store(dst + v * W, load(src + j + v * W));
            if (j < nc) {
                std::copy(src + j, src + nc, dst);
                std::fill(dst + (nc - j), dst + NR, 0.0f);
            }
        }
    } else {
        // Column j of op(B) is row j of B: read NR rows side by side, k after k.
        for (int64_t j = 0; j < nc; j += NR, out += kc * NR) {
            const int64_t nr = std::min<int64_t>(NR, nc - j);
            const float* src = p.b + (j0 + j) * p.ldb + k0;
            for (int64_t k = 0; k < kc; ++k) {
                if (nr == NR) {
                    for (int c = 0; c < NR; ++c) out[k * NR + c] = src[c * p.ldb + k];
                } else {
                    for (int c = 0; c < NR; ++c) out[k * NR + c] = c < nr ? src[c * p.ldb + k] : 0.0f;
                }
            }
        }
    }
}

void pack_a_strip(const Problem& p, int64_t i0, int64_t mr, int64_t k0, int64_t kc, float* out) {
    // A row-major A is read down MR rows at once; the constant trip count of the full-strip loop
    // lets the compiler unroll it.
    if (!p.trans_a) {
        const float* src = p.a + i0 * p.lda + k0;
        if (mr == MR) {
            for (int64_t k = 0; k < kc; ++k)
                for (int r = 0; r < MR; ++r) out[k * MR + r] = src[r * p.lda + k];
        } else {
            for (int64_t k = 0; k < kc; ++k)
                for (int64_t r = 0; r < mr; ++r) out[k * MR + r] = src[r * p.lda + k];
        }
    } else {
        const float* src = p.a + k0 * p.lda + i0;
        if (mr == MR) {
            for (int64_t k = 0; k < kc; ++k)
                for (int r = 0; r < MR; ++r) out[k * MR + r] = src[k * p.lda + r];
        } else {
            for (int64_t k = 0; k < kc; ++k)
                for (int64_t r = 0; r < mr; ++r) out[k * MR + r] = src[k * p.lda + r];
        }
    }
}

// ---- The dot path: C[RI × RJ] block = A rows i.. · (B rows j..)ᵀ, each a dot product along k.
// RI·RJ accumulators hide the FMA latency; the k % W leftovers are added after the vector sum.
template <int RI, int RJ>
void dot_block(const Problem& p, int64_t i, int64_t j) {
    const float* a = p.a + i * p.lda;
    const float* b = p.b + j * p.ldb;
    Vec acc[RI][RJ];
    for (int r = 0; r < RI; ++r)
        for (int s = 0; s < RJ; ++s) acc[r][s] = Vec(0.0f);
    int64_t k = 0;
    for (; k + W <= p.k; k += W) {
        Vec bv[RJ];
        for (int s = 0; s < RJ; ++s) bv[s] = load(b + s * p.ldb + k);
        for (int r = 0; r < RI; ++r) {
            Vec av = load(a + r * p.lda + k);
            for (int s = 0; s < RJ; ++s) acc[r][s] = fma(av, bv[s], acc[r][s]);
        }
    }
    for (int r = 0; r < RI; ++r)
        for (int s = 0; s < RJ; ++s) {
            float sum = hsum(acc[r][s]);
            for (int64_t t = k; t < p.k; ++t) sum += a[r * p.lda + t] * b[s * p.ldb + t];
            float& out = p.c[(i + r) * p.ldc + j + s];
            out = p.beta == 0.0f ? p.alpha * sum : p.alpha * sum + p.beta * out;
        }
}

// Rows of C go two (or four) at a time against four rows of B (8 or 16 accumulators); a lone row
// takes eight.
template <int RI> void dot_rows(const Problem& p, int64_t i, int64_t n0, int64_t n1) {
    constexpr int RJ = RI == 1 ? 8 : 4;
    int64_t j = n0;
    for (; j + RJ <= n1; j += RJ) dot_block<RI, RJ>(p, i, j);
    for (; j + 2 <= n1; j += 2) dot_block<RI, 2>(p, i, j);
    for (; j < n1; ++j) dot_block<RI, 1>(p, i, j);
}

void dot_rect(const Problem& p, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    int64_t i = m0;
    if constexpr (MR >= 12)  // 32 registers: four rows against four rows of B (16 accumulators)
        for (; i + 4 <= m1; i += 4) dot_rows<4>(p, i, n0, n1);
    for (; i + 2 <= m1; i += 2) dot_rows<2>(p, i, n0, n1);
    if (i < m1) dot_rows<1>(p, i, n0, n1);
}

// Packing a transposed B costs about a cycle per element of B, as much as the whole product when C
// has a single row; the dot path instead pays a horizontal sum per element of C, which is cheap
// next to a long k. (Thresholds measured with bench-gemm on AVX2.) A C of at most NR/2 columns (a
// Linear layer with 10 outputs) fills under half of every NR-wide tile, while its dot products
// along a long k fill whole vectors.
bool use_dot_path(const Problem& p) {
    return !p.trans_a && p.trans_b && (p.m < MR || (p.m < 3 * MR && p.k >= 256) || (2 * p.n <= NR && p.k >= 4 * W));
}

// c = beta·c, for k == 0 (the product adds nothing).
void scale_c(const Problem& p) {
    for (int64_t i = 0; i < p.m; ++i)
        for (int64_t j = 0; j < p.n; ++j) {
            float& out = p.c[i * p.ldc + j];
            out = p.beta == 0.0f ? 0.0f : p.beta * out;
        }
}

// The tm × tn grid (tm·tn ≤ threads) with the least work for its busiest thread, counted in cycles
// per step of k, times NR: its multiply-adds (about NR a cycle) plus packing its rows and columns
// (about one element a cycle).
std::pair<int64_t, int64_t> choose_grid(int threads, int64_t tiles_m, int64_t tiles_n, int64_t unit_m,
                                        int64_t unit_n) {
    std::pair<int64_t, int64_t> grid{1, 1};
    int64_t best = -1;
    for (int64_t tm = 1; tm <= std::min<int64_t>(threads, tiles_m); ++tm)
        for (int64_t tn = 1; tn <= std::min<int64_t>(threads / tm, tiles_n); ++tn) {
            const int64_t rows = (tiles_m + tm - 1) / tm * unit_m, cols = (tiles_n + tn - 1) / tn * unit_n;
            const int64_t cost = rows * cols + NR * (rows + cols);
            if (best < 0 || cost < best) best = cost, grid = {tm, tn};
        }
    return grid;
}

struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
};

// 64-byte aligned (a cache line), so packed strips never straddle one more line than they must.
float* aligned_floats(int64_t count) {
    const size_t bytes = (static_cast<size_t>(count) * sizeof(float) + 63) / 64 * 64;
    auto* ptr = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!ptr) throw std::bad_alloc();
    return ptr;
}

}  // namespace

struct Gemm::Impl {
    explicit Impl(ThreadPool& pool)
        : pool(pool), a_pack(aligned_floats(MC * KC * pool.size())), b_pack(aligned_floats(KC * NC * pool.size())) {}

    // Computes rows [m0, m1) × columns [n0, n1) of C with packing buffers number t.
    void rect(const Problem& p, int t, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

    ThreadPool& pool;
    std::unique_ptr<float[], FreeDeleter> a_pack;  // MC·KC floats per thread
    std::unique_ptr<float[], FreeDeleter> b_pack;  // KC·NC floats per thread
};

void Gemm::Impl::rect(const Problem& p, int t, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    float* a_buf = a_pack.get() + t * MC * KC;
    float* b_buf = b_pack.get() + t * KC * NC;
    // Packing A costs about a cycle per element and pays once its block is reused across enough
    // strips of B; in place, a transposed A is read one cache line per k, so it is packed sooner.
    // A plain B is used in place when at most two strips of A pass over it (its strip then stays
    // in L1 for the second): a conv's W·col with 16 output channels runs 1.6× faster so.
    const bool pack_a = n1 - n0 > (p.trans_a ? 4 : 32) * NR;
    const bool pack_whole_b = p.trans_b || m1 - m0 > 2 * MR;
    const auto& kernels = pack_a ? packed_a_kernels : strided_a_kernels;
    for (int64_t jc = n0; jc < n1; jc += NC) {
        const int64_t nc = std::min(NC, n1 - jc);
        for (int64_t pc = 0; pc < p.k; pc += KC) {
            const int64_t kc = std::min(KC, p.k - pc);
            const float beta = pc == 0 ? p.beta : 1.0f;
            // Packed strip jr of B sits at b_buf + jr·kc. A short last strip is packed even when
            // B is used in place, so the kernel can always read NR columns (zero-padded).
            const int64_t tail = nc % NR;
            if (pack_whole_b)
                pack_b(p, pc, kc, jc, nc, b_buf);
            else if (tail)
                pack_b(p, pc, kc, jc + nc - tail, tail, b_buf + (nc - tail) * kc);
            for (int64_t ic = m0; ic < m1; ic += MC) {
                const int64_t mc = std::min(MC, m1 - ic);
                if (pack_a)
                    for (int64_t ir = 0; ir < mc; ir += MR)
                        pack_a_strip(p, ic + ir, std::min<int64_t>(MR, mc - ir), pc, kc, a_buf + ir * kc);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    const int64_t nr = std::min<int64_t>(NR, nc - jr);
                    const bool b_packed = pack_whole_b || nr < NR;
                    const float* b = b_packed ? b_buf + jr * kc : p.b + pc * p.ldb + jc + jr;
                    const int64_t ldb = b_packed ? NR : p.ldb;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        const int64_t i = ic + ir, mr = std::min<int64_t>(MR, mc - ir);
                        const float* a = pack_a ? a_buf + ir * kc : p.trans_a ? p.a + pc * p.lda + i : p.a + i * p.lda + pc;
                        const int64_t a_rs = p.trans_a ? 1 : p.lda, a_ks = p.trans_a ? p.lda : 1;  // unused when packed
                        float* c = p.c + i * p.ldc + jc + jr;
                        if (nr == NR) {
                            kernels[mr](kc, a, a_rs, a_ks, b, ldb, c, p.ldc, p.alpha, beta);
                        } else {
                            // The tile sticks out past column n: compute it in a scratch tile.
                            float tile[MR * NR];
                            for (int64_t r = 0; r < mr; ++r) std::copy_n(c + r * p.ldc, nr, tile + r * NR);
                            kernels[mr](kc, a, a_rs, a_ks, b, ldb, tile, NR, p.alpha, beta);
                            for (int64_t r = 0; r < mr; ++r) std::copy_n(tile + r * NR, nr, c + r * p.ldc);
                        }
                    }
                }
            }
        }
    }
}

Gemm::Gemm(ThreadPool& pool) : impl_(std::make_unique<Impl>(pool)) {}
int64_t Gemm::tile_columns() { return NR; }
Gemm::~Gemm() = default;

void Gemm::operator()(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                      const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                      int64_t ldc) {
    assert(m >= 0 && n >= 0 && k >= 0);
    assert(ldc >= n && lda >= (trans_a ? m : k) && ldb >= (trans_b ? k : n));
    if (m == 0 || n == 0) return;
    const Problem p{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
    if (k == 0) return scale_c(p);

    // Split C into a grid of rectangles of whole tiles, one per thread.
    const bool dot = use_dot_path(p);
    const int64_t unit_m = dot ? 2 : MR, unit_n = dot ? 8 : NR;
    const int64_t tiles_m = (m + unit_m - 1) / unit_m, tiles_n = (n + unit_n - 1) / unit_n;
    const int threads = m * n * k < kParallelMinFmas ? 1 : impl_->pool.size();
    const std::pair<int64_t, int64_t> grid = choose_grid(threads, tiles_m, tiles_n, unit_m, unit_n);
    const int64_t tm = grid.first, tn = grid.second;
    auto work = [&](int t) {
        if (t >= tm * tn) return;
        const int64_t ti = t / tn, tj = t % tn;
        const int64_t m0 = std::min(m, tiles_m * ti / tm * unit_m), m1 = std::min(m, tiles_m * (ti + 1) / tm * unit_m);
        const int64_t n0 = std::min(n, tiles_n * tj / tn * unit_n), n1 = std::min(n, tiles_n * (tj + 1) / tn * unit_n);
        if (dot)
            dot_rect(p, m0, m1, n0, n1);
        else
            impl_->rect(p, t, m0, m1, n0, n1);
    };
    if (tm * tn == 1)
        work(0);
    else
        impl_->pool.run(work);
}

void Gemm::serial(int thread, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    assert(m >= 0 && n >= 0 && k >= 0 && thread >= 0 && thread < impl_->pool.size());
    assert(ldc >= n && lda >= (trans_a ? m : k) && ldb >= (trans_b ? k : n));
    if (m == 0 || n == 0) return;
    const Problem p{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
    if (k == 0) return scale_c(p);
    if (use_dot_path(p))
        dot_rect(p, 0, m, 0, n);
    else
        impl_->rect(p, thread, 0, m, 0, n);
}

}  // namespace kiln::cpu
