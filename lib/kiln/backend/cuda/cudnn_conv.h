// cuDNN's convolutions for conv2d and its two gradients, the CUDA backend's alternative to its own
// im2col + cuBLAS path (ops.h), chosen with KILN_CUDA_CONV=cudnn. Fixed algorithms that cuDNN
// documents as deterministic (forward IMPLICIT_PRECOMP_GEMM, backward data and filter ALGO_1) and
// FMA math (no TF32), so results stay reproducible and within float rounding of the reference.
// Plain C++ over cuDNN's C API: compiled by the host compiler into libkiln-cuda.so.
#pragma once
#include <cudnn.h>

#include <memory>
#include <string>

#include "kiln/backend/backend.h"

namespace kiln::cuda {

class CudnnConv {
public:
    // Null, with `why`, when cuDNN cannot start.
    static std::unique_ptr<CudnnConv> create(std::string& why);
    ~CudnnConv();
    CudnnConv(const CudnnConv&) = delete;
    CudnnConv& operator=(const CudnnConv&) = delete;

    static bool handles(Op op) { return op == Op::conv2d || op == Op::conv2d_grad_input || op == Op::conv2d_grad_weight; }
    // Workspace for the call at its compiled batch and at batch 1 (the larger of the two).
    size_t workspace_bytes(const KernelCall& c);
    // Runs the op on the default stream; `scratch` holds workspace_bytes(node). Throws kiln::Error.
    void run(const KernelCall& c);

private:
    CudnnConv() = default;
    // Describes x [n, c, h, w], the filter, the convolution and y for this call's shapes.
    void describe(const Shape& x, const Shape& w, const Shape& y, const Conv2dAttrs& a);
    size_t workspace(Op op);

    cudnnHandle_t handle_ = nullptr;
    cudnnTensorDescriptor_t x_ = nullptr, y_ = nullptr, bias_ = nullptr;
    cudnnFilterDescriptor_t w_ = nullptr;
    cudnnConvolutionDescriptor_t conv_ = nullptr;
};

}  // namespace kiln::cuda
