// libkiln-cuda.so: the CUDA backend. The ops themselves are ops.h (which bodies run, in which
// order) over kernels.h (what one thread computes); this file is only the device executor — one
// templated kernel that runs a body over a grid-stride loop, cuBLAS for GEMM — and the Backend
// around it: arenas in device memory, one stream (the legacy default stream, so copies and kernels
// stay in order), and CUDA errors turned into kiln::Errors that name the op. Convolutions go
// through cuDNN instead when KILN_CUDA_CONV=cudnn (cudnn_conv.h).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include <cstdlib>
#include <memory>

#include "kiln/backend/backend.h"
#ifdef KILN_HAVE_CUDNN
#include "kiln/backend/cuda/cudnn_conv.h"
#endif
#include "kiln/backend/cuda/kiln_cuda.h"
#include "kiln/backend/cuda/ops.h"
#include "kiln/core/error.h"

namespace kiln::cuda {

namespace {

template <class Body> __global__ void each_kernel(Body body, int64_t n) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) body(i);
}

std::string cuda_error(const char* what, cudaError_t err) {
    return std::string(what) + ": " + cudaGetErrorString(err) + " (" + cudaGetErrorName(err) + ")";
}

const char* cublas_error(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "cuBLAS error";
    }
}

// Runs ops.h on the device. A failed launch is recorded (the first one wins) and reported by the
// backend after the op, so kernel code never throws.
struct DeviceExecutor {
    cublasHandle_t blas = nullptr;
    std::string error;  // capacity reserved up front: recording an error does not allocate

    template <class Body> void each(int64_t n, const Body& body) {
        if (n <= 0) return;
        const Grid grid(n);
        each_kernel<<<unsigned(grid.blocks), Grid::threads>>>(body, n);
        if (cudaError_t err = cudaGetLastError(); err != cudaSuccess && error.empty()) error = cuda_error("kernel launch", err);
    }

    // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands.
    void gemm(const GemmCall& m) {
        if (m.m == 0 || m.n == 0) return;
        const float one = 1.0f;
        const cublasStatus_t s = cublasSgemmStridedBatched(
            blas, m.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, m.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, int(m.n), int(m.m), int(m.k), &one,
            m.b, int(m.ldb), m.stride_b, m.a, int(m.lda), m.stride_a, &m.beta, m.c, int(m.ldc), m.stride_c, int(m.batch));
        if (s != CUBLAS_STATUS_SUCCESS && error.empty()) error = std::string("cublasSgemmStridedBatched: ") + cublas_error(s);
    }

    void copy(void* dst, const void* src, size_t bytes) {
        if (cudaError_t err = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0); err != cudaSuccess && error.empty())
            error = cuda_error("cudaMemcpyAsync", err);
    }
};

#ifndef KILN_HAVE_CUDNN
struct CudnnConv {  // this build has no cuDNN: KILN_CUDA_CONV=cudnn is refused at creation
    static bool handles(Op) { return false; }
    size_t workspace_bytes(const KernelCall&) { return 0; }
    void run(const KernelCall&) {}
};
#endif

class CudaBackend final : public Backend {
public:
    CudaBackend(cublasHandle_t blas, void* workspace, const cudaDeviceProp& prop, std::unique_ptr<CudnnConv> cudnn)
        : workspace_(workspace), cudnn_(std::move(cudnn)) {
        exec_.blas = blas;
        exec_.error.reserve(256);
        device_ = std::string("cuda (") + prop.name + ", sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ")";
    }
    ~CudaBackend() override {
        cublasDestroy(exec_.blas);
        cudaFree(workspace_);
    }

    const char* name() const override { return "cuda"; }
    std::string description() const override { return device_; }
    bool supports(const KernelCall& c) const override { return supported(c); }
    std::span<const Op> missing_ops() const override { return cuda::missing_ops; }
    size_t scratch_bytes(const KernelCall& c) const override {
        return cudnn_ && CudnnConv::handles(c.op) ? cudnn_->workspace_bytes(c) : cuda::scratch_bytes(c);
    }
    size_t alignment() const override { return 256; }  // cudaMalloc's; keeps every tensor coalesced

    void* allocate(size_t bytes) override {
        void* p = nullptr;
        if (cudaError_t err = cudaMalloc(&p, bytes); err != cudaSuccess) {
            cudaGetLastError();
            fail(Errc::invalid_argument, device_ + ": cannot allocate " + std::to_string(bytes) + " bytes of device memory: " +
                                             cuda_error("cudaMalloc", err));
        }
        check(cudaMemset(p, 0, bytes), "cudaMemset");
        return p;
    }
    void release(void* p) override { cudaFree(p); }
    void copy_to_device(void* dst, const void* src, size_t bytes) override {
        if (bytes) check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to the device");
    }
    void copy_to_host(void* dst, const void* src, size_t bytes) override {
        if (bytes) check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to the host");
    }
    bool host_accessible() const override { return false; }

    void run(const KernelCall& call) override {
        if (cudnn_ && CudnnConv::handles(call.op)) return cudnn_->run(call);
        cuda::run(exec_, call);
        if (!exec_.error.empty()) {
            const std::string what = device_ + ": " + op_name(call.op) + ": " + exec_.error;
            exec_.error.clear();
            fail(Errc::unsupported, what);
        }
    }
    // Errors of kernels already queued surface here (an illegal address, say).
    void synchronize() override { check(cudaDeviceSynchronize(), "after the last kernels"); }

