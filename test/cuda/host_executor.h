// The CUDA backend's ops (lib/kiln/backend/cuda/ops.h) run on the CPU: an executor that calls
// each kernel body for every index the GPU grid would give it — blocks in reverse order, so a
// body that depends on another thread's output shows up — and the reference GEMM for cuBLAS.
// Wrapped as a Backend, it goes through the same tests as the real one.
#pragma once
#include <cstdlib>
#include <cstring>
#include <memory>

#include "kiln/backend/backend.h"
#include "kiln/backend/reference/kernels.h"
#include "kiln/backend/cuda/ops.h"

namespace kiln::testing {

struct HostExecutor {
    int64_t launches = 0;  // kernel launches a GPU would have made, GEMMs included

    template <class Body> void each(int64_t n, const Body& body) {
        ++launches;
        const cuda::Grid grid(n);
        const int64_t stride = grid.blocks * cuda::Grid::threads;
        for (int64_t b = grid.blocks - 1; b >= 0; --b)
            for (int t = 0; t < cuda::Grid::threads; ++t)
                for (int64_t i = b * cuda::Grid::threads + t; i < n; i += stride) body(i);
    }
    void gemm(const cuda::GemmCall& m) {
        ++launches;
        for (int64_t b = 0; b < m.batch; ++b)
            reference::gemm(m.trans_a, m.trans_b, m.m, m.n, m.k, 1.0f, m.a + b * m.stride_a, m.lda, m.b + b * m.stride_b,
                                            m.ldb, m.beta, m.c + b * m.stride_c, m.ldc);
    }
    void copy(void* dst, const void* src, size_t bytes) {
        ++launches;
        std::memmove(dst, src, bytes);
    }
};

// "cuda-on-host": the CUDA backend's code path with host memory and the host executor.
class CudaOnHostBackend final : public Backend {
public:
    const char* name() const override { return "cuda-on-host"; }
    bool supports(const KernelCall& c) const override { return cuda::supported(c); }
    std::span<const Op> missing_ops() const override { return cuda::missing_ops; }
    size_t scratch_bytes(const KernelCall& c) const override { return cuda::scratch_bytes(c); }
    void* allocate(size_t bytes) override { return std::aligned_alloc(alignment(), (bytes + alignment() - 1) / alignment() * alignment()); }
    void release(void* p) override { std::free(p); }
    void copy_to_device(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
    void copy_to_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
    // As on a GPU: the program must stage its inputs instead of handing out arena pointers.
    bool host_accessible() const override { return false; }
    void run(const KernelCall& call) override { cuda::run(exec, call); }

    HostExecutor exec;
};

inline std::unique_ptr<Backend> make_cuda_on_host(const BackendOptions&) { return std::make_unique<CudaOnHostBackend>(); }

}  // namespace kiln::testing
