#include "kiln/backend/cuda/cudnn_conv.h"

#include <algorithm>

#include "kiln/core/error.h"

namespace kiln::cuda {

namespace {

constexpr cudnnConvolutionFwdAlgo_t fwd_algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
constexpr cudnnConvolutionBwdDataAlgo_t data_algo = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
constexpr cudnnConvolutionBwdFilterAlgo_t filter_algo = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;

void check(cudnnStatus_t s, const char* what) {
    if (s != CUDNN_STATUS_SUCCESS) fail(Errc::unsupported, std::string("cuDNN ") + what + ": " + cudnnGetErrorString(s));
}

// x, weight and y of a conv node or call, whatever its op.
struct ConvShapes {
    Shape x, w, y;
};
ConvShapes shapes_of(Op op, const Shape& out, const Shape& in0, const Shape& in1) {
    if (op == Op::conv2d) return {in0, in1, out};
    if (op == Op::conv2d_grad_input) return {out, in1, in0};
    return {in1, out, in0};  // conv2d_grad_weight: (dy, x) -> dw
}

}  // namespace

std::unique_ptr<CudnnConv> CudnnConv::create(std::string& why) {
    std::unique_ptr<CudnnConv> c(new CudnnConv());
    if (cudnnStatus_t s = cudnnCreate(&c->handle_); s != CUDNN_STATUS_SUCCESS) {
        why = std::string("cudnnCreate: ") + cudnnGetErrorString(s);
        c->handle_ = nullptr;
        return nullptr;
    }
    if (cudnnCreateTensorDescriptor(&c->x_) != CUDNN_STATUS_SUCCESS || cudnnCreateTensorDescriptor(&c->y_) != CUDNN_STATUS_SUCCESS ||
        cudnnCreateTensorDescriptor(&c->bias_) != CUDNN_STATUS_SUCCESS || cudnnCreateFilterDescriptor(&c->w_) != CUDNN_STATUS_SUCCESS ||
        cudnnCreateConvolutionDescriptor(&c->conv_) != CUDNN_STATUS_SUCCESS) {
        why = "cuDNN: cannot create descriptors";
        return nullptr;
    }
    return c;
}

CudnnConv::~CudnnConv() {
    if (conv_) cudnnDestroyConvolutionDescriptor(conv_);
    if (w_) cudnnDestroyFilterDescriptor(w_);
    if (bias_) cudnnDestroyTensorDescriptor(bias_);
    if (y_) cudnnDestroyTensorDescriptor(y_);
    if (x_) cudnnDestroyTensorDescriptor(x_);
    if (handle_) cudnnDestroy(handle_);
}

void CudnnConv::describe(const Shape& x, const Shape& w, const Shape& y, const Conv2dAttrs& a) {
    check(cudnnSetTensor4dDescriptor(x_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(x[0]), int(x[1]), int(x[2]), int(x[3])), "x");
    check(cudnnSetFilter4dDescriptor(w_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, int(w[0]), int(w[1]), int(w[2]), int(w[3])), "weight");
    check(cudnnSetTensor4dDescriptor(y_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(y[0]), int(y[1]), int(y[2]), int(y[3])), "y");
    check(cudnnSetConvolution2dDescriptor(conv_, a.pad_h, a.pad_w, a.stride_h, a.stride_w, a.dil_h, a.dil_w,
                                          CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
          "convolution");
    check(cudnnSetConvolutionMathType(conv_, CUDNN_FMA_MATH), "math type");
}

size_t CudnnConv::workspace(Op op) {
    size_t bytes = 0;
    if (op == Op::conv2d) check(cudnnGetConvolutionForwardWorkspaceSize(handle_, x_, w_, conv_, y_, fwd_algo, &bytes), "forward workspace");
    else if (op == Op::conv2d_grad_input)
        check(cudnnGetConvolutionBackwardDataWorkspaceSize(handle_, w_, y_, conv_, x_, data_algo, &bytes), "backward-data workspace");
    else check(cudnnGetConvolutionBackwardFilterWorkspaceSize(handle_, x_, y_, conv_, w_, filter_algo, &bytes), "backward-filter workspace");
    return bytes;
}

size_t CudnnConv::workspace_bytes(const KernelCall& c) {
    ConvShapes s = shapes_of(c.op, c.out.shape, c.in[0].shape, c.in[1].shape);
    describe(s.x, s.w, s.y, c.attrs->conv);
    size_t bytes = workspace(c.op);
    s.x[0] = s.y[0] = 1;
    describe(s.x, s.w, s.y, c.attrs->conv);
    return std::max(bytes, workspace(c.op));
}

void CudnnConv::run(const KernelCall& c) {
    const ConvShapes s = shapes_of(c.op, c.out.shape, c.in[0].shape, c.in[1].shape);
    describe(s.x, s.w, s.y, c.attrs->conv);
    const size_t ws = workspace(c.op);
    const float one = 1.0f, zero = 0.0f;
    if (c.op == Op::conv2d) {
        check(cudnnConvolutionForward(handle_, &one, x_, c.in[0].data, w_, c.in[1].data, conv_, fwd_algo, c.scratch, ws, &zero, y_,
                                      c.out.data),
              "forward");
        if (c.n_in > 2) {
            check(cudnnSetTensor4dDescriptor(bias_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, int(s.y[1]), 1, 1), "bias");
            check(cudnnAddTensor(handle_, &one, bias_, c.in[2].data, &one, y_, c.out.data), "bias");
        }
    } else if (c.op == Op::conv2d_grad_input) {
        check(cudnnConvolutionBackwardData(handle_, &one, w_, c.in[1].data, y_, c.in[0].data, conv_, data_algo, c.scratch, ws, &zero,
                                           x_, c.out.data),
              "backward data");
    } else {
        check(cudnnConvolutionBackwardFilter(handle_, &one, x_, c.in[1].data, y_, c.in[0].data, conv_, filter_algo, c.scratch, ws,
                                             &zero, w_, c.out.data),
              "backward filter");
    }
}

}  // namespace kiln::cuda
