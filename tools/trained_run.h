// A trained run as kiln-infer and kiln-export open it: RUN is a kiln-train run directory (its
// best.safetensors) or a .safetensors file with the run's model.json beside it.
//
//   kiln::tools::TrainedRun r = kiln::tools::open_trained_run("runs/tinyvgg");
//   kiln::Graph g(0);
//   auto [x, logits] = kiln::tools::build_trained_model(g, r, /*batch=*/1);
//   … compile, then kiln::io::load_state(*program, r.weights);
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "kiln/core/error.h"
#include "kiln/graph/graph.h"
#include "kiln/nn/model_file.h"
#include "kiln/train/run_files.h"

namespace kiln::tools {

struct TrainedRun {
    train::RunDir run{"."};
    std::string weights;  // the .safetensors
    nn::ModelSpec spec;   // model.json, with input_shape, class_names and eval_transforms
    int64_t classes = 0;
};

inline TrainedRun open_trained_run(const std::string& run) {
    namespace fs = std::filesystem;
    TrainedRun r;
    const bool file = fs::path(run).extension() == ".safetensors";
    const std::string run_dir = file ? fs::path(run).parent_path().string() : run;
    r.run = train::RunDir(run_dir.empty() ? "." : run_dir);
    r.weights = file ? run : r.run.best_safetensors();
    if (!fs::exists(r.weights)) fail(Errc::io, r.weights + ": not found (is " + run + " a kiln-train run directory?)");
    const std::string model_path = r.run.model_json();
    if (!fs::exists(model_path)) fail(Errc::io, model_path + ": not found (the run's model description belongs beside " + r.weights + ")");
    r.spec = nn::read_model_file(model_path);
    if (r.spec.input_shape.empty() || r.spec.class_names.size() < 2)
        fail(Errc::format, model_path + ": no input_shape or class_names (not written by kiln-train?)");
    r.classes = int64_t(r.spec.class_names.size());
    return r;
}

struct TrainedModel {
    Value x, logits;
};

// The run's model in `g` with an input x of [batch, input_shape…].
inline TrainedModel build_trained_model(Graph& g, const TrainedRun& r, int64_t batch) {
    TrainedModel m;
    Shape xs{batch};
    for (int64_t d : r.spec.input_shape) xs.push_back(d);
    try {
        m.x = g.input("x", xs);
    } catch (const Error& e) {
        fail(e.code(), r.run.model_json() + ": input_shape: " + e.what());
    }
    m.logits = nn::build_model(g, r.spec, m.x, r.classes);
    return m;
}

}  // namespace kiln::tools
