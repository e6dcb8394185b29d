// Model description files (kiln/nn/model_file.h): the JSON twins of the course's models build the
// same state (names, shapes, initial values) as nn/models.h, descriptions survive to_json, and
// mistakes are errors naming the file and the JSON path.
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <string>

#include "kiln/core/error.h"
#include "kiln/nn/model_file.h"
#include "kiln/nn/models.h"

using namespace kiln;

namespace {

const std::string here = KILN_NN_TEST_DIR;

struct StateView {
    std::string name;
    Shape shape;
    DType dtype;
    std::vector<uint8_t> init;
    bool operator==(const StateView&) const = default;
};

std::vector<StateView> state_of(const Graph& g) {
    std::vector<StateView> s;
    for (const Node& n : g.nodes())
        if (n.is_persistent()) s.push_back({n.name, n.shape, n.dtype, n.init});
    return s;
}

// Builds a description and a built-in on the same input and seed; returns both states.
std::pair<std::vector<StateView>, std::vector<StateView>> both(const nn::ModelSpec& spec, const std::string& builtin,
                                                               Shape input) {
    Graph a(7), b(7);
    Value la = nn::build_model(a, spec, a.input("x", input), 10);
    Value lb = nn::build_model(b, builtin, b.input("x", input), 10);
    BOOST_TEST(a.shape(la).str() == b.shape(lb).str());
    return {state_of(a), state_of(b)};
}

std::string message_of(const std::string& text, const std::string& origin = "net.json", Shape input = {2, 1, 28, 28}) {
    try {
        nn::ModelSpec spec = nn::parse_model(text, origin);
        Graph g(1);
        nn::build_model(g, spec, g.input("x", input), 10);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(model_file)

BOOST_AUTO_TEST_CASE(tinyvgg_file_builds_the_builtin_state) {
    const nn::ModelSpec spec = nn::read_model_file(here + "/tinyvgg.json");
    auto [file, builtin] = both(spec, "tinyvgg", {4, 1, 28, 28});
    BOOST_TEST(file.size() == 10u);
    BOOST_TEST(file.front().name == "conv_block_1.0.weight");
    BOOST_TEST(file.back().name == "classifier.1.bias");
    BOOST_TEST((file == builtin));  // names, shapes, dtypes and initial values
}

BOOST_AUTO_TEST_CASE(resnet_mini_file_builds_the_builtin_state) {
    const nn::ModelSpec spec = nn::read_model_file(here + "/resnet_mini.json");
    auto [file, builtin] = both(spec, "resnet_mini", {2, 1, 28, 28});
    BOOST_REQUIRE_EQUAL(file.size(), builtin.size());
    for (size_t i = 0; i < file.size(); ++i) {
        BOOST_TEST_CONTEXT(builtin[i].name) {
            BOOST_TEST(file[i].name == builtin[i].name);
            BOOST_TEST(file[i].shape.str() == builtin[i].shape.str());
            BOOST_TEST((file[i] == builtin[i]));
        }
    }
    bool has_running_var = false;
    for (const StateView& s : file) has_running_var |= s.name == "block2.0.shortcut.1.running_var";
    BOOST_TEST(has_running_var);
}

BOOST_AUTO_TEST_CASE(builtins_by_name_and_json) {
    auto [named, direct] = both(nn::parse_model("lenet5", "--model"), "lenet5", {2, 1, 28, 28});
    BOOST_TEST((named == direct));
    const nn::ModelSpec wide = nn::parse_model(R"({"builtin": "fmnist_mlp", "hidden_units": 32})", "m.json");
    Graph g(1);
    nn::build_model(g, wide, g.input("x", {2, 1, 28, 28}), 10);
    BOOST_TEST(g.shape(g.find("layer_stack.1.weight")).str() == "[32, 784]");
    BOOST_TEST(g.shape(g.find("layer_stack.3.weight")).str() == "[10, 32]");
}

BOOST_AUTO_TEST_CASE(to_json_round_trip) {
    for (const char* file : {"tinyvgg.json", "resnet_mini.json"}) {
        const nn::ModelSpec spec = nn::read_model_file(here + "/" + file);
        const std::string once = nn::to_json(spec);
        const nn::ModelSpec again = nn::parse_model(once, "again");
        BOOST_TEST(nn::to_json(again) == once);
        auto [a, b] = both(again, file == std::string("tinyvgg.json") ? "tinyvgg" : "resnet_mini", {2, 1, 28, 28});
        BOOST_TEST((a == b));
    }
    nn::ModelSpec run = nn::parse_model(R"({"builtin": "tinyvgg", "hidden_units": 8})", "run");
    run.input_shape = {1, 28, 28};
    run.class_names = {"T-shirt/top", "Trouser"};
    run.eval_transforms = "normalize=mean=0.5,std=0.5";
    const nn::ModelSpec back = nn::parse_model(nn::to_json(run), "model.json");
    BOOST_TEST(back.builtin == "tinyvgg");
    BOOST_TEST(back.hidden_units == 8);
    BOOST_TEST((back.input_shape == std::vector<int64_t>{1, 28, 28}));
    BOOST_TEST((back.class_names == run.class_names));
    BOOST_TEST(back.eval_transforms == run.eval_transforms);
    BOOST_TEST(!back.input_statistics.recorded());  // none given, none written
    BOOST_TEST(!contains(nn::to_json(run), "input_statistics"));

    // The training images' statistics come back as they were written, doubles bit for bit.
    run.input_statistics = {.samples = 1000, .height = 28, .width = 28, .channels = 1, .mean = {0.2860402}, .std = {0.3530239},
                            .border = 0.0017, .brightness = {0.061, 0.583}, .contrast = {0.128, 0.462}, .border_range = {0, 0.031}};
    const std::string written = nn::to_json(run);
    BOOST_TEST(contains(written, "\"background\": \"dark\""), written);
    BOOST_TEST((nn::parse_model(written, "model.json").input_statistics == run.input_statistics));
    run.input_statistics.channels = 3, run.input_statistics.mean = {0.6, 0.5, 0.4}, run.input_statistics.std = {0.2, 0.2, 0.25};
    run.input_statistics.border = 0.8;
    BOOST_TEST(contains(nn::to_json(run), "\"background\": \"light\""));
    BOOST_TEST((nn::parse_model(nn::to_json(run), "model.json").input_statistics == run.input_statistics));
}

BOOST_AUTO_TEST_CASE(options_reach_the_layers) {
    const nn::ModelSpec spec = nn::parse_model(R"({"layers": [
        {"type": "Conv2d", "out_channels": 4, "kernel_size": [3, 5], "padding": "same", "bias": false},
        {"type": "BatchNorm2d", "momentum": null, "affine": false},
        {"type": "AvgPool2d", "kernel_size": 2, "stride": 1},
        {"type": "Dropout", "p": 0.25},
        {"type": "Flatten"},
        {"name": "head", "type": "Linear", "out_features": 3}]})", "o.json");
    Graph g(1);
    Value out = nn::build_model(g, spec, g.input("x", {2, 1, 8, 8}), 10);
    BOOST_TEST(g.shape(out).str() == "[2, 3]");  // a fixed out_features, not the class count
    BOOST_TEST(g.shape(g.find("0.weight")).str() == "[4, 1, 3, 5]");
    BOOST_TEST(!g.find("0.bias"));
    BOOST_TEST(!g.find("1.weight"));            // affine false
    BOOST_TEST(bool(g.find("1.running_mean")));
    BOOST_TEST(g.shape(g.find("head.weight")).str() == "[3, 196]");  // 4 × 7 × 7 after AvgPool(2, stride 1)
    const std::string j = nn::to_json(spec);
    BOOST_TEST(contains(j, "\"momentum\": null"));
    BOOST_TEST(contains(j, "\"padding\": \"same\""));
}

BOOST_AUTO_TEST_CASE(errors_name_the_file_and_the_path) {
    std::string m = message_of(R"({"layers": [{"type": "ReLU"}, {"type": "Conv3d"}]})");
    BOOST_TEST(contains(m, "net.json: layers[1].type: unknown layer type 'Conv3d'"), m);
    m = message_of(R"({"layers": [{"name": "b", "type": "Sequential", "layers": [{"type": "Conv2d", "out_channels": 4, "kernel_size": "3"}]}]})");
    BOOST_TEST(contains(m, "net.json: layers[0].layers[0].kernel_size: expected a positive integer or [h, w], got \"3\""), m);
    m = message_of(R"({"layers": [{"type": "Linear", "out_features": 4, "bais": false}]})");
    BOOST_TEST(contains(m, "layers[0]: unknown key 'bais'"), m);
    m = message_of(R"({"layers": [{"type": "Linear"}]})");
    BOOST_TEST(contains(m, "layers[0]: Linear needs \"out_features\""), m);
    m = message_of("{\"layers\": [\n  {\"type\": \"ReLU\",}\n]}");
    BOOST_TEST(contains(m, "net.json: not valid JSON"), m);
    m = message_of(R"({"builtin": "lenet5", "hidden_units": 3})");
    BOOST_TEST(contains(m, "unknown key 'hidden_units'"), m);
    m = message_of("vgg16", "--model");
    BOOST_TEST(contains(m, "--model: 'vgg16' is neither a JSON description nor a built-in model"), m);
    // Shape errors while building name the layer too.
    m = message_of(R"({"layers": [{"name": "f", "type": "Sequential", "layers": [{"type": "Flatten"}, {"type": "Linear", "in_features": 100, "out_features": 2}]}]})");
    BOOST_TEST(contains(m, "net.json: layers[0].layers[1] (Linear): in_features is 100 but the input [2, 784] has 784"), m);
    m = message_of(R"({"layers": [{"type": "BatchNorm2d"}]})", "net.json", {2, 784});
    BOOST_TEST(contains(m, "layers[0] (BatchNorm2d): BatchNorm2d needs [N, C, H, W], got [2, 784]"), m);
    m = message_of(R"({"layers": [{"type": "Residual", "branch": [{"type": "Conv2d", "out_channels": 3, "kernel_size": 3}]}]})");
    BOOST_TEST(contains(m, "layers[0] (Residual)"), m);  // the add of [2,3,26,26] and the input [2,1,28,28]
    BOOST_CHECK_THROW(nn::read_model_file(here + "/no-such-file.json"), Error);
}

// Sizes a hostile or mistyped file gives are refused with the file and the JSON path before
// anything is allocated for them (issue 11's cases: each once died in bad_alloc or overflowed).
BOOST_AUTO_TEST_CASE(hostile_sizes_are_refused_naming_the_field) {
    std::string m = message_of(R"({"layers": [{"type": "Conv2d", "out_channels": 4294967297, "kernel_size": 3}]})");
    BOOST_TEST(m == "net.json: layers[0].out_channels: expected an integer from 1 to 2,147,483,647, got 4294967297");
    m = message_of(R"({"layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 18446744073709551615}]})");
    BOOST_TEST(m == "net.json: layers[1].out_features: expected an integer from 1 to 2,147,483,647, got 18446744073709551615");
    m = message_of(R"({"layers": [{"type": "Conv2d", "out_channels": 2, "kernel_size": [3, 2147483648]}]})");
    BOOST_TEST(contains(m, "net.json: layers[0].kernel_size: expected a positive integer or [h, w], got [3, 2147483648]"), m);
    // Within each field's range, but the weights alone would be 8 GB.
    m = message_of(R"({"builtin": "tinyvgg", "hidden_units": 15000})");
    BOOST_TEST(m == "net.json: tinyvgg with hidden_units 15000: param 'conv_block_1.2.weight' [15000, 15000, 3, 3]: "
                    "2,025,000,000 more elements would take the model's parameters and buffers past 268,435,456 "
                    "(kiln's limit; it has 150,000 so far)");
    m = message_of(R"({"layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 2000000000}]})");
    BOOST_TEST(m == "net.json: layers[1] (Linear): param '1.weight': shape [2000000000, 784] has more than 68,719,476,736 "
                    "elements, kiln's limit");
    // A trained run's input shape: each size, and then the activations it implies.
    m = message_of(R"({"builtin": "tinyvgg", "input_shape": [1, 28, 10000000000]})");
    BOOST_TEST(m == "net.json: input_shape[2]: expected an integer from 1 to 2,147,483,647, got 10000000000");
    m = message_of(R"({"builtin": "tinyvgg", "input_shape": [1, 28, 28, 1, 1, 1]})");
    BOOST_TEST(contains(m, "net.json: input_shape: expected a list of 1 to 5 sizes"), m);
    m = message_of(R"({"builtin": "tinyvgg"})", "net.json", {1, 1, 28, 1000000000});
    BOOST_TEST(m == "net.json: tinyvgg with hidden_units 10: conv2d: the result [1, 10, 28, 1000000000] has more than "
                    "68,719,476,736 elements, kiln's limit");
    m = message_of(R"({"builtin": "tinyvgg", "class_names": ["a", 7]})");
    BOOST_TEST(m == "net.json: class_names[1]: expected a string, got 7");
    // The training images' statistics: every key there, each in its range, lists of the channels' length.
    const std::string good = R"("samples": 1000, "size": [28, 28], "channels": 1, "mean": [0.28], "std": [0.35], "background": "dark", )"
                             R"("border": 0.01, "brightness": [0.06, 0.58], "contrast": [0.13, 0.46], "border_range": [0, 0.03])";
    const auto stats = [&](const std::string& from, const std::string& to) {
        std::string s = good;
        s.replace(s.find(from), from.size(), to);
        return message_of(R"({"builtin": "tinyvgg", "input_statistics": {)" + s + "}}");
    };
    BOOST_TEST(stats("\"samples\": 1000", "\"samples\": 1000") == "(no error)");
    BOOST_TEST(stats("\"samples\": 1000, ", "") == "net.json: input_statistics: missing \"samples\"");
    BOOST_TEST(stats("\"samples\": 1000", "\"samples\": 1000, \"gamma\": 2") ==
               "net.json: input_statistics: unknown key 'gamma' (expected: samples, size, channels, mean, std, background, border, "
               "brightness, contrast, border_range)");
    BOOST_TEST(stats("[28, 28]", "[28, 10000000000]") ==
               "net.json: input_statistics.size[1]: expected an integer from 1 to 2,147,483,647, got 10000000000");
    BOOST_TEST(stats("[28, 28]", "[28]") == "net.json: input_statistics.size: expected [height, width], got [28]");
    BOOST_TEST(stats("\"channels\": 1", "\"channels\": 2") == "net.json: input_statistics.channels: expected 1 or 3, got 2");
    BOOST_TEST(stats("\"channels\": 1", "\"channels\": 3") ==
               "net.json: input_statistics.mean: expected a list of 3 numbers (one per channel), got [0.28]");
    BOOST_TEST(stats("[0.35]", "[0.75]") == "net.json: input_statistics.std[0]: expected a number in [0, 0.5], got 0.75");
    BOOST_TEST(stats("[0.28]", "[\"0.28\"]") == "net.json: input_statistics.mean[0]: expected a number in [0, 1.0], got \"0.28\"");
    BOOST_TEST(stats("\"dark\"", "\"grey\"") == "net.json: input_statistics.background: expected \"dark\" or \"light\", got \"grey\"");
    BOOST_TEST(stats("\"dark\"", "\"light\"") ==
               "net.json: input_statistics.background: \"light\" disagrees with \"border\" 0.01 (dark: below 0.5)");
    BOOST_TEST(stats("\"border\": 0.01", "\"border\": -1") == "net.json: input_statistics.border: expected a number in [0.0, 1.0], got -1");
    BOOST_TEST(stats("[0.13, 0.46]", "[0.46, 0.13]") ==
               "net.json: input_statistics.contrast: expected [low, high] with 0 ≤ low ≤ high ≤ 0.5, got [0.46, 0.13]");
    BOOST_TEST(stats("[0, 0.03]", "[0, 1e300]") ==
               "net.json: input_statistics.border_range: expected [low, high] with 0 ≤ low ≤ high ≤ 1.0, got [0, 1e+300]");
    BOOST_TEST(message_of(R"({"builtin": "tinyvgg", "input_statistics": [1]})") == "net.json: input_statistics: expected an object, got [1]");
    // A number past what a double holds is a JSON error, not an uncaught exception (found by fuzz-model-json).
    m = message_of(R"({"builtin": "tinyvgg", "hidden_units": 6666666666632E666666})");
    BOOST_TEST(contains(m, "net.json: not valid JSON: [json.exception.out_of_range.406] number overflow"), m);
    // Nesting: deep Sequentials are refused; a deeply nested value is shown cut short.
    std::string deep = R"({"type": "ReLU"})";
    for (int i = 0; i < 100; ++i) deep = R"({"type": "Sequential", "layers": [)" + deep + "]}";
    m = message_of(R"({"layers": [)" + deep + "]}");
    BOOST_TEST(contains(m, "layers nested more than 64 deep, kiln's limit"), m);
    const std::string nested = std::string(100000, '[') + std::string(100000, ']');
    m = message_of(R"({"layers": [{"type": "Dropout", "p": )" + nested + "}]}");
    BOOST_TEST(m == "net.json: layers[0].p: expected a number in [0.0, 0.999999], got [[[…]]]");
}

BOOST_AUTO_TEST_SUITE_END()
