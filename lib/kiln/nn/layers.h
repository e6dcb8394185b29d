// Layer builders: each adds a layer's parameters and ops to a Graph and returns its output.
// Parameters get PyTorch's state_dict names ("<name>.weight", "<name>.bias") and PyTorch's default
// initialisation drawn from g.rng(), so weights move between kiln and PyTorch through a
// safetensors file without renaming.
//
//   kiln::Graph g(42);
//   auto x = g.input("x", {800, 2});
//   auto h = g.relu(kiln::nn::linear(g, "layer_1", x, 10));
//   auto logits = kiln::nn::linear(g, "layer_2", h, 1);
#pragma once
#include <cstdint>
#include <string>

#include "kiln/graph/graph.h"

namespace kiln::nn {

// torch.nn.Linear: y = x·Wᵀ + b for x [batch, in_features]. Creates name.weight [out, in]
// (kaiming_uniform, a = sqrt(5)) and, if bias, name.bias [out] (U(±1/sqrt(in))), in that order.
Value linear(Graph& g, const std::string& name, Value x, int64_t out_features, bool bias = true);

}  // namespace kiln::nn
