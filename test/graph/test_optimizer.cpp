// Optimizer steps inside the compiled program against PyTorch: optimizer_reference.py made these
// numbers with torch.optim (loss = sum(p·p·w), three steps, lr halved before the third).
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <cstring>

#include "kiln/core/error.h"
#include "kiln/runtime/program.h"

using namespace kiln;

namespace {

struct Reference {
    const char* name;
    float after[3][4];
};

const Reference references[] = {
    {"sgd", {{0.899999976f, -1.60000002f, 3.1500001f, 0.300000012f}, {0.810000002f, -1.27999997f, 3.30750012f, 0.180000007f}, {0.769500017f, -1.15199995f, 3.39018774f, 0.144000009f}}},
    {"sgd_momentum", {{0.898999989f, -1.59800005f, 3.14700007f, 0.299499989f}, {0.726380885f, -0.947121859f, 3.41808271f, 0.0109604318f}, {0.615688264f, -0.568559527f, 3.6154387f, -0.120860174f}}},
    {"sgd_nesterov", {{0.808099985f, -1.23619998f, 3.27929997f, 0.119049974f}, {0.57121563f, -0.438475251f, 3.70367289f, -0.134059206f}, {0.446537673f, -0.107586548f, 3.9947381f, -0.17540592f}}},
    {"sgd_maximize", {{1.04999995f, -2.20000005f, 2.92499995f, 0.600000024f}, {1.12749994f, -2.51999998f, 2.81437492f, 0.770000041f}, {1.17506242f, -2.72600007f, 2.75153899f, 0.889500022f}}},
    {"adam", {{0.900000036f, -1.89999998f, 3.0999999f, 0.400000006f}, {0.800412238f, -1.80016649f, 3.20007181f, 0.301187426f}, {0.750999272f, -1.75039494f, 3.25016642f, 0.253029346f}}},
    {"adam_l2", {{0.900000095f, -1.89999998f, 3.0999999f, 0.400000036f}, {0.800696194f, -1.80030477f, 3.20016026f, 0.301784545f}, {0.751676321f, -1.75072062f, 3.25037003f, 0.254487455f}}},
    {"adamw", {{0.890000045f, -1.88f, 3.06999993f, 0.395000011f}, {0.781571925f, -1.76140893f, 3.13935351f, 0.292338729f}, {0.728336632f, -1.70288873f, 3.17372704f, 0.242877185f}}},
};

OptimizerConfig config(const std::string& name) {
    if (name == "sgd") return SGD{.lr = 0.1f};
    if (name == "sgd_momentum") return SGD{.lr = 0.1f, .momentum = 0.9f, .dampening = 0.1f, .weight_decay = 0.01f};
    if (name == "sgd_nesterov") return SGD{.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.01f, .nesterov = true};
    if (name == "sgd_maximize") return SGD{.lr = 0.05f, .momentum = 0.5f, .maximize = true};
    if (name == "adam") return Adam{.lr = 0.1f};
    if (name == "adam_l2") return Adam{.lr = 0.1f, .beta1 = 0.8f, .beta2 = 0.99f, .eps = 1e-6f, .weight_decay = 0.1f};
    return AdamW{.lr = 0.1f, .weight_decay = 0.1f};
}

std::vector<int> indices() {
    std::vector<int> v;
    for (size_t i = 0; i < std::size(references); ++i) v.push_back(int(i));
    return v;
}

}  // namespace

BOOST_DATA_TEST_CASE(optimizer_steps_match_pytorch, boost::unit_test::data::make(indices()), index) {
    const Reference& ref = references[index];
    for (bool reference_kernels : {true, false}) {
        Graph g;
        auto p = g.param("p", {4}, {1.0f, -2.0f, 3.0f, 0.5f});
        std::vector<uint8_t> w(16);
        const float wv[] = {0.5f, 1.0f, -0.25f, 2.0f};
        std::memcpy(w.data(), wv, 16);
        auto loss = g.sum(g.mul(g.mul(p, p), g.buffer("w", {4}, DType::f32, w)));
        CompileOptions o;
        o.loss = loss;
        o.optimizer = config(ref.name);
        o.backend_options.reference = reference_kernels;
        auto prog = compile(g, o);
        float value[4];
        for (int step = 0; step < 3; ++step) {
            if (step == 2) prog->set_lr(prog->lr() * 0.5f);
            prog->train_step(1);
            prog->read_state(*prog->find_state("p"), value);
            for (int i = 0; i < 4; ++i)
                BOOST_TEST(value[i] == ref.after[step][i], ref.name << (reference_kernels ? " (reference)" : " (fast)") << " step "
                                                                   << step + 1 << " element " << i
                                                                   << boost::test_tools::tolerance(2e-6f));
        }
    }
}

BOOST_AUTO_TEST_CASE(nesterov_needs_momentum) {
    Graph g;
    auto p = g.param("p", {1}, {1.0f});
    CompileOptions o;
    o.loss = g.sum(g.mul(p, p));
    o.optimizer = SGD{.lr = 0.1f, .nesterov = true};
    BOOST_CHECK_EXCEPTION(compile(g, o), Error, [](const Error& e) {
        return std::string(e.what()) == "SGD: nesterov momentum requires a momentum and zero dampening";
    });
}
