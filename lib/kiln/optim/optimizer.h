// Optimizer settings. The update itself runs inside the compiled program (ops sgd_update and
// adam_update), one per parameter, after the backward pass. Defaults and formulas are PyTorch's
// (torch.optim.SGD, Adam, AdamW). The learning rate is a per-call value (Program::set_lr), so a
// schedule changes it between steps without recompiling.
#pragma once
#include <variant>

namespace kiln {

struct SGD {
    float lr = 0.01f;
    float momentum = 0.0f;
    float dampening = 0.0f;
    float weight_decay = 0.0f;
    bool nesterov = false;  // requires momentum > 0 and dampening == 0, as in PyTorch
    bool maximize = false;
};

struct Adam {
    float lr = 0.001f;
    float beta1 = 0.9f, beta2 = 0.999f;
    float eps = 1e-8f;
    float weight_decay = 0.0f;  // L2 penalty added to the gradient
    bool maximize = false;
};

struct AdamW {
    float lr = 0.001f;
    float beta1 = 0.9f, beta2 = 0.999f;
    float eps = 1e-8f;
    float weight_decay = 0.01f;  // decoupled: param *= 1 - lr * weight_decay
    bool maximize = false;
};

// std::monostate: no optimizer (a training call computes gradients only).
using OptimizerConfig = std::variant<std::monostate, SGD, Adam, AdamW>;

}  // namespace kiln
