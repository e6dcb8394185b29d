// libkiln-cuda.so: the CUDA backend's kernels behind the C entry points of kiln_cuda.h.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "kiln/backend/cuda/axpy.h"
#include "kiln/backend/cuda/kiln_cuda.h"

namespace {

__global__ void axpy_kernel(int n, float a, const float* x, float* y) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        y[i] = kiln::cuda::axpy(a, x[i], y[i]);
}

void say(char* reason, size_t size, const char* what, cudaError_t err) {
    if (reason && size > 0)
        std::snprintf(reason, size, "%s: %s (%s, %d)", what, cudaGetErrorString(err), cudaGetErrorName(err),
                      static_cast<int>(err));
}

// Frees device memory however the self-test leaves.
struct DeviceBuffer {
    float* ptr = nullptr;
    ~DeviceBuffer() {
        if (ptr) cudaFree(ptr);
    }
};

}  // namespace

extern "C" int kiln_cuda_device_count(char* reason, size_t reason_size) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        // cudaErrorInsufficientDriver (35) without a driver, cudaErrorNoDevice (100) without a GPU.
        say(reason, reason_size, "cudaGetDeviceCount", err);
        cudaGetLastError();  // clear the sticky error state
        return 0;
    }
    if (count == 0 && reason && reason_size > 0) std::snprintf(reason, reason_size, "cudaGetDeviceCount found 0 devices");
    return count;
}

extern "C" int kiln_cuda_axpy_selftest(int n, char* reason, size_t reason_size) {
    if (n <= 0) {
        if (reason && reason_size > 0) std::snprintf(reason, reason_size, "n must be positive, got %d", n);
        return -1;
    }
    if (kiln_cuda_device_count(reason, reason_size) == 0) return 1;

    const float a = 0.5f;
    std::vector<float> x(n), y(n), out(n);
    for (int i = 0; i < n; ++i) {
        x[i] = static_cast<float>(i % 97) - 48.0f;
        y[i] = static_cast<float>(i % 13) * 0.25f;
    }
    const size_t bytes = sizeof(float) * static_cast<size_t>(n);
    DeviceBuffer dx, dy;
    cudaError_t err;
    if ((err = cudaMalloc(&dx.ptr, bytes)) != cudaSuccess) return say(reason, reason_size, "cudaMalloc", err), -1;
    if ((err = cudaMalloc(&dy.ptr, bytes)) != cudaSuccess) return say(reason, reason_size, "cudaMalloc", err), -1;
    if ((err = cudaMemcpy(dx.ptr, x.data(), bytes, cudaMemcpyHostToDevice)) != cudaSuccess)
        return say(reason, reason_size, "cudaMemcpy to device", err), -1;
    if ((err = cudaMemcpy(dy.ptr, y.data(), bytes, cudaMemcpyHostToDevice)) != cudaSuccess)
        return say(reason, reason_size, "cudaMemcpy to device", err), -1;
    const int block = 256;
    const int grid = (n + block - 1) / block < 1024 ? (n + block - 1) / block : 1024;
    axpy_kernel<<<grid, block>>>(n, a, dx.ptr, dy.ptr);
    if ((err = cudaGetLastError()) != cudaSuccess) return say(reason, reason_size, "axpy kernel launch", err), -1;
    if ((err = cudaMemcpy(out.data(), dy.ptr, bytes, cudaMemcpyDeviceToHost)) != cudaSuccess)
        return say(reason, reason_size, "cudaMemcpy to host (after the kernel)", err), -1;

    // The device may contract a*x + y into one FMA where the host rounds twice: allow one rounding.
    for (int i = 0; i < n; ++i) {
        const float ref = kiln::cuda::axpy(a, x[i], y[i]);
        if (std::fabs(out[i] - ref) > 1e-6f * std::fabs(ref) + 1e-6f) {
            if (reason && reason_size > 0)
                std::snprintf(reason, reason_size, "axpy mismatch at %d: device %.9g, host %.9g", i, out[i], ref);
            return -1;
        }
    }
    if (reason && reason_size > 0) std::snprintf(reason, reason_size, "axpy on %d elements matches the host", n);
    return 0;
}