private:
    void check(cudaError_t err, const char* what) {
        if (err == cudaSuccess) return;
        cudaGetLastError();
        fail(Errc::unsupported, device_ + ": " + cuda_error(what, err));
    }

    DeviceExecutor exec_;
    void* workspace_;
    std::unique_ptr<CudnnConv> cudnn_;  // null: convolutions as im2col + cuBLAS (ops.h)
    std::string device_;
};

void say(char* reason, size_t size, const std::string& what) {
    if (reason && size > 0) std::snprintf(reason, size, "%s", what.c_str());
}

}  // namespace

}  // namespace kiln::cuda

extern "C" int kiln_cuda_device_count(char* reason, size_t reason_size) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        // cudaErrorInsufficientDriver (35) without a driver, cudaErrorNoDevice (100) without a GPU.
        kiln::cuda::say(reason, reason_size, kiln::cuda::cuda_error("cudaGetDeviceCount", err));
        cudaGetLastError();  // clear the sticky error state
        return 0;
    }
    if (count == 0) kiln::cuda::say(reason, reason_size, "cudaGetDeviceCount found 0 devices");
    return count;
}

extern "C" void* kiln_cuda_create_backend(int abi_version, int op_count, size_t kernel_call_size, char* reason,
                                          size_t reason_size, int device) {
    using namespace kiln::cuda;
    if (abi_version != KILN_CUDA_ABI_VERSION || op_count != kiln::op_count || kernel_call_size != sizeof(kiln::KernelCall)) {
        say(reason, reason_size,
            "the module was built for another kiln (ABI " + std::to_string(KILN_CUDA_ABI_VERSION) + ", " +
                std::to_string(kiln::op_count) + " ops, KernelCall of " + std::to_string(sizeof(kiln::KernelCall)) +
                " bytes; the caller has ABI " + std::to_string(abi_version) + ", " + std::to_string(op_count) + " ops, " +
                std::to_string(kernel_call_size) + " bytes)");
        return nullptr;
    }
    // KILN_CUDA_CONV: "gemm" (the default: ops.h's im2col + cuBLAS) or "cudnn".
    const char* conv_env = std::getenv("KILN_CUDA_CONV");
    const std::string conv = conv_env ? conv_env : "gemm";
    if (conv != "gemm" && conv != "cudnn") {
        say(reason, reason_size, "KILN_CUDA_CONV is '" + conv + "' (known: gemm, cudnn)");
        return nullptr;
    }
    char why[256] = "";
    const int count = kiln_cuda_device_count(why, sizeof why);
    if (count == 0) {
        say(reason, reason_size, std::string("no CUDA device is visible (") + why + ")");
        return nullptr;
    }
    if (device < 0 || device >= count) {
        say(reason, reason_size, "there is no CUDA device " + std::to_string(device) + ": " + std::to_string(count) +
                                     (count == 1 ? " device is" : " devices are") + " visible (0 to " + std::to_string(count - 1) + ")");
        return nullptr;
    }
    // The current device is the calling thread's: the backend is used from the thread that made it.
    cudaDeviceProp prop{};
    cudaError_t err;
    if ((err = cudaSetDevice(device)) != cudaSuccess || (err = cudaGetDeviceProperties(&prop, device)) != cudaSuccess) {
        say(reason, reason_size, cuda_error(("cudaSetDevice(" + std::to_string(device) + ")").c_str(), err));
        cudaGetLastError();
        return nullptr;
    }
    cublasHandle_t blas = nullptr;
    if (cublasStatus_t s = cublasCreate(&blas); s != CUBLAS_STATUS_SUCCESS) {
        say(reason, reason_size, std::string("cublasCreate: ") + cublas_error(s));
        return nullptr;
    }
    // A workspace of our own, so cuBLAS never allocates during a step, and no TF32: the results
    // stay within float rounding of the CPU reference, and the same run to run (cuBLAS is
    // deterministic for one GPU, toolkit and stream).
    constexpr size_t workspace_bytes = size_t(32) << 20;
    void* workspace = nullptr;
    if ((err = cudaMalloc(&workspace, workspace_bytes)) != cudaSuccess) {
        say(reason, reason_size, cuda_error("cudaMalloc (cuBLAS workspace)", err));
        cublasDestroy(blas);
        return nullptr;
    }
    cublasSetWorkspace(blas, workspace, workspace_bytes);
    cublasSetMathMode(blas, CUBLAS_PEDANTIC_MATH);
    cublasSetPointerMode(blas, CUBLAS_POINTER_MODE_HOST);
    std::unique_ptr<CudnnConv> cudnn;
    if (conv == "cudnn") {
#ifdef KILN_HAVE_CUDNN
        std::string why;
        cudnn = CudnnConv::create(why);
        if (!cudnn) say(reason, reason_size, "KILN_CUDA_CONV=cudnn: " + why);
#else
        say(reason, reason_size, "KILN_CUDA_CONV=cudnn: this libkiln-cuda.so was built without cuDNN");
#endif
        if (!cudnn) {
            cublasDestroy(blas);
            cudaFree(workspace);
            return nullptr;
        }
    }
    try {
        return static_cast<kiln::Backend*>(new CudaBackend(blas, workspace, prop, std::move(cudnn)));
    } catch (const std::exception& e) {
        say(reason, reason_size, e.what());
        cublasDestroy(blas);
        cudaFree(workspace);
        return nullptr;
    }
}
