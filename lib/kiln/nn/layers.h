// Layer builders: each adds a layer's parameters and ops to a Graph and returns its output.
// Parameters get PyTorch's state_dict names ("<name>.weight", "<name>.bias") and PyTorch's default
// initialisation drawn from g.rng(), so weights move between kiln and PyTorch through a
// safetensors file without renaming.
//
//   kiln::Graph g(42);
//   auto x = g.input("x", {800, 2});
//   auto h = g.relu(kiln::nn::linear(g, "layer_1", x, 10));
//   auto logits = kiln::nn::linear(g, "layer_2", h, 1);
//   auto c = g.relu(kiln::nn::conv2d(g, "conv_block_1.0", img, 10, {.kernel = 3, .padding = 1}));
//   auto p = kiln::nn::max_pool2d(g, c, 2);
#pragma once
#include <cstdint>
#include <string>

#include "kiln/graph/graph.h"

namespace kiln::nn {

// torch.nn.Linear: y = x·Wᵀ + b for x [batch, in_features]. Creates name.weight [out, in]
// (kaiming_uniform, a = sqrt(5)) and, if bias, name.bias [out] (U(±1/sqrt(in))), in that order.
Value linear(Graph& g, const std::string& name, Value x, int64_t out_features, bool bias = true);

// A height/width pair that an int converts to (PyTorch's `int or tuple` arguments).
struct Pair {
    int h = 0, w = 0;
    constexpr Pair(int v) : h(v), w(v) {}
    constexpr Pair(int h_, int w_) : h(h_), w(w_) {}
};
// Conv2d padding: a number (or pair) for both sides, or PyTorch's 'same' / 'valid'.
struct Padding : Pair {
    enum Mode { given, same_size, none } mode = given;
    using Pair::Pair;
    constexpr Padding(Mode m) : Pair(0), mode(m) {}
};
inline constexpr Padding same{Padding::same_size}, valid{Padding::none};

struct Conv2dOptions {
    Pair kernel = 3, stride = 1;
    Padding padding = 0;  // 'same' needs stride 1 and an even dilation·(kernel − 1)
    Pair dilation = 1;
    bool bias = true;
};
// torch.nn.Conv2d on x [N, C, H, W]: name.weight [out, C, kh, kw] (kaiming_uniform, a = sqrt(5))
// and, if bias, name.bias [out] (U(±1/sqrt(C·kh·kw))), in that order.
Value conv2d(Graph& g, const std::string& name, Value x, int64_t out_channels, Conv2dOptions o = {});

struct Pool2dOptions {
    Pair stride = 0;  // 0: the kernel size (PyTorch's default)
    Pair padding = 0;
    bool ceil_mode = false;
    bool count_include_pad = true;  // AvgPool2d only
};
Value max_pool2d(Graph& g, Value x, Pair kernel, Pool2dOptions o = {});
Value avg_pool2d(Graph& g, Value x, Pair kernel, Pool2dOptions o = {});

struct BatchNormOptions {
    float eps = 1e-5f;
    float momentum = 0.1f;
    bool cumulative = false;  // momentum=None: a cumulative moving average
    bool affine = true;
    bool track_running_stats = true;
};
// torch.nn.BatchNorm1d (x [N, C] or [N, C, L]) and BatchNorm2d (x [N, C, H, W]). State, in
// PyTorch's order: name.weight (ones), name.bias (zeros) when affine; name.running_mean (zeros),
// name.running_var (ones), name.num_batches_tracked (i64 0) when tracking running statistics.
Value batch_norm(Graph& g, const std::string& name, Value x, BatchNormOptions o = {});

}  // namespace kiln::nn
