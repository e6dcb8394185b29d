// The reference kernels (kernels.cpp): the oracle every other path is tested against, the CPU
// backend's fallback, and the kernels of a runtime without an OS — plain data in (a KernelCall),
// no threads, heap, exceptions or RTTI.
#pragma once
#include <array>
#include <cstdint>

#include "kiln/op/kernel_call.h"

namespace kiln::reference {

using Kernel = void (*)(const KernelCall&);

// One slot per op (op/op.h); nullptr for the leaves. No reference kernel needs scratch.
extern const std::array<Kernel, op_count> kernels;

// C = alpha · op(A) · op(B) + beta · C, row-major, op(X) = Xᵀ when its trans flag is set; lda, ldb
// and ldc are row strides. Each element sums its k products in order, in float. On beta == 0 C's
// old contents are not read (as BLAS).
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
          int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace kiln::reference
