// Single-precision GEMM for the CPU backend: C = alpha · op(A) · op(B) + beta · C, row-major,
// op(X) = Xᵀ when the matching trans flag is set. lda/ldb/ldc are row strides in elements.
// reference::gemm (backend/reference/kernels.h) is the readable oracle; Gemm is the fast default (cache blocking, packing,
// an xsimd micro-kernel, threads from the pool). Gemm owns its packing buffers, allocated once in
// its constructor (about 2.2 MiB per pool thread), so a call allocates nothing.
//
// Both follow BLAS on beta == 0: C's old contents are not read, so NaN there does not propagate.
// Gemm's result is bit-identical from run to run and for any pool size: each element of C is
// summed in the same order whichever thread computes it (the order depends only on the shape,
// the transposes and the instruction set compiled for). One call at a time per Gemm (its
// buffers are shared by its calls), and not from inside a task of the same pool. C must not
// overlap A or B.
#pragma once
#include <cstdint>
#include <memory>

#include "kiln/core/thread_pool.h"

namespace kiln::cpu {

class Gemm {
public:
    explicit Gemm(ThreadPool& pool);
    ~Gemm();
    Gemm(const Gemm&) = delete;
    Gemm& operator=(const Gemm&) = delete;

    void operator()(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                    int64_t ldc);
    // The same product on the calling thread alone, with the packing buffers of pool thread
    // `thread`: for kernels that split their work over the pool themselves (each task passing its
    // own index). Same arithmetic, so the same bits, as operator().
    void serial(int thread, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

    // The width of the tiles of C the micro-kernel computes (NR): a product whose column count is
    // a multiple of it has no ragged last tile, which is computed apart (a caller that chooses its
    // column counts, as the batch-1 convolution's bands, can take whole tiles).
    static int64_t tile_columns();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::cpu
