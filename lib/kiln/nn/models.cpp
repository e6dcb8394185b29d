#include "kiln/nn/models.h"

#include "kiln/core/error.h"
#include "kiln/nn/layers.h"

namespace kiln::nn {

namespace {

void check_images(Graph& g, Value x, const char* model) {
    if (g.shape(x).rank != 4)
        fail(Errc::shape_mismatch, std::string(model) + ": needs images [N, C, H, W], got " + g.shape(x).str());
}

Value conv_block(Graph& g, const std::string& name, Value x, int64_t hidden) {
    x = g.relu(conv2d(g, name + ".0", x, hidden, {.kernel = 3, .padding = 1}));
    x = g.relu(conv2d(g, name + ".2", x, hidden, {.kernel = 3, .padding = 1}));
    return max_pool2d(g, x, 2);
}

Value basic_block(Graph& g, const std::string& name, Value x, int64_t out_channels, int stride) {
    const Shape in = g.shape(x);
    Value h = conv2d(g, name + ".conv1.0", x, out_channels, {.kernel = 3, .stride = stride, .padding = 1, .bias = false});
    h = g.relu(batch_norm(g, name + ".conv1.1", h));
    h = conv2d(g, name + ".conv2.0", h, out_channels, {.kernel = 3, .padding = 1, .bias = false});
    h = batch_norm(g, name + ".conv2.1", h);
    Value shortcut = x;
    if (stride != 1 || in[1] != out_channels) {
        shortcut = conv2d(g, name + ".shortcut.0", x, out_channels, {.kernel = 3, .stride = stride, .padding = 1});
        shortcut = batch_norm(g, name + ".shortcut.1", shortcut);
    }
    return g.relu(g.add(h, shortcut));
}

}  // namespace

Value fmnist_linear(Graph& g, Value x, int64_t hidden_units, int64_t classes) {
    Value h = linear(g, "layer_stack.1", g.flatten(x), hidden_units);
    return linear(g, "layer_stack.2", h, classes);
}

Value fmnist_mlp(Graph& g, Value x, int64_t hidden_units, int64_t classes) {
    Value h = g.relu(linear(g, "layer_stack.1", g.flatten(x), hidden_units));
    return g.relu(linear(g, "layer_stack.3", h, classes));
}

Value tinyvgg(Graph& g, Value x, int64_t hidden_units, int64_t classes) {
    check_images(g, x, "tinyvgg");
    Value h = conv_block(g, "conv_block_1", x, hidden_units);
    h = conv_block(g, "conv_block_2", h, hidden_units);
    return linear(g, "classifier.1", g.flatten(h), classes);
}

Value lenet5(Graph& g, Value x, int64_t classes) {
    check_images(g, x, "lenet5");
    Value h = avg_pool2d(g, g.sigmoid(conv2d(g, "c1", x, 6, {.kernel = 5, .padding = 2})), 2);
    h = avg_pool2d(g, g.sigmoid(conv2d(g, "c2", h, 16, {.kernel = 5})), 2);
    h = g.sigmoid(linear(g, "f1", g.flatten(h), 120));
    h = g.sigmoid(linear(g, "f2", h, 84));
    return linear(g, "f3", h, classes);
}

Value resnet_mini(Graph& g, Value x, int64_t classes) {
    check_images(g, x, "resnet_mini");
    Value h = conv2d(g, "conv1.0", x, 16, {.kernel = 3, .padding = 1});
    h = g.relu(batch_norm(g, "conv1.1", h));
    h = max_pool2d(g, h, 3, {.stride = 1, .padding = 1});
    h = basic_block(g, "block1.0", h, 16, 1);
    h = basic_block(g, "block2.0", h, 32, 2);
    h = basic_block(g, "block3.0", h, 64, 2);
    return linear(g, "outlayer", g.global_avg_pool2d(h), classes);
}

namespace {

Value lenet5_of(Graph& g, Value x, int64_t, int64_t classes) { return lenet5(g, x, classes); }
Value resnet_mini_of(Graph& g, Value x, int64_t, int64_t classes) { return resnet_mini(g, x, classes); }

const BuiltinModel builtins[] = {
    {"fmnist_linear", "flatten, Linear(hidden), Linear(classes)", default_hidden_units, fmnist_linear},
    {"fmnist_mlp", "flatten, Linear(hidden), ReLU, Linear(classes), ReLU", default_hidden_units, fmnist_mlp},
    {"tinyvgg", "TinyVGG: two blocks of 3x3 convolutions and max pooling, then Linear", default_hidden_units, tinyvgg},
    {"lenet5", "LeNet-5: 5x5 convolutions, sigmoid, average pooling, three linear layers", 0, lenet5_of},
    {"resnet_mini", "a small ResNet: three basic blocks with BatchNorm (16, 32, 64 channels)", 0, resnet_mini_of},
};

}  // namespace

std::span<const BuiltinModel> builtin_models() { return builtins; }

const BuiltinModel* find_builtin_model(const std::string& name) {
    for (const BuiltinModel& m : builtins)
        if (name == m.name) return &m;
    return nullptr;
}

std::string builtin_model_names(bool (*which)(const BuiltinModel&)) {
    std::string names;
    for (const BuiltinModel& m : builtins)
        if (!which || which(m)) names += (names.empty() ? "" : ", ") + std::string(m.name);
    return names;
}

Value build_model(Graph& g, const std::string& name, Value x, int64_t classes, int64_t hidden_units) {
    const BuiltinModel* m = find_builtin_model(name);
    if (!m) fail(Errc::invalid_argument, "unknown model '" + name + "' (known: " + builtin_model_names() + ")");
    return m->build(g, x, hidden_units, classes);
}

}  // namespace kiln::nn
