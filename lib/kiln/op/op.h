// The op table: every operation a graph can hold, what kind of op it is, and its attributes.
// KILN_OPS is the single authority: the enum, op_info() (name and properties), and every kernel
// table and switch over ops come from it. A table or switch that must name every op sits beside a
// static_assert on op_count, so adding an op fails the build at each place that needs a line.
// Semantics follow PyTorch. Shapes are row-major; "batched" tensors have the batch as dim 0.
#pragma once
#include <cstdint>

#include "kiln/core/shape.h"

namespace kiln {

// What the runtime needs to know about an op, beyond its kernel (flags of a KILN_OPS row):
//   leaf        no kernel: its tensor is fed (input) or persistent (param, buffer)
//   persistent  lives in the persistent region for the program's life (params, buffers)
//   view        its output is its first input's memory reinterpreted (no kernel writes it)
//   in_place    its kernel may write its output over its first input (each output element
//               depends only on the input elements at the same index)
//   no_output   writes its inputs (optimizer steps) and has no tensor of its own
//   labels      its second input holds class indices checked against its first input's dim 1
namespace op_flags {
enum : uint8_t { none = 0, leaf = 1, persistent = 2, view = 4, in_place = 8, no_output = 16, labels = 32 };
}

// clang-format off
#define KILN_OPS(X)                                                                                  \
    /* leaves: no kernel */                                                                          \
    X(input, leaf)                          /* data fed by the user every call (dim 0 = batch) */    \
    X(param, leaf | persistent)             /* trainable persistent tensor (has a gradient) */       \
    X(buffer, leaf | persistent)            /* non-trainable persistent tensor (running stats, optimizer moments) */ \
    /* forward */                                                                                    \
    X(matmul, none)                         /* out[M,N] = op(a) · op(b); attrs.matmul.trans_a/trans_b */ \
    X(add, in_place) X(sub, in_place) X(mul, in_place) X(div, in_place) /* elementwise with numpy broadcasting */ \
    X(scale, in_place)                      /* out = x * attrs.scale.mul + attrs.scale.add */        \
    X(relu, in_place) X(sigmoid, in_place) X(tanh, in_place)                                         \
    X(softmax, none) X(log_softmax, none)   /* along attrs.axis.axis */                              \
    X(reshape, view)                        /* same elements, new shape (a view: shares its input's memory) */ \
    X(sum, none) X(mean, none)              /* over attrs.axis.axis (all axes when all == true), keepdim */ \
    X(dropout, in_place)                    /* train: zero with prob p, scale kept by 1/(1-p); eval: identity */ \
    X(l1_loss, none) X(mse_loss, none)      /* mean over all elements of |a-b|, (a-b)^2 */           \
    X(bce_with_logits, none)                /* mean of max(x,0) - x*y + log(1+exp(-|x|)) */          \
    X(cross_entropy, labels)                /* logits [N,C], labels [N] (i32/i64 class indices): mean NLL of log_softmax */ \
    /* vision (NCHW) */                                                                              \
    X(conv2d, none)                         /* (x [N,C,H,W], w [O,C,kh,kw][, b [O]]) -> [N,O,Ho,Wo]; attrs.conv */ \
    X(max_pool2d, none)                     /* x -> [N,C,Ho,Wo]; attrs.pool */                       \
    X(avg_pool2d, none)                     /* x -> [N,C,Ho,Wo]; attrs.pool (count_include_pad) */   \
    X(bn_stats, none)                       /* x [N,C,...][, running_mean, running_var, num_batches_tracked] -> [2,C]: */ \
                                            /* (mean, 1/sqrt(var+eps)); train: of the batch, updating the running stats */ \
                                            /* in place; eval with running stats: from them. attrs.bn */ \
    X(bn_apply, in_place)                   /* (x, stats[, weight, bias]) -> (x - mean) * invstd * weight + bias */ \
    X(select, view)                         /* x[attrs.select.index] along dim 0 (a view: shares its input's memory) */ \
    /* int8 inference (issue 15; no gradients): codes q of reals r = scale·(q − zero); attrs.quant */ \
    X(quantize, none)                       /* f32 x -> i8: round(x / scale) + y_zero, clamped to [lo, hi] */ \
    X(dequantize, none)                     /* i8 x -> f32: scale·(x − x_zero) */                    \
    X(qconv2d, none)                        /* (x i8 [N,C,H,W], w i8 [O,C,kh,kw], bias i32 [O], mult i32 [O,2]) -> i8; attrs.conv */ \
    X(qlinear, none)                        /* (x i8 [N,K], w i8 [O,K], bias i32 [O], mult i32 [O,2]) -> i8 [N,O] */ \
    X(qmax_pool2d, none)                    /* i8 -> i8 in the same encoding; attrs.pool */           \
    X(qavg_pool2d, none)                    /* i8 -> i8 in the same encoding (x_zero: the padding); attrs.pool */ \
    X(qadd, in_place)                       /* (a i8, b i8) of one shape -> i8: TensorFlow Lite's int8 Add */ \
    X(qmean, none)                          /* i8 [..., P] -> [...]: the mean of the last axis (global average pooling) */ \
    X(qlookup, in_place)                    /* (x i8, table i8 [256]) -> table[x + 128] (sigmoid and the like) */ \
    /* backward helpers (built by autodiff) */                                                       \
    X(relu_grad, in_place)                  /* (dy, y) -> dy * (y > 0) */                            \
    X(sigmoid_grad, in_place)               /* (dy, y) -> dy * y * (1 - y) */                        \
    X(tanh_grad, in_place)                  /* (dy, y) -> dy * (1 - y^2) */                          \
    X(softmax_grad, none)                   /* (dy, y) -> y * (dy - sum(dy * y))   along axis */     \
    X(log_softmax_grad, none)               /* (dy, y) -> dy - exp(y) * sum(dy)     along axis */    \
    X(sum_to, none)                         /* reduce a broadcast gradient back to the shape of out (sum) */ \
    X(expand, none)                         /* broadcast x to out's shape; attrs.expand.mean divides by the ratio */ \
    X(l1_loss_grad, none)                   /* (dloss, a, b) -> dloss * sign(a-b) / n */             \
    X(mse_loss_grad, none)                  /* (dloss, a, b) -> dloss * 2(a-b) / n */                \
    X(bce_with_logits_grad, none)           /* (dloss, x, y) -> dloss * (sigmoid(x) - y) / n */      \
    X(cross_entropy_grad, none)             /* (dloss, logits, labels) -> dloss * (softmax - onehot) / N */ \
    X(conv2d_grad_input, none)              /* (dy, w) -> dx */                                      \
    X(conv2d_grad_weight, none)             /* (dy, x) -> dw */                                      \
    X(channel_sum, none)                    /* dy [N,C,...] -> [C]: sum over every dim but 1 (a bias's gradient) */ \
    X(max_pool2d_grad, none)                /* (dy, x) -> dx: dy goes to the first maximum of each window */ \
    X(avg_pool2d_grad, none)                /* dy -> dx */                                           \
    X(bn_param_grad, none)                  /* (dy, x, stats) -> [2,C]: (sum dy*xhat, sum dy) = (dweight, dbias) */ \
    X(bn_input_grad, none)                  /* (dy, x, stats, param_grad[, weight]) -> dx (batch statistics) */ \
    /* optimizer steps: update persistent tensors in place, no output */                             \
    X(sgd_update, no_output)                /* (param, grad[, momentum_buffer]) */                   \
    X(adam_update, no_output)               /* (param, grad, exp_avg, exp_avg_sq) */
// clang-format on

// The most inputs any op takes (bn_input_grad: dy, x, stats, param_grad, weight).
inline constexpr int max_op_inputs = 5;

enum class Op : uint8_t {
#define KILN_OP_ENUM(name, flags) name,
    KILN_OPS(KILN_OP_ENUM)
#undef KILN_OP_ENUM
};

inline constexpr int op_count = 0
#define KILN_OP_COUNT(name, flags) +1
    KILN_OPS(KILN_OP_COUNT)
#undef KILN_OP_COUNT
    ;

struct OpInfo {
    const char* name;
    uint8_t flags;  // op_flags
    bool leaf() const { return flags & op_flags::leaf; }
    bool persistent() const { return flags & op_flags::persistent; }
    bool view() const { return flags & op_flags::view; }
    bool in_place() const { return flags & op_flags::in_place; }
    bool has_output() const { return !(flags & op_flags::no_output); }
    bool labels() const { return flags & op_flags::labels; }
};

namespace op_flags {  // the rows' flags are spelled without the namespace
inline constexpr OpInfo op_table[] = {
#define KILN_OP_ROW(name, flags) {#name, flags},
    KILN_OPS(KILN_OP_ROW)
#undef KILN_OP_ROW
};
}  // namespace op_flags
static_assert(sizeof(op_flags::op_table) / sizeof(OpInfo) == op_count, "one row per op");

constexpr const OpInfo& op_info(Op op) { return op_flags::op_table[static_cast<int>(op)]; }
constexpr const char* op_name(Op op) { return op_info(op).name; }

// Attributes, one small struct per kind of op. A node carries all of them; each op reads its own.
struct MatmulAttrs {
    bool trans_a = false, trans_b = false;
};
struct AxisAttrs {
    int axis = -1;
    bool all = false;  // reduce over every axis
    bool keepdim = false;
};
struct ScaleAttrs {
    float mul = 1.0f, add = 0.0f;
};
struct DropoutAttrs {
    float p = 0.5f;
    uint64_t salt = 0;  // distinguishes dropout layers; backward reuses the forward's salt
};
struct ExpandAttrs {
    bool mean = false;  // divide by out.numel() / x.numel() (the backward of mean)
};
struct SgdAttrs {
    float momentum = 0, dampening = 0, weight_decay = 0;
    bool nesterov = false, maximize = false;
};
struct AdamAttrs {
    float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0;
    bool decoupled = false;  // AdamW: decay the weight itself instead of adding to the gradient
    bool maximize = false;
};

// Conv2d with PyTorch's arguments; out = floor((H + 2·pad - dil·(k-1) - 1) / stride) + 1.
struct Conv2dAttrs {
    int stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1;
};
// MaxPool2d / AvgPool2d with PyTorch's arguments (stride defaults to the kernel in the builder).
struct Pool2dAttrs {
    int kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
    bool ceil_mode = false, count_include_pad = true;
};
struct BatchNormAttrs {
    float eps = 1e-5f, momentum = 0.1f;
    bool cumulative = false;  // momentum=None: running stats are the average over all batches
};
struct SelectAttrs {
    int64_t index = 0;
};
// int8 ops: zero points, the output's clamp (lo = y_zero fuses a ReLU) and per-tensor fixed-point
// multipliers M0·2^shift (backend/quant_math.h); qconv2d's and qlinear's are per output channel, in
// their mult input. quantize and dequantize use scale with y_zero or x_zero.
struct QuantAttrs {
    float scale = 1.0f;
    int32_t x_zero = 0, b_zero = 0, y_zero = 0;  // b: qadd's second input
    int32_t lo = -128, hi = 127;
    int32_t m0[3] = {0, 0, 0}, shift[3] = {0, 0, 0};  // qadd: a, b, output; qmean: [0]
};

// Output length of a convolution or pooling window sliding over `in` (PyTorch's formula; with
// ceil_mode a last window must still start inside the input or its left padding).
constexpr int64_t window_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dil, bool ceil_mode) {
    const int64_t span = in + 2 * pad - dil * (kernel - 1) - 1;
    if (span < 0) return 0;
    int64_t out = (span + (ceil_mode ? stride - 1 : 0)) / stride + 1;
    if (ceil_mode && (out - 1) * stride >= in + pad) --out;
    return out;
}

struct Attrs {
    MatmulAttrs matmul;
    AxisAttrs axis;
    ScaleAttrs scale;
    DropoutAttrs dropout;
    ExpandAttrs expand;
    SgdAttrs sgd;
    AdamAttrs adam;
    Conv2dAttrs conv;
    Pool2dAttrs pool;
    BatchNormAttrs bn;
    SelectAttrs select;
    QuantAttrs quant;
};

}  // namespace kiln
