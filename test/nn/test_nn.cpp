// Parameter initialisation (nn/init.h) and layer builders (nn/layers.h).
#define BOOST_TEST_MODULE nn
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kiln/core/error.h"
#include "kiln/runtime/program.h"
#include "kiln/nn/init.h"
#include "kiln/nn/layers.h"

using namespace kiln;

namespace {

struct Moments {
    double mean = 0, var = 0, min = INFINITY, max = -INFINITY;
};

Moments moments(const std::vector<float>& v) {
    Moments m;
    for (float x : v) m.mean += x, m.min = std::min<double>(m.min, x), m.max = std::max<double>(m.max, x);
    m.mean /= double(v.size());
    for (float x : v) m.var += (x - m.mean) * (x - m.mean);
    m.var /= double(v.size());
    return m;
}

std::vector<float> floats(const std::vector<uint8_t>& bytes) {
    std::vector<float> v(bytes.size() / sizeof(float));
    std::memcpy(v.data(), bytes.data(), bytes.size());
    return v;
}

}  // namespace

BOOST_AUTO_TEST_CASE(kaiming_bound_follows_the_formula) {
    // a = sqrt(5) (PyTorch's default for Linear and Conv2d) reduces to 1/sqrt(fan_in).
    for (int64_t fan : {1, 2, 10, 784}) BOOST_TEST(nn::kaiming_uniform_bound(fan) == 1.0 / std::sqrt(double(fan)), boost::test_tools::tolerance(1e-6));
    // a = 0 (plain He init for ReLU): gain sqrt(2), bound sqrt(6 / fan_in).
    BOOST_TEST(nn::kaiming_uniform_bound(6, 0.0f) == 1.0, boost::test_tools::tolerance(1e-6));
    BOOST_CHECK_THROW(nn::kaiming_uniform_bound(0), Error);
}

BOOST_AUTO_TEST_CASE(kaiming_uniform_has_the_moments_of_its_uniform) {
    Generator rng(7);
    const int64_t fan = 25, n = 200000;
    auto w = nn::kaiming_uniform(rng, {n / fan, fan}, fan);
    BOOST_TEST(int64_t(w.size()) == n);
    double bound = 1.0 / 5.0;
    Moments m = moments(w);
    BOOST_TEST(m.min >= -bound);
    BOOST_TEST(m.max < bound);
    BOOST_TEST(m.max > 0.999 * bound);  // the range is used up to the bound
    // U(-b, b): mean 0 (std of the sample mean b/sqrt(3n)), variance b²/3.
    BOOST_TEST(std::abs(m.mean) < 5 * bound / std::sqrt(3.0 * n));
    BOOST_TEST(m.var == bound * bound / 3, boost::test_tools::tolerance(0.01));
}

BOOST_AUTO_TEST_CASE(uniform_bias_and_constants) {
    Generator rng(3);
    Moments u = moments(nn::uniform(rng, {100000}, 2.0f, 5.0f));
    BOOST_TEST(u.min >= 2.0);
    BOOST_TEST(u.max < 5.0);
    BOOST_TEST(u.mean == 3.5, boost::test_tools::tolerance(0.005));
    BOOST_TEST(u.var == 0.75, boost::test_tools::tolerance(0.01));

    Moments b = moments(nn::bias_uniform(rng, {50000}, 16));
    BOOST_TEST(b.min >= -0.25);
    BOOST_TEST(b.max < 0.25);
    BOOST_TEST(b.var == 0.25 * 0.25 / 3, boost::test_tools::tolerance(0.02));

    BOOST_TEST(nn::zeros({2, 3}) == std::vector<float>(6, 0.0f));
    BOOST_TEST(nn::ones({4}) == std::vector<float>(4, 1.0f));
    BOOST_CHECK_THROW(nn::uniform(rng, {3}, 1.0f, 0.0f), Error);
    BOOST_CHECK_THROW(nn::bias_uniform(rng, {3}, 0), Error);
}

