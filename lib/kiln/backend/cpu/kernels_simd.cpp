// The fast kernel table and the scratch its kernels need. The kernels themselves are in simd/, one
// file per op family (simd/common.h says what they promise and what they share):
//   elementwise.cpp  binary ops, scale, activations and their gradients, dropout, sum_to, expand
//   softmax.cpp      softmax, log_softmax, cross_entropy_grad
//   optim.cpp        sgd_update, adam_update
//   matmul_conv.cpp  matmul, and conv2d and its gradients as im2col + GEMM (how they split work)
//   pool.cpp         max and average pooling and their gradients
//   norm.cpp         batch norm's kernels and channel_sum
//   quantized.cpp    int8: qconv2d and qlinear (VNNI, AVX2, NEON sdot or widening, plain C++: chosen at run
//                    time), qmax_pool2d, qadd, and the rest of the int8 ops threaded
// An op without a SET line here runs its reference kernel.
#include <array>

#include "kiln/backend/cpu/simd/common.h"

namespace kiln::cpu {

namespace {

static_assert(op_count == 57, "a new op: a SET line here for its fast kernel, or none to run its reference");
constexpr std::array<Kernel, op_count> make_table() {
    std::array<Kernel, op_count> t{};
#define SET(op, fn) t[static_cast<int>(Op::op)] = simd::fn
    SET(matmul, matmul); SET(add, add); SET(sub, sub); SET(mul, mul); SET(div, div); SET(scale, scale);
    SET(relu, relu); SET(relu_grad, relu_grad); SET(sigmoid, sigmoid); SET(tanh, tanh_);
    SET(sigmoid_grad, sigmoid_grad); SET(tanh_grad, tanh_grad); SET(dropout, dropout); SET(sum_to, sum_to);
    SET(softmax, softmax); SET(log_softmax, log_softmax); SET(cross_entropy_grad, cross_entropy_grad);
    SET(sgd_update, sgd_update); SET(adam_update, adam_update);
    SET(conv2d, conv2d); SET(conv2d_grad_input, conv2d_grad_input); SET(conv2d_grad_weight, conv2d_grad_weight);
    SET(max_pool2d, max_pool2d); SET(max_pool2d_grad, max_pool2d_grad); SET(avg_pool2d, avg_pool2d);
    SET(avg_pool2d_grad, avg_pool2d_grad); SET(bn_stats, bn_stats); SET(bn_apply, bn_apply);
    SET(bn_param_grad, bn_param_grad); SET(bn_input_grad, bn_input_grad); SET(channel_sum, channel_sum);
    SET(expand, expand); SET(qconv2d, qconv2d); SET(qlinear, qlinear); SET(qmax_pool2d, qmax_pool2d); SET(qadd, qadd);
    SET(qavg_pool2d, qavg_pool2d); SET(qmean, qmean); SET(quantize, quantize); SET(dequantize, dequantize); SET(qlookup, qlookup);
#undef SET
    return t;
}

}  // namespace

const std::array<Kernel, op_count> fast_kernels = make_table();

static_assert(op_count == 57, "a new op whose fast kernel needs scratch has a case here");
size_t fast_scratch_bytes(const KernelCall& c, int threads) {
    using simd::conv_forward_scratch_bytes, simd::conv_scratch_bytes, simd::grad_input_scratch_bytes;
    switch (c.op) {
    case Op::conv2d: return conv_forward_scratch_bytes(ConvGeom(c.in[0].shape, c.in[1].shape, c.attrs->conv), threads);
    case Op::conv2d_grad_input: return grad_input_scratch_bytes(ConvGeom(c.out.shape, c.in[1].shape, c.attrs->conv), threads);
    case Op::conv2d_grad_weight: return conv_scratch_bytes(ConvGeom(c.in[1].shape, c.out.shape, c.attrs->conv), threads);
    case Op::qconv2d: return simd::qconv2d_scratch_bytes(simd::int8_isa(), ConvGeom(c.in[0].shape, c.in[1].shape, c.attrs->conv), threads);
    case Op::qlinear: return simd::qlinear_scratch_bytes(simd::int8_isa(), c.in[0].shape[0], c.in[0].shape[1], c.in[1].shape[0]);
    default: return 0;
    }
}

}  // namespace kiln::cpu
