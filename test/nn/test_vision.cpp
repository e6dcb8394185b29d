// Vision layers against hand-worked values and PyTorch's documented semantics: conv2d, pooling
// (output sizes, ceil_mode, count_include_pad, where the max-pool gradient goes), BatchNorm
// (the course's worked example, running statistics, eval mode, momentum=None) and state names.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <ostream>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/runtime/program.h"
#include "kiln/nn/layers.h"
#include "kiln/nn/models.h"

using namespace kiln;

namespace kiln {
std::ostream& operator<<(std::ostream& o, const Shape& s) { return o << s.str(); }
}  // namespace kiln

namespace {

std::unique_ptr<Program> run_forward(Graph& g, Value x, const std::vector<float>& xs, Value out, bool training) {
    CompileOptions o;
    o.outputs = {out};
    auto p = compile(g, o);
    p->write_input(x, xs.data(), g.shape(x)[0]);
    p->forward(g.shape(x)[0], training);
    return p;
}

std::vector<float> state(const Program& p, const std::string& name) {
    const StateEntry* e = p.find_state(name);
    BOOST_REQUIRE_MESSAGE(e, "no state entry " << name);
    std::vector<float> v(e->bytes / sizeof(float));
    p.read_state(*e, v.data());
    return v;
}

void check_close(const std::vector<float>& got, const std::vector<double>& want, double tol) {
    BOOST_REQUIRE_EQUAL(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
        BOOST_TEST(std::abs(got[i] - want[i]) <= tol, "element " << i << ": " << got[i] << " vs " << want[i]);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(vision)

BOOST_AUTO_TEST_CASE(conv2d_hand_worked) {
    // 3×3 input 1..9, a 2×2 kernel of ones and bias 0.5: each output is the sum of a 2×2 window.
    Graph g;
    Value x = g.input("x", {1, 1, 3, 3});
    Value w = g.param("w", {1, 1, 2, 2}, {1, 1, 1, 1});
    Value b = g.param("b", {1}, {0.5f});
    Value y = g.conv2d(x, w, b);
    BOOST_TEST(g.shape(y) == (Shape{1, 1, 2, 2}));
    auto p = run_forward(g, x, {1, 2, 3, 4, 5, 6, 7, 8, 9}, y, false);
    check_close(p->read(y), {12.5, 16.5, 24.5, 28.5}, 1e-6);
}

BOOST_AUTO_TEST_CASE(conv2d_output_sizes_follow_pytorch) {
    Graph g(1);
    Value x = g.input("x", {2, 3, 28, 28});
    BOOST_TEST(g.shape(nn::conv2d(g, "a", x, 6, {.kernel = 5, .padding = 2})) == (Shape{2, 6, 28, 28}));
    BOOST_TEST(g.shape(nn::conv2d(g, "b", x, 4, {.kernel = 3, .padding = nn::same})) == (Shape{2, 4, 28, 28}));
    BOOST_TEST(g.shape(nn::conv2d(g, "c", x, 4, {.kernel = 3, .padding = nn::valid})) == (Shape{2, 4, 26, 26}));
    // floor((28 + 2·1 − 2·(3−1) − 1) / 2) + 1 = 13
    BOOST_TEST(g.shape(nn::conv2d(g, "d", x, 4, {.kernel = 3, .stride = 2, .padding = 1, .dilation = 2})) == (Shape{2, 4, 13, 13}));
    BOOST_TEST(g.shape(nn::conv2d(g, "e", x, 4, {.kernel = {3, 1}, .stride = {1, 2}})) == (Shape{2, 4, 26, 14}));
    BOOST_TEST(g.node(g.find("a.weight")).shape == (Shape{6, 3, 5, 5}));
    BOOST_TEST(g.node(g.find("a.bias")).shape == (Shape{6}));
}

BOOST_AUTO_TEST_CASE(conv2d_errors_name_the_shapes) {
    Graph g(1);
    Value x = g.input("x", {2, 3, 8, 8});
    Value w = g.param("w", {4, 2, 3, 3}, {});
    try {
        g.conv2d(x, w, Value{});
        BOOST_FAIL("conv2d accepted a weight for 2 input channels on a 3-channel input");
    } catch (const Error& e) {
        BOOST_TEST(std::string(e.what()).find("[4, 2, 3, 3]") != std::string::npos, e.what());
        BOOST_TEST(std::string(e.what()).find("[2, 3, 8, 8]") != std::string::npos, e.what());
    }
    BOOST_CHECK_THROW(nn::conv2d(g, "s", x, 4, {.kernel = 3, .stride = 2, .padding = nn::same}), Error);
    BOOST_CHECK_THROW(nn::conv2d(g, "k", x, 4, {.kernel = 9}), Error);
}

BOOST_AUTO_TEST_CASE(pool_output_sizes_and_ceil_mode) {
    Graph g;
    Value x = g.input("x", {1, 1, 5, 5});
    BOOST_TEST(g.shape(nn::max_pool2d(g, x, 2)) == (Shape{1, 1, 2, 2}));
    BOOST_TEST(g.shape(nn::max_pool2d(g, x, 2, {.ceil_mode = true})) == (Shape{1, 1, 3, 3}));
    BOOST_TEST(g.shape(nn::max_pool2d(g, x, 3, {.stride = 1, .padding = 1})) == (Shape{1, 1, 5, 5}));
    // ceil_mode: ceil((6 + 2 − 3) / 2) + 1 = 4 windows where floor gives 3 ...
    Value x6 = g.input("x6", {1, 1, 6, 6});
    BOOST_TEST(g.shape(nn::avg_pool2d(g, x6, 3, {.stride = 2, .padding = 1})) == (Shape{1, 1, 3, 3}));
    BOOST_TEST(g.shape(nn::avg_pool2d(g, x6, 3, {.stride = 2, .padding = 1, .ceil_mode = true})) == (Shape{1, 1, 4, 4}));
    // ... but a last window that would start in the right padding is dropped: ceil((5 + 2 − 2) / 2)
    // + 1 = 4, and window 4 would start at 3·2 − 1 = 5, past the input, so PyTorch keeps 3.
    BOOST_TEST(g.shape(nn::max_pool2d(g, x, 2, {.padding = 1, .ceil_mode = true})) == (Shape{1, 1, 3, 3}));
    BOOST_CHECK_THROW(nn::max_pool2d(g, x, 2, {.padding = 2}), Error);  // padding > kernel / 2
}

// MaxPool2d(2, ceil_mode=True) and AvgPool2d(2, ceil_mode=True) on an odd plane: the last window
// of each row and column holds only what lies inside (PyTorch's values for 0…24; the average
// divides by the elements inside), on the fast and the reference kernels — neither reads past
// the row into the next one or past the plane.
BOOST_AUTO_TEST_CASE(pool_2x2_ceil_mode_on_an_odd_plane_stays_inside) {
    for (bool reference : {false, true}) {
        Graph g;
        Value x = g.input("x", {1, 1, 5, 5});
        Value y = nn::max_pool2d(g, x, 2, {.ceil_mode = true}), z = nn::avg_pool2d(g, x, 2, {.ceil_mode = true});
        CompileOptions o;
        o.outputs = {y, z};
        o.backend_options.reference = reference;
        auto p = compile(g, o);
        std::vector<float> xs(25);
        for (int i = 0; i < 25; ++i) xs[i] = float(i);
        p->write_input(x, xs.data(), 1);
        p->forward(1);
        const std::vector<float> max = {6, 8, 9, 16, 18, 19, 21, 23, 24}, got_max = p->read(y);
        const std::vector<float> avg = {3, 5, 6.5, 13, 15, 16.5, 20.5, 22.5, 24}, got_avg = p->read(z);
        BOOST_TEST(got_max == max, boost::test_tools::per_element());
        BOOST_TEST(got_avg == avg, boost::test_tools::per_element());
    }
}

BOOST_AUTO_TEST_CASE(max_pool_values_and_gradient_to_the_first_maximum) {
    Graph g;
    Value x = g.param("x", {1, 1, 2, 4}, {1, 3, 5, 5,
                                           3, 2, 5, 4});
    Value y = nn::max_pool2d(g, x, 2);
    CompileOptions o;
    o.loss = g.sum(g.mul(y, g.param("w", {1, 1, 1, 2}, {1, 10})));
    o.outputs = {y};
    o.gradients = {x};
    auto p = compile(g, o);
    p->train_step(1);
    check_close(p->read(y), {3, 5}, 0);
    // Ties: the first maximum in row-major order takes the gradient (3 at (0,1), 5 at (0,2)).
    check_close(p->read(p->grad(x)), {0, 1, 10, 0, 0, 0, 0, 0}, 0);
}

BOOST_AUTO_TEST_CASE(max_pool_propagates_nan_like_pytorch) {
    // A NaN wins its window (PyTorch's max pooling propagates NaN), in the 2×2 path and the general one.
    for (int kernel : {2, 3}) {
        Graph g;
        Value x = g.input("x", {1, 1, 3, 4});
        Value y = nn::max_pool2d(g, x, kernel, {.stride = kernel == 2 ? 2 : 1, .padding = kernel == 2 ? 0 : 1});
        const float nan = std::nanf("");
        auto p = run_forward(g, x, {1, nan, 5, 2, 3, 4, 6, 9, 0, 0, 0, 0}, y, false);
        std::vector<float> out = p->read(y);
        BOOST_TEST_CONTEXT("kernel " << kernel) {
            BOOST_TEST(std::isnan(out[0]));      // the window holding (0, 1)
            BOOST_TEST(!std::isnan(out.back())); // a window away from it
        }
    }
}

BOOST_AUTO_TEST_CASE(max_pool_stride1_nan_reaches_every_window_that_holds_it) {
    // MaxPool(3, stride 1, pad 1) on a plane wide enough for the vector path: a NaN at (1, 5)
    // makes exactly the outputs within one step of it NaN, and their gradient goes to it.
    Graph g;
    std::vector<float> xs(3 * 20);
    for (size_t i = 0; i < xs.size(); ++i) xs[i] = float(i % 7);
    xs[1 * 20 + 5] = std::nanf("");
    Value x = g.param("x", {1, 1, 3, 20}, xs);
    Value y = nn::max_pool2d(g, x, 3, {.stride = 1, .padding = 1});
    CompileOptions o;
    o.loss = g.sum(g.mul(y, g.param("w", {1, 1, 3, 20}, std::vector<float>(60, 1.0f))));
    o.outputs = {y};
    o.gradients = {x};
    o.backend_options.threads = 1;
    auto p = compile(g, o);
    p->train_step(1);
    const std::vector<float> out = p->read(y), dx = p->read(p->grad(x));
    for (int r = 0; r < 3; ++r)
        for (int q = 0; q < 20; ++q)
            BOOST_TEST(std::isnan(out[r * 20 + q]) == (q >= 4 && q <= 6), "output (" << r << ", " << q << ")");
    BOOST_TEST(dx[1 * 20 + 5] == 9.0f);  // all nine windows around it
}

BOOST_AUTO_TEST_CASE(avg_pool_count_include_pad) {
    Graph g;
    Value x = g.input("x", {1, 1, 3, 3});
    Value with = nn::avg_pool2d(g, x, 3, {.stride = 1, .padding = 1});
    Value without = nn::avg_pool2d(g, x, 3, {.stride = 1, .padding = 1, .count_include_pad = false});
    CompileOptions o;
    o.outputs = {with, without};
    auto p = compile(g, o);
    std::vector<float> ones(9, 1.0f);
    p->write_input(x, ones.data(), 1);
    p->forward(1);
    // A corner window holds 4 real values of the 9: 4/9 counting the padding, 1 without.
    check_close(p->read(with), {4 / 9., 6 / 9., 4 / 9., 6 / 9., 1, 6 / 9., 4 / 9., 6 / 9., 4 / 9.}, 1e-6);
    check_close(p->read(without), {1, 1, 1, 1, 1, 1, 1, 1, 1}, 1e-6);
}

BOOST_AUTO_TEST_CASE(global_avg_pool_is_the_plane_mean) {
    Graph g;
    Value x = g.input("x", {1, 2, 2, 2});
    Value y = g.global_avg_pool2d(x);
    BOOST_TEST(g.shape(y) == (Shape{1, 2}));
    auto p = run_forward(g, x, {1, 2, 3, 4, 10, 20, 30, 40}, y, false);
    check_close(p->read(y), {2.5, 25}, 1e-6);
}

BOOST_AUTO_TEST_CASE(batch_norm_course_example) {
    // The course's example: BatchNorm1d(3) on [[0,1,2],[3,4,5],[6,7,8]] in training mode.
    Graph g;
    Value x = g.input("x", {3, 3});
    Value y = nn::batch_norm(g, "bn", x);
    auto p = run_forward(g, x, {0, 1, 2, 3, 4, 5, 6, 7, 8}, y, true);
    const double z = 3 / std::sqrt(6.0 + 1e-5);  // (x − mean) / sqrt(biased var + eps), var = 6
    check_close(p->read(y), {-z, -z, -z, 0, 0, 0, z, z, z}, 1e-5);
    BOOST_TEST(std::abs(z - 1.2247) < 1e-4);
    check_close(state(*p, "bn.running_mean"), {0.3, 0.4, 0.5}, 1e-6);
    check_close(state(*p, "bn.running_var"), {0.9 + 0.1 * 9, 1.8, 1.8}, 1e-6);  // unbiased var 9
    const StateEntry* n = p->find_state("bn.num_batches_tracked");
    BOOST_REQUIRE(n);
    BOOST_TEST((n->dtype == DType::i64));
    int64_t count = 0;
    p->read_state(*n, &count);
    BOOST_TEST(count == 1);

    // Eval mode normalises with the running statistics and leaves them alone.
    std::vector<float> xs{0, 1, 2, 3, 4, 5, 6, 7, 8};
    p->write_input(x, xs.data(), 3);
    p->forward(3, false);
    std::vector<double> want;
    const double rm[] = {0.3, 0.4, 0.5};
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) want.push_back((xs[r * 3 + c] - rm[c]) / std::sqrt(1.8 + 1e-5));
    check_close(p->read(y), want, 1e-5);
    check_close(state(*p, "bn.running_mean"), {0.3, 0.4, 0.5}, 1e-6);
}

BOOST_AUTO_TEST_CASE(batch_norm_state_names_follow_pytorch) {
    Graph g;
    Value x = g.input("x", {4, 2, 3, 3});
    nn::batch_norm(g, "conv1.1", x);
    nn::batch_norm(g, "plain", x, {.affine = false, .track_running_stats = false});
    for (const char* name : {"conv1.1.weight", "conv1.1.bias", "conv1.1.running_mean", "conv1.1.running_var", "conv1.1.num_batches_tracked"})
        BOOST_TEST(bool(g.find(name)), name);
    BOOST_TEST(!g.find("plain.weight"));
    BOOST_TEST(!g.find("plain.running_mean"));
}

BOOST_AUTO_TEST_CASE(batch_norm_momentum_none_is_a_cumulative_average) {
    Graph g;
    Value x = g.input("x", {2, 1});
    Value y = nn::batch_norm(g, "bn", x, {.cumulative = true});
    CompileOptions o;
    o.outputs = {y};
    auto p = compile(g, o);
    const float a[] = {1, 3}, b[] = {10, 20};  // means 2 and 15, unbiased variances 2 and 50
    p->write_input(x, a, 2);
    p->forward(2, true);
    p->write_input(x, b, 2);
    p->forward(2, true);
    // Cumulative average of the batch statistics, starting from the initial (0, 1) replaced at once.
    check_close(state(*p, "bn.running_mean"), {(2 + 15) / 2.0}, 1e-5);
    check_close(state(*p, "bn.running_var"), {(2 + 50) / 2.0}, 1e-4);
}

BOOST_AUTO_TEST_CASE(batch_norm_without_running_stats_uses_the_batch_in_eval) {
    Graph g;
    Value x = g.input("x", {2, 1});
    Value y = nn::batch_norm(g, "bn", x, {.affine = false, .track_running_stats = false});
    auto p = run_forward(g, x, {1, 3}, y, false);
    check_close(p->read(y), {-1 / std::sqrt(1 + 1e-5), 1 / std::sqrt(1 + 1e-5)}, 1e-5);
}

BOOST_AUTO_TEST_CASE(batch_norm_trains_in_a_cnn) {
    // Conv → BN → ReLU → global pool → Linear learns to tell bright from dark images.
    Graph g(3);
    const int64_t n = 16;
    Value x = g.input("x", {n, 1, 6, 6});
    Value labels = g.input("y", {n}, DType::i64);
    Value h = g.relu(nn::batch_norm(g, "bn", nn::conv2d(g, "conv", x, 4, {.kernel = 3, .padding = 1, .bias = false})));
    Value logits = nn::linear(g, "fc", g.global_avg_pool2d(h), 2);
    CompileOptions o;
    o.loss = g.cross_entropy(logits, labels);
    o.optimizer = SGD{.lr = 0.1f, .momentum = 0.9f};
    auto p = compile(g, o);
    std::vector<float> xs(n * 36);
    std::vector<int64_t> ys(n);
    Generator rng(5);
    for (int64_t i = 0; i < n; ++i) {
        ys[i] = i % 2;
        for (int k = 0; k < 36; ++k) xs[i * 36 + k] = rng.uniform(0, 0.5f) + (ys[i] ? 0.5f : 0.0f);
    }
    auto step = [&] {  // a call consumes its inputs: write them before each
        p->write_input(x, xs.data(), n);
        p->write_input(labels, ys.data(), n);
        return p->train_step(n);
    };
    const float first = step();
    float last = first;
    for (int k = 0; k < 60; ++k) last = step();
    BOOST_TEST(last < 0.2f * first, "loss " << first << " → " << last);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(models)

namespace {
// "name shape" for every leaf of g that is a parameter or buffer, in creation order.
std::vector<std::string> state_of(const Graph& g) {
    std::vector<std::string> out;
    for (const Node& n : g.nodes())
        if (n.is_persistent()) out.push_back(n.name + " " + n.shape.str());
    return out;
}
int64_t trainable(const Graph& g) {
    int64_t count = 0;
    for (const Node& n : g.nodes())
        if (n.op == Op::param) count += n.shape.numel();
    return count;
}
}  // namespace

BOOST_AUTO_TEST_CASE(fmnist_linear_and_mlp_use_layer_stack_names) {
    Graph g;
    Value x = g.input("x", {4, 1, 28, 28});
    BOOST_TEST(g.shape(nn::fmnist_linear(g, x)) == (Shape{4, 10}));
    const std::vector<std::string> want{"layer_stack.1.weight [10, 784]", "layer_stack.1.bias [10]",
                                        "layer_stack.2.weight [10, 10]", "layer_stack.2.bias [10]"};
    BOOST_TEST(state_of(g) == want, boost::test_tools::per_element());
    Graph m;
    nn::fmnist_mlp(m, m.input("x", {4, 1, 28, 28}));
    BOOST_TEST(bool(m.find("layer_stack.3.weight")));
    BOOST_TEST(!m.find("layer_stack.2.weight"));  // index 2 is the ReLU
}

BOOST_AUTO_TEST_CASE(tinyvgg_names_and_shapes) {
    Graph g;
    Value x = g.input("x", {2, 1, 28, 28});
    BOOST_TEST(g.shape(nn::tinyvgg(g, x, 10, 10)) == (Shape{2, 10}));
    const std::vector<std::string> want{
        "conv_block_1.0.weight [10, 1, 3, 3]", "conv_block_1.0.bias [10]", "conv_block_1.2.weight [10, 10, 3, 3]",
        "conv_block_1.2.bias [10]",           "conv_block_2.0.weight [10, 10, 3, 3]", "conv_block_2.0.bias [10]",
        "conv_block_2.2.weight [10, 10, 3, 3]", "conv_block_2.2.bias [10]", "classifier.1.weight [10, 490]",
        "classifier.1.bias [10]"};
    BOOST_TEST(state_of(g) == want, boost::test_tools::per_element());
    Graph rgb;  // the course's 64×64 RGB pizza/steak/sushi version: 64 → 32 → 16
    nn::tinyvgg(rgb, rgb.input("x", {2, 3, 64, 64}), 10, 3);
    BOOST_TEST(rgb.node(rgb.find("conv_block_1.0.weight")).shape == (Shape{10, 3, 3, 3}));
    BOOST_TEST(rgb.node(rgb.find("classifier.1.weight")).shape == (Shape{3, 10 * 16 * 16}));
}

BOOST_AUTO_TEST_CASE(lenet5_names_and_shapes) {
    Graph g;
    BOOST_TEST(g.shape(nn::lenet5(g, g.input("x", {2, 1, 28, 28}))) == (Shape{2, 10}));
    BOOST_TEST(g.node(g.find("c1.weight")).shape == (Shape{6, 1, 5, 5}));
    BOOST_TEST(g.node(g.find("c2.weight")).shape == (Shape{16, 6, 5, 5}));
    BOOST_TEST(g.node(g.find("f1.weight")).shape == (Shape{120, 400}));
    BOOST_TEST(g.node(g.find("f3.bias")).shape == (Shape{10}));
    // conv 6·25+6, 16·150+16, linear 400·120+120, 120·84+84, 84·10+10
    BOOST_TEST(trainable(g) == 156 + 2416 + 48120 + 10164 + 850);
}

BOOST_AUTO_TEST_CASE(resnet_mini_names_shapes_and_state) {
    Graph g;
    BOOST_TEST(g.shape(nn::resnet_mini(g, g.input("x", {2, 1, 28, 28}))) == (Shape{2, 10}));
    BOOST_TEST(g.node(g.find("conv1.0.weight")).shape == (Shape{16, 1, 3, 3}));
    BOOST_TEST(bool(g.find("conv1.0.bias")));
    BOOST_TEST(!g.find("block1.0.conv1.0.bias"));  // the blocks' convolutions have no bias
    BOOST_TEST(!g.find("block1.0.shortcut.0.weight"));  // 16 → 16, stride 1: identity shortcut
    BOOST_TEST(g.node(g.find("block2.0.shortcut.0.weight")).shape == (Shape{32, 16, 3, 3}));
    BOOST_TEST(bool(g.find("block2.0.shortcut.0.bias")));
    BOOST_TEST(g.node(g.find("block2.0.shortcut.1.running_var")).shape == (Shape{32}));
    BOOST_TEST((g.node(g.find("block3.0.conv2.1.num_batches_tracked")).dtype == DType::i64));
    BOOST_TEST(g.node(g.find("outlayer.weight")).shape == (Shape{10, 64}));
    // Hand count: stem 160 + 32 (BN); block1 2·2304 + 2·32; block2 4608 + 9216 + (4608 + 32) + 3·64;
    // block3 18432 + 36864 + (18432 + 64) + 3·128; outlayer 650.
    BOOST_TEST(trainable(g) == 192 + 4672 + 18656 + 74176 + 650);
    BOOST_CHECK_THROW(nn::build_model(g, "resnet50", g.find("x")), Error);
}

// Issue 13's memory targets for inference at batch 1 on the CPU backend, at 1 and 2 threads: the
// planned arena within 1.1× the lower bound (the most bytes live at any step) on every course
// model; TinyVGG's ≤ 64 KiB and LeNet-5's ≤ 32 KiB, which needs convolutions without im2col.
BOOST_AUTO_TEST_CASE(batch1_inference_arenas_are_near_the_lower_bound) {
    for (const nn::BuiltinModel& m : nn::builtin_models())
        for (int threads : {1, 2}) {
            Graph g;
            CompileOptions o;
            o.outputs = {m.build(g, g.input("x", {1, 1, 28, 28}), m.hidden_units, 10)};
            o.backend_options.threads = threads;
            const MemoryPlan p = plan(g, o);
            BOOST_TEST_MESSAGE(m.name << ", " << threads << " threads: arena " << p.arena_bytes << " B, lower bound " << p.lower_bound);
            BOOST_TEST(p.arena_bytes <= p.lower_bound * 11 / 10, m.name << " at " << threads << " threads: " << p.arena_bytes << " > 1.1 × " << p.lower_bound);
            if (m.name == std::string("tinyvgg")) BOOST_TEST(p.arena_bytes <= 64u * 1024);
            if (m.name == std::string("lenet5")) BOOST_TEST(p.arena_bytes <= 32u * 1024);
        }
}

BOOST_AUTO_TEST_SUITE_END()
