#define BOOST_TEST_MODULE graph
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "error_of.h"
#include "kiln/core/error.h"
#include "kiln/runtime/program.h"
#include "runtime/mlp.h"

using namespace kiln;
using kiln::testing::error_of;
using kiln::testing::Mlp;
using kiln::testing::random_vec;

namespace {

}  // namespace

BOOST_AUTO_TEST_CASE(shape_errors_name_the_op_and_both_shapes) {
    Graph g;
    auto a = g.input("a", {4, 3});
    auto b = g.param("b", {5, 2}, {});
    BOOST_TEST(error_of([&] { g.matmul(a, b); }) == "matmul: shapes [4, 3] and [5, 2] do not match (3 != 5)");
    BOOST_TEST(error_of([&] { g.add(a, b); }) == "add: shapes [4, 3] and [5, 2] cannot be broadcast together");
    BOOST_TEST(error_of([&] { g.reshape(a, {5, -1}); }) == "reshape: cannot view [4, 3] as [5, -1]");
    BOOST_TEST(error_of([&] { g.reshape(a, {2, 6}); }) == "reshape: [4, 3] is batched, so [2, 6] must keep dimension 0");
    BOOST_TEST(error_of([&] { g.cross_entropy(a, g.input("f", {4})); }) ==
               "cross_entropy: labels must be class indices (i32 or i64), got f32");
    BOOST_TEST(error_of([&] { g.input("a", {1}); }) == "input: the name 'a' is already used");
    BOOST_TEST(error_of([&] { g.param("w", {2, 2}, {1.0f}); }) == "param 'w': initial data has 1 elements, shape [2, 2] needs 4");
    BOOST_TEST(error_of([&] { g.softmax(a, 2); }) == "softmax: axis 2 is out of range for shape [4, 3]");
    CompileOptions o;
    o.outputs = {a};
    o.backend = "tpu";
    BOOST_TEST(error_of([&] { compile(g, o); }) == "unknown backend 'tpu' (known: cpu, cuda)");
}

BOOST_AUTO_TEST_CASE(sizes_past_the_limits_are_refused_before_anything_is_allocated) {
    Graph g;
    g.set_max_parameters(1000);
    bool made = false;
    auto make = [&] {
        made = true;
        return std::vector<float>(1000, 0.0f);
    };
    // 10 × 101 elements do not fit a budget of 1000: init is never called.
    BOOST_TEST(error_of([&] { g.param_init("big", {10, 101}, make); }) ==
               "param 'big' [10, 101]: 1,010 more elements would take the model's parameters and buffers past 1,000 "
               "(kiln's limit; it has 0 so far)");
    BOOST_TEST(!made);
    g.param_init("fits", {10, 100}, make);
    BOOST_TEST(made);
    BOOST_TEST(g.parameter_count() == 1000);
    BOOST_TEST(error_of([&] { g.buffer("one_more", {1}, DType::f32, {}); }) ==
               "buffer 'one_more' [1]: 1 more elements would take the model's parameters and buffers past 1,000 "
               "(kiln's limit; it has 1,000 so far)");
    // Dimensions are checked one by one and their product without overflow.
    BOOST_TEST(error_of([&] { g.input("x", {1, 28, 4294967297}); }) ==
               "input 'x': dimension 2 of shape [1, 28, 4294967297] is outside 1..2,147,483,647");
    BOOST_TEST(error_of([&] { g.input("x", {1, 0}); }) == "input 'x': dimension 1 of shape [1, 0] is outside 1..2,147,483,647");
    BOOST_TEST(error_of([&] { g.input("x", {INT32_MAX, INT32_MAX, INT32_MAX}); }) ==
               "input 'x': shape [2147483647, 2147483647, 2147483647] has more than 68,719,476,736 elements, kiln's limit");
    // A result can pass the limit though its operands do not.
    Value a = g.input("a", {1 << 20, 1});
    Value b = g.input("b", {1, 1 << 20});
    BOOST_TEST(error_of([&] { g.matmul(a, b); }) ==
               "matmul: the result [1048576, 1048576] has more than 68,719,476,736 elements, kiln's limit");
    // Padding that takes a side past limits::dim.
    Graph c;
    Value img = c.input("img", {1, 1, 8, 8});
    Value w = c.param("w", {1, 1, 1, 1}, {});
    BOOST_TEST(error_of([&] { c.conv2d(img, w, Value{}, {.pad_h = INT32_MAX / 2 + 1}); }) ==
               "conv2d: input [1, 1, 8, 8] with padding 1073741824x0 is larger than 2,147,483,647 on a side, kiln's limit");
}

