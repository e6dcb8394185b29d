// The op table: every operation a graph can hold, with its attributes.
// The list below is the single source of truth: the enum, the name table and the kernel tables
// of every backend are generated from it (a backend's table has one slot per op).
// Semantics follow PyTorch. Shapes are row-major; "batched" tensors have the batch as dim 0.
#pragma once
#include <cstdint>

#include "kiln/core/shape.h"

namespace kiln {

// clang-format off
#define KILN_OPS(X)                                                                                  \
    /* leaves: no kernel */                                                                          \
    X(input)            /* data fed by the user every call (dim 0 = batch)                        */ \
    X(param)            /* trainable persistent tensor (has a gradient)                           */ \
    X(buffer)           /* non-trainable persistent tensor (running stats, optimizer moments)     */ \
    /* forward */                                                                                    \
    X(matmul)           /* out[M,N] = op(a) · op(b); attrs.matmul.trans_a/trans_b                  */ \
    X(add) X(sub) X(mul) X(div) /* elementwise with numpy broadcasting                            */ \
    X(scale)            /* out = x * attrs.scale.mul + attrs.scale.add                             */ \
    X(relu) X(sigmoid) X(tanh)                                                                       \
    X(softmax) X(log_softmax) /* along attrs.axis.axis                                             */ \
    X(reshape)          /* same elements, new shape (a view: shares its input's memory)            */ \
    X(sum) X(mean)      /* over attrs.axis.axis (all axes when all == true), keepdim               */ \
    X(dropout)          /* train: zero with prob p, scale kept by 1/(1-p); eval: identity          */ \
    X(l1_loss) X(mse_loss)  /* mean over all elements of |a-b|, (a-b)^2                            */ \
    X(bce_with_logits)  /* mean of max(x,0) - x*y + log(1+exp(-|x|))                               */ \
    X(cross_entropy)    /* logits [N,C], labels [N] (i32/i64 class indices): mean NLL of log_softmax*/ \
    /* backward helpers (built by autodiff) */                                                       \
    X(relu_grad)        /* (dy, y) -> dy * (y > 0)                                                 */ \
    X(sigmoid_grad)     /* (dy, y) -> dy * y * (1 - y)                                             */ \
    X(tanh_grad)        /* (dy, y) -> dy * (1 - y^2)                                               */ \
    X(softmax_grad)     /* (dy, y) -> y * (dy - sum(dy * y))   along axis                         */ \
    X(log_softmax_grad) /* (dy, y) -> dy - exp(y) * sum(dy)     along axis                         */ \
    X(sum_to)           /* reduce a broadcast gradient back to the shape of out (sum)              */ \
    X(expand)           /* broadcast x to out's shape; attrs.expand.mean divides by the ratio      */ \
    X(l1_loss_grad)     /* (dloss, a, b) -> dloss * sign(a-b) / n                                  */ \
    X(mse_loss_grad)    /* (dloss, a, b) -> dloss * 2(a-b) / n                                     */ \
    X(bce_with_logits_grad) /* (dloss, x, y) -> dloss * (sigmoid(x) - y) / n                       */ \
    X(cross_entropy_grad)   /* (dloss, logits, labels) -> dloss * (softmax - onehot) / N          */ \
    /* optimizer steps: update persistent tensors in place, no output */                            \
    X(sgd_update)       /* (param, grad[, momentum_buffer])                                        */ \
    X(adam_update)      /* (param, grad, exp_avg, exp_avg_sq)                                      */
// clang-format on

enum class Op : uint8_t {
#define KILN_OP_ENUM(name) name,
    KILN_OPS(KILN_OP_ENUM)
#undef KILN_OP_ENUM
};

inline constexpr int op_count = 0
#define KILN_OP_COUNT(name) +1
    KILN_OPS(KILN_OP_COUNT)
#undef KILN_OP_COUNT
    ;

const char* op_name(Op op);

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

struct Attrs {
    MatmulAttrs matmul;
    AxisAttrs axis;
    ScaleAttrs scale;
    DropoutAttrs dropout;
    ExpandAttrs expand;
    SgdAttrs sgd;
    AdamAttrs adam;
};

}  // namespace kiln
