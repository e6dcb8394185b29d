// The course's models, built from layers.h with the PyTorch state_dict names of the course's
// nn.Module definitions, so a safetensors file moves weights one to one in both directions.
// Each takes images x [N, C, H, W] (f32) and returns the logits [N, classes].
//
//   kiln::Graph g(42);
//   auto x = g.input("x", {32, 1, 28, 28});
//   auto logits = kiln::nn::tinyvgg(g, x, /*hidden_units=*/10, /*classes=*/10);
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "kiln/graph/graph.h"

namespace kiln::nn {

// The course's width of the hidden layers, for the models that take hidden_units.
inline constexpr int64_t default_hidden_units = 10;

// layer_stack = Flatten → Linear(C·H·W, hidden) → Linear(hidden, classes)
//   (layer_stack.1.weight, layer_stack.2.bias, …)
Value fmnist_linear(Graph& g, Value x, int64_t hidden_units = default_hidden_units, int64_t classes = 10);
// layer_stack = Flatten → Linear(C·H·W, hidden) → ReLU → Linear(hidden, classes) → ReLU
//   (layer_stack.1.*, layer_stack.3.*)
Value fmnist_mlp(Graph& g, Value x, int64_t hidden_units = default_hidden_units, int64_t classes = 10);
// conv_block_1, conv_block_2 = [Conv3×3 pad 1 → ReLU → Conv3×3 pad 1 → ReLU → MaxPool 2],
// classifier = Flatten → Linear(hidden·(H/4)·(W/4), classes); in_channels and the image size come
// from x (28×28 grey or 64×64 RGB in the course).
Value tinyvgg(Graph& g, Value x, int64_t hidden_units = default_hidden_units, int64_t classes = 10);
// c1 Conv(C,6,5,pad 2) → Sigmoid → p1 AvgPool 2 → c2 Conv(6,16,5) → Sigmoid → p2 AvgPool 2 →
// Flatten → f1 Linear(16·5·5,120) → Sigmoid → f2 Linear(120,84) → Sigmoid → f3 Linear(84,classes)
Value lenet5(Graph& g, Value x, int64_t classes = 10);
// conv1 = [Conv(C,16,3,pad 1), BatchNorm2d, ReLU] → maxpool MaxPool(3, stride 1, pad 1) →
// block1..3, each a sequence of one BasicBlock (16; 32 stride 2; 64 stride 2) → global average
// pool → outlayer Linear(64, classes). A BasicBlock: conv1 = [Conv3×3(stride, no bias), BN, ReLU],
// conv2 = [Conv3×3(no bias), BN], shortcut = [Conv3×3(stride, bias), BN] when the shape changes;
// out = ReLU(conv2(conv1(x)) + shortcut(x)). Names like block2.0.shortcut.1.running_var.
Value resnet_mini(Graph& g, Value x, int64_t classes = 10);

// The models above by name: the one list of them, which model files, kiln-train's --model and
// --model-arg, and the help texts read.
struct BuiltinModel {
    const char* name;
    const char* description;  // one line, for help texts
    int64_t hidden_units;     // its default hidden_units; 0: it takes none
    Value (*build)(Graph& g, Value x, int64_t hidden_units, int64_t classes);  // ignores hidden_units if it takes none

    bool takes_hidden_units() const { return hidden_units > 0; }
};
std::span<const BuiltinModel> builtin_models();
// The model of that name, or nullptr.
const BuiltinModel* find_builtin_model(const std::string& name);
// The models' names for messages, "fmnist_linear, fmnist_mlp, …"; `which` picks some of them.
std::string builtin_model_names(bool (*which)(const BuiltinModel&) = nullptr);

// Builds the model of that name; Error(invalid_argument) naming the known ones for another name.
Value build_model(Graph& g, const std::string& name, Value x, int64_t classes = 10, int64_t hidden_units = default_hidden_units);

}  // namespace kiln::nn