BOOST_AUTO_TEST_CASE(cross_entropy_is_stable_and_labels_are_checked) {
    Graph g;
    auto x = g.input("x", {2, 3});
    auto y = g.input("y", {2}, DType::i32);
    auto loss = g.cross_entropy(x, y);
    CompileOptions o;
    o.outputs = {loss};
    auto p = compile(g, o);
    // logits of ±1e4: log-sum-exp must not overflow. Row 0: label 0 has the max → loss 0.
    // Row 1: label 2 = -1e4, max 1e4 → loss 2e4. Mean 1e4.
    float xs[] = {1e4f, -1e4f, 0.0f, 1e4f, 0.0f, -1e4f};
    int32_t ys[] = {0, 2};
    p->write_input(x, xs, 2);
    p->write_input(y, ys, 2);
    p->forward(2);
    BOOST_TEST(p->read(loss)[0] == 1e4f);
    // A label outside the classes is refused before any kernel runs, whether it came through
    // write_input or straight into input_data (as the fit loop's DataLoader writes it).
    int32_t bad[] = {0, 3};
    p->write_input(y, bad, 2);
    BOOST_TEST(error_of([&] { p->forward(2); }) == "input 'y': label 3 at index 1 is outside 0..2");
    p->input_data<int32_t>(y)[1] = -1;
    BOOST_TEST(error_of([&] { p->forward(2); }) == "input 'y': label -1 at index 1 is outside 0..2");
    p->input_data<int32_t>(y)[1] = 2;
    p->forward(1);  // only the rows of the call are read
    p->forward(2);
    BOOST_TEST(p->read(loss)[0] == 1e4f);
}

BOOST_AUTO_TEST_CASE(losses_match_pytorch_documented_values) {
    // Hand-worked: input [0.5, -1, 2], target [1, 0, 2].
    Graph g;
    auto a = g.input("a", {3});
    auto t = g.input("t", {3});
    auto l1 = g.l1_loss(a, t), mse = g.mse_loss(a, t), bce = g.bce_with_logits(a, g.input("y", {3}));
    CompileOptions o;
    o.outputs = {l1, mse, bce};
    auto p = compile(g, o);
    float av[] = {0.5f, -1.0f, 2.0f}, tv[] = {1.0f, 0.0f, 2.0f}, yv[] = {1.0f, 0.0f, 1.0f};
    p->write_input(a, av, 3);
    p->write_input(t, tv, 3);
    p->write_input(g.find("y"), yv, 3);
    p->forward(3);
    BOOST_TEST(p->read(l1)[0] == 0.5f, boost::test_tools::tolerance(1e-6f));            // (0.5 + 1 + 0) / 3
    BOOST_TEST(p->read(mse)[0] == 1.25f / 3, boost::test_tools::tolerance(1e-6f));      // (0.25 + 1 + 0) / 3
    // BCE: -[log σ(0.5) + log(1-σ(-1)) + log σ(2)] / 3
    double expect = -(std::log(1 / (1 + std::exp(-0.5))) + std::log(1 - 1 / (1 + std::exp(1.0))) + std::log(1 / (1 + std::exp(-2.0)))) / 3;
    BOOST_TEST(p->read(bce)[0] == float(expect), boost::test_tools::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(dropout_is_identity_in_eval_and_scales_in_train) {
    Graph g;
    auto x = g.input("x", {100, 100});
    auto d = g.dropout(x, 0.25f);
    CompileOptions o;
    o.outputs = {d};
    o.seed = 11;
    auto p = compile(g, o);
    std::vector<float> ones(10000, 1.0f);
    p->write_input(x, ones.data(), 100);
    p->forward(100, false);
    for (float v : p->read(d)) BOOST_REQUIRE(v == 1.0f);
    p->write_input(x, ones.data(), 100);
    p->forward(100, true);
    int zeros = 0;
    for (float v : p->read(d)) {
        BOOST_REQUIRE((v == 0.0f || std::abs(v - 1.0f / 0.75f) < 1e-6f));
        zeros += v == 0.0f;
    }
    BOOST_TEST(zeros > 2300);  // 2500 expected; σ ≈ 43
    BOOST_TEST(zeros < 2700);
}

