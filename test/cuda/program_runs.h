// Whole programs run on a backend by name, for comparing a backend with the CPU reference and a
// backend with itself (determinism): a few training steps of a course model on seeded random
// images, then an eval forward at a smaller batch. Used by the host-run CUDA code path
// (test_cuda_kernels.cpp) and by the GPU test (test_cuda_device.cpp).
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "kiln/core/rng.h"
#include "kiln/runtime/program.h"
#include "kiln/nn/models.h"

namespace kiln::testing {

struct ModelRun {
    std::vector<float> losses;  // per training step
    std::vector<float> logits;  // eval forward at the smaller batch
    std::vector<std::vector<float>> state;  // every f32 state entry after training
    std::vector<std::string> names;         // of each state entry
    std::string memory_report;
};

// Adam is kept off resnet_mini: its conv biases feed BatchNorm, so their true gradient is zero and
// what is computed is rounding noise, which Adam's m/√v turns into full-size steps that differ
// between any two backends.
struct ModelCase {
    const char* model;
    int64_t channels, size;  // images [batch, channels, size, size]
    OptimizerConfig optimizer;
};

inline std::vector<ModelCase> model_cases() {
    return {{"tinyvgg", 1, 28, SGD{.lr = 0.05f, .momentum = 0.9f, .weight_decay = 1e-4f}},
            {"lenet5", 1, 28, AdamW{.lr = 2e-3f}},
            {"resnet_mini", 3, 16, SGD{.lr = 0.05f, .momentum = 0.9f, .nesterov = true}},
            {"fmnist_mlp", 1, 28, Adam{.lr = 1e-3f}}};
}

inline ModelRun run_model(const ModelCase& mc, const std::string& backend, int steps = 3, int64_t batch = 8,
                          int64_t eval_batch = 5) {
    Graph g(17);
    Value x = g.input("x", {batch, mc.channels, mc.size, mc.size});
    Value y = g.input("y", {batch}, DType::i64);
    Value logits = nn::build_model(g, mc.model, x, 10);
    CompileOptions opt;
    opt.loss = g.cross_entropy(logits, y);
    opt.optimizer = mc.optimizer;
    opt.outputs = {logits};
    opt.backend = backend;
    opt.backend_options.reference = true;  // the oracle when backend is "cpu"
    opt.seed = 99;
    auto p = compile(g, opt);

    ModelRun r;
    r.memory_report = p->memory_report();
    Generator data(5);
    const int64_t pixels = mc.channels * mc.size * mc.size;
    for (int s = 0; s < steps; ++s) {
        float* xs = p->input_data<float>(x);  // staged on a device backend
        int64_t* ys = p->input_data<int64_t>(y);
        for (int64_t i = 0; i < batch * pixels; ++i) xs[i] = data.uniform(-1.0f, 1.0f);
        for (int64_t i = 0; i < batch; ++i) ys[i] = int64_t(data.below(10));
        r.losses.push_back(p->train_step(batch));
    }
    std::vector<float> images(static_cast<size_t>(eval_batch * pixels));
    std::vector<int64_t> labels(static_cast<size_t>(eval_batch));
    for (float& v : images) v = data.uniform(-1.0f, 1.0f);
    for (int64_t& v : labels) v = int64_t(data.below(10));
    p->write_input(x, images.data(), eval_batch);
    p->write_input(y, labels.data(), eval_batch);
    p->forward(eval_batch);
    r.losses.push_back(p->loss());
    r.logits = p->read(logits);
    for (const StateEntry& e : p->state()) {
        if (e.dtype != DType::f32) continue;
        r.names.push_back(e.name);
        r.state.emplace_back(e.bytes / sizeof(float));
        p->read_state(e, r.state.back().data());
    }
    return r;
}

// Largest |a − b|.
inline double max_abs_diff(const std::vector<float>& got, const std::vector<float>& ref) {
    double m = got.size() == ref.size() ? 0 : INFINITY;
    for (size_t i = 0; i < ref.size() && i < got.size(); ++i) m = std::max(m, std::fabs(double(got[i]) - ref[i]));
    return m;
}

// Σ(a − b)² / Σ b², as the op harness measures.
inline double nmse(const std::vector<float>& got, const std::vector<float>& ref) {
    double num = 0, den = 0;
    for (size_t i = 0; i < ref.size() && i < got.size(); ++i) {
        num += (double(got[i]) - ref[i]) * (double(got[i]) - ref[i]);
        den += double(ref[i]) * ref[i];
    }
    return got.size() != ref.size() ? INFINITY : den > 0 ? num / den : num;
}

}  // namespace kiln::testing
