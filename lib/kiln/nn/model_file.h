// Model description files: a model as JSON text, either one of the built-in models by name with
// its arguments, or a list of layers in the style of torch.nn.Sequential. Parameters get PyTorch's
// state_dict names, so a description that mirrors a PyTorch module loads that module's weights.
//
//   {"builtin": "tinyvgg", "hidden_units": 10}
//
//   {"layers": [
//     {"type": "Flatten"},
//     {"type": "Linear", "out_features": 10},                  → 1.weight, 1.bias
//     {"type": "ReLU"},
//     {"type": "Linear", "out_features": "classes"}            → 3.weight, 3.bias
//   ]}
//
// Naming: a list of layers is a Sequential; its entries are named by their index unless they
// have a "name" (as an nn.Module's attributes: "conv_block_1", "classifier"). A "Sequential"
// entry holds its own "layers"; a "Residual" entry holds a "branch" and an optional "shortcut"
// (identity when absent), both lists of children of the Residual itself, adds the two and applies
// its optional "activation" ("ReLU", "Sigmoid", "Tanh"):
//
//   {"name": "block2", "type": "Sequential", "layers": [
//     {"type": "Residual", "activation": "ReLU",
//      "branch": [{"name": "conv1", "type": "Sequential", "layers": [conv, bn, relu]},
//                 {"name": "conv2", "type": "Sequential", "layers": [conv, bn]}],
//      "shortcut": [{"name": "shortcut", "type": "Sequential", "layers": [conv, bn]}]}]}
//                                                          → block2.0.conv1.0.weight, …
// Layer types and their keys (PyTorch's argument names and defaults; in_channels, in_features and
// num_features are optional and, when given, checked against the input):
//   Conv2d        out_channels, kernel_size, stride 1, padding 0 (or "same"/"valid"), dilation 1, bias true
//   Linear        out_features (a number, or "classes": the dataset's class count), bias true
//   BatchNorm1d/2d  eps 1e-5, momentum 0.1 (null: cumulative average), affine true, track_running_stats true
//   MaxPool2d     kernel_size, stride (kernel_size), padding 0, ceil_mode false
//   AvgPool2d     the same and count_include_pad true
//   Flatten       start_dim 1            Dropout   p 0.5
//   ReLU, Sigmoid, Tanh                  GlobalAvgPool2d   [N, C, H, W] → [N, C] (AdaptiveAvgPool2d(1) + Flatten)
// Sizes given as kernel_size etc. are a number or [h, w]. An unknown type or key is an error.
//
// A trained run's model.json is itself a description: it adds "input_shape" ([C, H, W]),
// "class_names", "eval_transforms" (a pipeline, kiln/data/README.md) and "input_statistics" (what
// the training images look like, kiln/core/image_statistics.h; kiln-infer compares the images it
// predicts with them), which parse_model keeps:
//   "input_statistics": {"samples": 1000, "size": [28, 28], "channels": 1, "mean": [0.286],
//     "std": [0.353], "background": "dark", "border": 0.002, "brightness": [0.06, 0.58],
//     "contrast": [0.13, 0.46], "border_range": [0, 0.03]}
// (the three lists of two: the 1st and 99th percentile over the images). Every key is required
// and checked: sizes 1..2^31 − 1, channels 1 or 3 with a mean and std each, values in [0, 1]
// (standard deviations in [0, 0.5], their largest possible), low ≤ high, and "background" "dark"
// exactly when "border" < 0.5.
// Every error names the origin (a file name) and the JSON path of the bad entry
// ("net.json: layers[2].kernel_size: expected a positive integer or [h, w], got \"3\"").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/core/image_statistics.h"
#include "kiln/graph/graph.h"
#include "kiln/nn/layers.h"
#include "kiln/nn/models.h"

namespace kiln::nn {

struct LayerSpec {
    enum Type {
        conv2d, linear, batch_norm1d, batch_norm2d, max_pool2d, avg_pool2d, flatten, dropout,
        relu, sigmoid, tanh, global_avg_pool2d, sequential, residual,
    } type = relu;
    std::string name;  // the child's name; empty: its index in the enclosing list
    std::string path;  // its JSON path, for messages ("layers[0].layers[2]")

    int64_t out = 0;          // Conv2d out_channels, Linear out_features (0: the class count)
    int64_t in = 0;           // in_channels / in_features / num_features to check (0: not given)
    Conv2dOptions conv;       // Conv2d
    bool bias = true;         // Linear
    Pair kernel = 1;          // pooling
    Pool2dOptions pool;
    BatchNormOptions norm;
    float p = 0.5f;           // Dropout
    int start_dim = 1;        // Flatten
    std::vector<LayerSpec> layers;    // Sequential; Residual: the branch
    std::vector<LayerSpec> shortcut;  // Residual (empty: identity)
    Type activation = sequential;     // Residual: relu, sigmoid or tanh after the add; sequential: none
};

struct ModelSpec {
    std::string origin;              // where it was read from, for messages
    std::string builtin;             // a model of models.h, or empty for `layers`
    int64_t hidden_units = default_hidden_units;  // for a built-in that takes it (BuiltinModel::hidden_units)
    std::vector<LayerSpec> layers;
    // What a trained run records beside the architecture (empty in a plain description).
    std::vector<int64_t> input_shape;  // [C, H, W] (or the sample's shape)
    std::vector<std::string> class_names;
    std::string eval_transforms;
    ImageStatistics input_statistics;  // recorded() false: none (a run made before they were)
};

// Parses a description: JSON text (starting with '{'), or a built-in model's name ("tinyvgg").
// `origin` prefixes every error message. Throws Error(format) for bad JSON or entries.
ModelSpec parse_model(const std::string& json_text_or_builtin_name, const std::string& origin);
// Reads and parses a file (origin: its path).
ModelSpec read_model_file(const std::string& path);
// The description as JSON, every key written out (parse_model(to_json(s)) builds the same model).
std::string to_json(const ModelSpec& spec);

// Builds the model on x and returns its logits [N, classes]. A layer that does not fit its input
// throws Error naming the origin, the layer's JSON path and type.
Value build_model(Graph& g, const ModelSpec& spec, Value x, int64_t classes);

}  // namespace kiln::nn
