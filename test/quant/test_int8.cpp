// kiln/quant: what plan_int8 makes of the course models, calibration's three ranges, the int8
// graph against the float one (BatchNorm folded, ReLU fused) on the same inputs, the int8
// program bit for bit on the reference and the fast CPU kernels, and the int8 file's checks.
#define BOOST_TEST_MODULE quant_int8
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "error_of.h"
#include "kiln/nn/models.h"
#include "kiln/quant/int8.h"

using namespace kiln;
using namespace kiln::quant;
using kiln::testing::error_of;

namespace {

struct FloatModel {
    Graph g{7};
    Value x, logits;
    std::unique_ptr<Program> program;
    Plan plan;
};

// A course model with its initial weights and, for BatchNorm, running statistics far from 0 and 1
// (so that folding them matters), compiled with every value the plan observes as an output.
std::unique_ptr<FloatModel> float_model(const std::string& name, int64_t batch) {
    auto m = std::make_unique<FloatModel>();
    m->x = m->g.input("x", {batch, 1, 28, 28});
    m->logits = nn::build_model(m->g, name, m->x, 10, name == "tinyvgg" ? 8 : 10);
    m->plan = plan_int8(m->g, m->x, m->logits);
    CompileOptions o;
    o.outputs = m->plan.observed();
    o.outputs.push_back(m->logits);
    m->program = compile(m->g, o);
    Generator rng(3);
    for (const StateEntry& e : m->program->state()) {
        const bool mean = e.name.ends_with("running_mean"), var = e.name.ends_with("running_var");
        const bool gamma = e.name.ends_with(".1.weight"), beta = e.name.ends_with(".1.bias");
        if (!mean && !var && !gamma && !beta) continue;
        std::vector<float> v(size_t(e.shape.numel()));
        for (float& f : v) f = mean || beta ? rng.uniform(-0.3f, 0.3f) : rng.uniform(0.5f, 2.0f);
        m->program->write_state(e, v.data());
    }
    return m;
}

std::vector<float> images(int64_t n, uint64_t seed) {
    Generator rng(seed);
    std::vector<float> x(size_t(n) * 784);
    for (float& v : x) v = rng.uniform() < 0.4f ? 0.0f : rng.uniform();  // Fashion-MNIST-like: much background
    return x;
}

std::map<std::string, Params> calibrate(FloatModel& m, const std::vector<float>& x, int64_t n, CalibrationOptions o = {}) {
    Calibrator cal(m.plan, o);
    for (int pass = 0; pass < cal.passes(); ++pass) {
        m.program->write_input(m.x, x.data(), n);
        m.program->forward(n);
        cal.observe(*m.program, pass);
    }
    return cal.encodings();
}

io::SafetensorsFile int8_file(FloatModel& m, const std::map<std::string, Params>& enc) {
    return {quantize_weights(m.plan, m.g, *m.program, enc), int8_metadata("test")};
}

std::vector<float> run_int8(FloatModel& m, const io::SafetensorsFile& file, const std::vector<float>& x, int64_t n, bool reference) {
    Graph q;
    const Int8Model im = build_int8(q, m.g, m.plan, file, "test.safetensors");
    CompileOptions o;
    o.outputs = {im.output};
    o.backend_options.reference = reference;
    auto p = compile(q, o);
    p->write_input(im.input, x.data(), n);
    p->forward(n);
    return p->read(im.output);
}

int count(const Plan& p, Layer::Kind k) { return int(std::count_if(p.layers.begin(), p.layers.end(), [k](const Layer& l) { return l.kind == k; })); }

}  // namespace

BOOST_AUTO_TEST_CASE(the_plans_of_the_course_models) {
    auto r = float_model("resnet_mini", 1);
    const Plan& p = r->plan;
    BOOST_TEST(count(p, Layer::conv) == 9);  // the stem, two per block and the two strided blocks' shortcuts
    for (const Layer& l : p.layers)
        if (l.kind == Layer::conv) BOOST_TEST(l.bn_apply >= 0, l.name << ": its BatchNorm folded");
    BOOST_TEST(count(p, Layer::add) == 3);
    for (const Layer& l : p.layers)
        if (l.kind == Layer::add) BOOST_TEST(l.relu, l.name << ": the block's ReLU fused");
    BOOST_TEST(count(p, Layer::mean) == 1);
    BOOST_TEST(count(p, Layer::linear) == 1);
    BOOST_TEST(count(p, Layer::max_pool) == 1);
    BOOST_TEST(count(p, Layer::lookup) == 0);  // every ReLU fused
    const auto names = [&] {
        std::vector<std::string> v;
        for (const Layer& l : p.layers)
            if (l.encoded()) v.push_back(l.name);
        return v;
    }();
    BOOST_TEST(names.front() == "input");
    BOOST_TEST(std::count(names.begin(), names.end(), "block2.0.shortcut.0") == 1);
    BOOST_TEST(std::count(names.begin(), names.end(), "add.2") == 1);
    BOOST_TEST(std::count(names.begin(), names.end(), "outlayer") == 1);

    auto l = float_model("lenet5", 1);
    BOOST_TEST(count(l->plan, Layer::lookup) == 4);  // the sigmoids
    BOOST_TEST(count(l->plan, Layer::avg_pool) == 2);

    Graph g;
    Value x = g.input("x", {2, 5});
    BOOST_TEST(error_of([&] { plan_int8(g, x, g.softmax(g.scale(x, 2.0f))); }) == "int8: op scale ([2, 5]) has no int8 form in kiln");
}

