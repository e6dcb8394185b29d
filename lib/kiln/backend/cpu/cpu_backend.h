// The CPU backend: host memory, a thread pool, and two kernel tables generated from the op list —
// the portable reference kernels (backend/reference/, the oracle every other path is tested
// against) and the fast kernels (kernels_simd.cpp: xsimd + threads), where an op without a fast
// kernel falls back to its reference.
#pragma once
#include <array>
#include <memory>

#include "kiln/backend/backend.h"
#include "kiln/backend/cpu/gemm.h"
#include "kiln/core/thread_pool.h"

namespace kiln::cpu {

struct Context {
    ThreadPool& pool;
    Gemm& gemm;
};

using Kernel = void (*)(const KernelCall&, Context&);

// One slot per op (op/op.h); nullptr where there is no fast path (its reference kernel runs).
extern const std::array<Kernel, op_count> fast_kernels;

// Scratch the fast kernel of a node needs (0 for most ops), for a pool of `threads`.
size_t fast_scratch_bytes(const KernelCall& call, int threads);

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options);

}  // namespace kiln::cpu