BOOST_AUTO_TEST_CASE(init_is_reproducible_from_the_seed) {
    Generator a(11), b(11), c(12);
    auto wa = nn::kaiming_uniform(a, {8, 4}, 4), wb = nn::kaiming_uniform(b, {8, 4}, 4), wc = nn::kaiming_uniform(c, {8, 4}, 4);
    BOOST_TEST(wa == wb);
    BOOST_TEST(wa != wc);
}

BOOST_AUTO_TEST_CASE(fan_in_as_pytorch_computes_it) {
    BOOST_TEST(nn::fan_in({10, 3}) == 3);         // Linear [out, in]
    BOOST_TEST(nn::fan_in({16, 3, 5, 5}) == 75);  // Conv2d [out, in, kh, kw]
    BOOST_CHECK_THROW(nn::fan_in({10}), Error);
}

BOOST_AUTO_TEST_CASE(linear_creates_state_dict_names_shapes_and_default_init) {
    Graph g(5);
    Value x = g.input("x", {4, 3});
    Value y = nn::linear(g, "fc1", x, 7);
    BOOST_TEST(g.shape(y).str() == "[4, 7]");

    Value w = g.find("fc1.weight"), b = g.find("fc1.bias");
    BOOST_REQUIRE(w);
    BOOST_REQUIRE(b);
    BOOST_TEST(w.id < b.id);  // created weight first, as torch.nn.Linear
    BOOST_TEST((g.node(w).op == Op::param));
    BOOST_TEST(g.shape(w).str() == "[7, 3]");
    BOOST_TEST(g.shape(b).str() == "[7]");

    // The initial values are exactly PyTorch's recipe drawn from the graph's seed: weight then bias.
    Generator rng(5);
    auto expect_w = nn::kaiming_uniform(rng, {7, 3}, 3);
    auto expect_b = nn::bias_uniform(rng, {7}, 3);
    BOOST_TEST(floats(g.node(w).init) == expect_w);
    BOOST_TEST(floats(g.node(b).init) == expect_b);
}

BOOST_AUTO_TEST_CASE(linear_without_bias_and_bad_inputs) {
    Graph g(1);
    Value x = g.input("x", {2, 3});
    nn::linear(g, "proj", x, 4, /*bias=*/false);
    BOOST_TEST(bool(g.find("proj.weight")));
    BOOST_TEST(!g.find("proj.bias"));

    Value img = g.input("img", {2, 1, 28, 28});
    try {
        nn::linear(g, "fc", img, 10);
        BOOST_FAIL("expected an error");
    } catch (const Error& e) {
        BOOST_TEST(e.code() == Errc::shape_mismatch);
        BOOST_TEST(std::string(e.what()).find("linear 'fc'") != std::string::npos);
        BOOST_TEST(std::string(e.what()).find("[2, 1, 28, 28]") != std::string::npos);
    }
    BOOST_CHECK_THROW(nn::linear(g, "fc", x, 0), Error);
}

BOOST_AUTO_TEST_CASE(linear_computes_x_times_w_transposed_plus_b) {
    Graph g(9);
    Value x = g.input("x", {3, 2});
    Value y = nn::linear(g, "fc", x, 2);
    std::vector<float> w = floats(g.node(g.find("fc.weight")).init), b = floats(g.node(g.find("fc.bias")).init);
    CompileOptions opt;
    opt.outputs = {y};
    auto prog = compile(g, opt);
    std::vector<float> xs = {1, 2, -3, 0.5f, 0, 4};
    prog->write_input(x, xs.data(), 3);
    prog->forward(3);
    std::vector<float> out = prog->read(y);
    BOOST_REQUIRE(out.size() == 6u);
    for (int i = 0; i < 3; ++i)
        for (int o = 0; o < 2; ++o) {
            float expect = xs[i * 2] * w[o * 2] + xs[i * 2 + 1] * w[o * 2 + 1] + b[o];
            BOOST_TEST(out[i * 2 + o] == expect, boost::test_tools::tolerance(1e-5f));
        }
}