BOOST_AUTO_TEST_CASE(calibration_ranges) {
    // One observed value (the input) holding 10,000 values in [0, 1) and one outlier at 50.
    Graph g;
    Value x = g.input("x", {1, 10001});
    Value y = g.relu(x);
    Plan p = plan_int8(g, x, y);
    CompileOptions o;
    o.outputs = p.observed();
    o.outputs.push_back(y);
    auto prog = compile(g, o);
    std::vector<float> v(10001);
    for (size_t i = 0; i < 10000; ++i) v[i] = float(i) / 10000.0f;
    v[10000] = 50.0f;
    std::map<Method, float> scale;
    for (Method m : {Method::minmax, Method::percentile, Method::mse}) {
        Calibrator cal(p, {.method = m, .percentile = 99.9});
        for (int pass = 0; pass < cal.passes(); ++pass) {
            prog->write_input(x, v.data(), 1);
            prog->forward(1);
            cal.observe(*prog, pass);
        }
        scale[m] = cal.encodings().at("input").scale;
    }
    BOOST_TEST(scale[Method::minmax] == 50.0f / 255.0f, boost::test_tools::tolerance(1e-6f));
    BOOST_TEST(scale[Method::percentile] < 1.1f / 255.0f);  // the outlier clipped: the range ≈ [0, 1)
    // Clipping the outlier to 1 would cost it (50 − 1)², more than the 10,000 values' rounding
    // gains: the least squared error keeps (nearly) the whole range.
    BOOST_TEST(scale[Method::mse] <= scale[Method::minmax]);
    BOOST_TEST(scale[Method::mse] >= 0.95f * scale[Method::minmax]);
}

BOOST_AUTO_TEST_CASE(int8_models_follow_their_float_models) {
    // Calibrated on the same 64 images they run: the int8 logits within a few output steps of the
    // float ones; the fast CPU kernels give the reference's bits.
    for (const char* name : {"tinyvgg", "lenet5", "resnet_mini", "fmnist_mlp"}) {
        const int64_t n = 64;
        auto m = float_model(name, n);
        const std::vector<float> x = images(n, 5);
        const auto enc = calibrate(*m, x, n);
        m->program->write_input(m->x, x.data(), n);
        m->program->forward(n);
        const std::vector<float> want = m->program->read(m->logits);
        const io::SafetensorsFile file = int8_file(*m, enc);
        const std::vector<float> ref = run_int8(*m, file, x, n, true), fast = run_int8(*m, file, x, n, false);
        BOOST_TEST(ref == fast, name << ": the CPU backend's int8 logits differ from the reference kernels'");
        float top = 0, worst = 0;
        int agree = 0;
        for (float v : want) top = std::max(top, std::fabs(v));
        for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::fabs(ref[i] - want[i]));
        for (int64_t b = 0; b < n; ++b) {
            auto row = [&](const std::vector<float>& v) { return std::max_element(v.begin() + b * 10, v.begin() + b * 10 + 10) - v.begin(); };
            agree += row(ref) == row(want);
        }
        BOOST_TEST_MESSAGE(name << ": largest logit " << top << ", largest int8 difference " << worst << ", top-1 agreement " << agree << "/" << n);
        BOOST_TEST(worst <= 0.08f * top, name << ": int8 logits differ by " << worst << " (largest logit " << top << ")");
        BOOST_TEST(agree >= n * 9 / 10, name << ": top-1 agrees on " << agree << " of " << n);
    }
}

BOOST_AUTO_TEST_CASE(the_int8_file_is_checked) {
    auto m = float_model("tinyvgg", 2);
    const std::vector<float> x = images(2, 1);
    const io::SafetensorsFile good = int8_file(*m, calibrate(*m, x, 2));
    auto build = [&](const io::SafetensorsFile& f) {
        Graph q;
        build_int8(q, m->g, m->plan, f, "q.safetensors");
    };
    BOOST_TEST(error_of([&] { build(good); }) == "(no error)");
    auto without = [&](const std::string& name) {
        io::SafetensorsFile f = good;
        std::erase_if(f.tensors, [&](const io::NamedTensor& t) { return t.name == name; });
        return f;
    };
    BOOST_TEST(error_of([&] { build(without("conv_block_1.2.bias")); }) == "q.safetensors: no tensor 'conv_block_1.2.bias' (the int8 model needs it)");
    io::SafetensorsFile f = good;
    for (io::NamedTensor& t : f.tensors)
        if (t.name == "conv_block_1.0.weight") t.dtype = DType::u8;
    BOOST_TEST(error_of([&] { build(f); }) == "q.safetensors: tensor 'conv_block_1.0.weight' is u8 [8, 1, 3, 3], expected i8 [8, 1, 3, 3]");
    f = good;
    for (io::NamedTensor& t : f.tensors)
        if (t.name == "input.zero_point") t.data = {0x80, 0, 0, 0};
    BOOST_TEST(error_of([&] { build(f); }) == "q.safetensors: tensor 'input.zero_point' must be an int8 code (−128…127), got 128");
    f = good;
    for (io::NamedTensor& t : f.tensors)
        if (t.name == "classifier.1.scale") t.data = {0, 0, 0xc0, 0x7f};  // NaN
    BOOST_TEST(error_of([&] { build(f); }) == "q.safetensors: tensor 'classifier.1.scale' must be a positive finite number");
    f = good;
    f.metadata.clear();
    BOOST_TEST(error_of([&] { build(f); }) == "q.safetensors: not a kiln int8 file (its metadata has no kiln.quantization = int8-v1)");
}
