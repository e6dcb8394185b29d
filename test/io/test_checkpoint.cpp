// Saving and restoring a program's state (io/checkpoint.h).
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

#include "kiln/core/error.h"
#include "kiln/runtime/program.h"
#include "kiln/io/checkpoint.h"
#include "kiln/io/safetensors.h"
#include "kiln/nn/layers.h"
#include "io/small_program.h"
#include "temp_dir.h"

using namespace kiln;
using kiln::testing::small_program;
using kiln::testing::with_optimizer;

namespace {

// A two-layer regression network; `hidden` and `extra` vary the architecture for mismatch tests.
struct Net {
    Graph g;
    Value x, y, out, loss;
    explicit Net(uint64_t seed, int64_t hidden = 5, bool extra = false) : g(seed) {
        x = g.input("x", {8, 3});
        y = g.input("y", {8, 1});
        Value h = g.relu(nn::linear(g, "fc1", x, hidden));
        if (extra) h = g.relu(nn::linear(g, "fc_extra", h, hidden));
        out = nn::linear(g, "fc2", h, 1);
        loss = g.mse_loss(out, y);
    }
    std::unique_ptr<Program> compile_training() {
        CompileOptions opt;
        opt.loss = loss;
        opt.optimizer = SGD{.lr = 0.05f, .momentum = 0.9f};
        opt.outputs = {out};
        return compile(g, opt);
    }
};

std::vector<float> batch_x() {
    std::vector<float> v(24);
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(float(i));
    return v;
}
std::vector<float> batch_y() { return {1, 0, -1, 0.5f, 2, 0, 1, -0.5f}; }

float step(Program& p, const Net& n) {
    auto x = batch_x(), y = batch_y();
    p.write_input(n.x, x.data(), 8);
    p.write_input(n.y, y.data(), 8);
    return p.train_step(8);
}

std::vector<uint8_t> state_bytes(const Program& p, const std::string& name) {
    const StateEntry* e = p.find_state(name);
    BOOST_REQUIRE_MESSAGE(e, name);
    std::vector<uint8_t> v(e->bytes);
    p.read_state(*e, v.data());
    return v;
}

void expect_error(const std::function<void()>& f, Errc code, const std::string& what) {
    try {
        f();
        BOOST_ERROR("expected an error containing: " << what);
    } catch (const Error& e) {
        BOOST_TEST_INFO("message: " << e.what());
        BOOST_TEST(e.code() == code);
        BOOST_TEST(std::string(e.what()).find(what) != std::string::npos);
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(model_state_round_trips_into_a_fresh_program) {
    TempDir dir;
    Net a(1);
    auto pa = a.compile_training();
    for (int i = 0; i < 3; ++i) step(*pa, a);
    std::string path = dir / "model.safetensors";
    io::save_state(*pa, path);

    // Only the model's tensors, with state_dict names, and PyTorch's "format" metadata.
    io::SafetensorsFile file = io::load_safetensors(path);
    std::vector<std::string> names;
    for (const auto& t : file.tensors) names.push_back(t.name);
    std::sort(names.begin(), names.end());
    BOOST_TEST(names == (std::vector<std::string>{"fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"}));
    BOOST_TEST(file.metadata.at("format") == "pt");
    BOOST_TEST(file.find("fc1.weight")->shape.str() == "[5, 3]");

    Net b(2);  // other initial weights
    auto pb = b.compile_training();
    BOOST_TEST(state_bytes(*pb, "fc1.weight") != state_bytes(*pa, "fc1.weight"));
    io::load_state(*pb, path);
    for (const char* n : {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}) BOOST_TEST(state_bytes(*pb, n) == state_bytes(*pa, n));
}

BOOST_AUTO_TEST_CASE(full_state_resumes_training_bit_for_bit) {
    TempDir dir;
    Net a(3);
    auto pa = a.compile_training();
    for (int i = 0; i < 4; ++i) step(*pa, a);
    std::string path = dir / "full.safetensors";
    io::save_state(*pa, path, {.optimizer = true});
    BOOST_TEST(io::load_safetensors(path).find("fc1.weight.momentum_buffer") != nullptr);

    Net b(4);
    auto pb = b.compile_training();
    io::load_state(*pb, path, {.optimizer = true});
    BOOST_TEST(pb->step_count() == pa->step_count());
    for (int i = 0; i < 3; ++i) {
        float la = step(*pa, a), lb = step(*pb, b);
        BOOST_TEST(std::memcmp(&la, &lb, sizeof la) == 0, "step " << i << ": " << la << " vs " << lb);
    }

    // Loading the model alone from a full checkpoint skips the optimizer state quietly.
    Net c(5);
    auto pc = c.compile_training();
    io::load_state(*pc, path);
}

BOOST_AUTO_TEST_CASE(mismatches_name_the_tensor_and_leave_the_program_unchanged) {
    TempDir dir;
    Net small(1);
    auto ps = small.compile_training();
    std::string path = dir / "small.safetensors";
    io::save_state(*ps, path);

    Net wider(2, /*hidden=*/6);
    auto pw = wider.compile_training();
    auto before = state_bytes(*pw, "fc1.bias");
    expect_error([&] { io::load_state(*pw, path); }, Errc::shape_mismatch,
                 path + ": tensor 'fc1.weight' is f32 [5, 3], expected f32 [6, 3]");
    BOOST_TEST(state_bytes(*pw, "fc1.bias") == before);

    Net deeper(2, 5, /*extra=*/true);
    auto pd = deeper.compile_training();
    expect_error([&] { io::load_state(*pd, path); }, Errc::format,
                 path + ": missing tensor 'fc_extra.weight' (expected f32 [5, 5])");

    // The model's file lacks optimizer state.
    Net same(2);
    auto p2 = same.compile_training();
    expect_error([&] { io::load_state(*p2, path, {.optimizer = true}); }, Errc::format,
                 "missing tensor 'fc1.weight.momentum_buffer'");

    // A tensor the program does not have: an error unless strict is off.
    std::string deep_path = dir / "deep.safetensors";
    io::save_state(*pd, deep_path);
    expect_error([&] { io::load_state(*ps, deep_path); }, Errc::format, "unexpected tensor 'fc_extra.bias'");
    io::load_state(*ps, deep_path, {.strict = false});

    // A dtype mismatch (hand-made file holding an i32 where f32 is expected).
    io::SafetensorsFile f = io::load_safetensors(path);
    for (auto& t : f.tensors)
        if (t.name == "fc2.bias") t.dtype = DType::i32;
    std::string wrong_dtype = dir / "dtype.safetensors";
    io::save_safetensors(wrong_dtype, f.tensors, f.metadata);
    expect_error([&] { io::load_state(*p2, wrong_dtype); }, Errc::format, "tensor 'fc2.bias' is i32 [1], expected f32 [1]");

    // Weights holding NaN or an infinity are refused (they would only ever predict NaN).
    for (auto& t : f.tensors)
        if (t.name == "fc2.bias") t.dtype = DType::f32;
    before = state_bytes(*p2, "fc1.weight");
    for (const float bad : {std::nanf(""), -INFINITY}) {
        io::SafetensorsFile g = f;
        for (auto& t : g.tensors)
            if (t.name == "fc1.weight") {
                std::memcpy(t.data.data() + 2 * sizeof(float), &bad, sizeof bad);
                std::memcpy(t.data.data() + 4 * sizeof(float), &bad, sizeof bad);
            }
        const std::string nan_path = dir / "nan.safetensors";
        io::save_safetensors(nan_path, g.tensors, g.metadata);
        expect_error([&] { io::load_state(*p2, nan_path); }, Errc::format,
                     nan_path + ": tensor 'fc1.weight' holds 2 non-finite values (the first, " +
                         (std::isnan(bad) ? "NaN" : "-inf") + ", at index 2); the weights are unusable (did the training diverge?)");
        BOOST_TEST(state_bytes(*p2, "fc1.weight") == before);
    }
}

BOOST_AUTO_TEST_CASE(a_tampered_step_count_is_refused) {
    TempDir dir;
    Net net(1);
    auto p = net.compile_training();
    step(*p, net);
    const std::string path = dir / "state.safetensors";
    io::save_state(*p, path, {.optimizer = true});
    io::SafetensorsFile f = io::load_safetensors(path);
    for (const char* bad : {"-5", "12abc", "99999999999999999999", "", " 7", "4611686018427387905"}) {
        f.metadata["kiln.step"] = bad;
        io::save_safetensors(path, f.tensors, f.metadata);
        expect_error([&] { io::load_state(*p, path, {.optimizer = true}); }, Errc::format,
                     path + ": metadata kiln.step is not a whole number from 0 to 4,611,686,018,427,387,904: '" + std::string(bad) + "'");
    }
    f.metadata["kiln.step"] = "4611686018427387904";
    io::save_safetensors(path, f.tensors, f.metadata);
    io::load_state(*p, path, {.optimizer = true});
    BOOST_TEST(p->step_count() == int64_t(1) << 62);
}

BOOST_AUTO_TEST_CASE(checkpoint_metadata_and_mismatches) {
    TempDir dir;
    const std::string path = dir / "w.safetensors";
    auto prog = small_program(1);
    io::StateOptions o = with_optimizer;
    o.metadata = {{"kiln.config", "{\"epochs\": \"3\"}"}};
    io::save_state(*prog, path, o);
    auto fresh = small_program(2);
    const io::Metadata meta = io::load_state(*fresh, path, with_optimizer);
    BOOST_TEST(meta.at("kiln.config") == "{\"epochs\": \"3\"}");
    BOOST_TEST(meta.at("format") == "pt");

    o.metadata = {{"format", "np"}};
    BOOST_CHECK_THROW(io::save_state(*prog, path, o), Error);  // save_state writes "format" itself

    auto wider = small_program(2, 5);
    try {
        io::load_state(*wider, path);
        BOOST_FAIL("no error");
    } catch (const Error& e) {
        BOOST_TEST(e.code() == Errc::shape_mismatch);
        BOOST_TEST(std::string(e.what()).find("'hidden.weight' is f32 [3, 4], expected f32 [5, 4]") != std::string::npos, e.what());
    }
}
