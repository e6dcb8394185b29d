// A trained run's int8 model (kiln/quant/int8.h) as kiln-export makes it and kiln-infer and
// kiln-export read it: RUN's best.safetensors → best.int8.safetensors beside it (a FILE.safetensors
// → FILE.int8.safetensors), with the run's model.json describing both.
#pragma once
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "dataset.h"
#include "kiln/data/dataloader.h"
#include "kiln/data/plugin_registry.h"
#include "kiln/io/checkpoint.h"
#include "kiln/io/safetensors.h"
#include "kiln/quant/int8.h"
#include "kiln/runtime/program.h"
#include "trained_run.h"

namespace kiln::tools {

inline std::string int8_path(const TrainedRun& r) {
    const std::string suffix = ".safetensors";
    std::string p = r.weights;
    if (p.size() >= suffix.size() && p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0) p.resize(p.size() - suffix.size());
    return p + ".int8.safetensors";
}

struct Int8Calibration {
    std::string spec;  // a dataset spec
    int64_t images = 1000;
    quant::CalibrationOptions options;
};

// Calibrates the run's float model on `images` evenly spread samples of the dataset (through the
// run's eval transforms) and writes its int8 file; returns the file's path.
inline std::string quantize_run(const TrainedRun& r, const Int8Calibration& c, const char* tool) {
    data::PluginRegistry plugins;
    const data::Dataset data = open_dataset(plugins, c.spec, tool);
    if (data.size() == 0) fail(Errc::invalid_argument, data.spec() + ": no samples to calibrate with");
    data::DataLoaderOptions opt;
    opt.batch_size = 100;
    const int64_t n = std::min(c.images, data.size());
    for (int64_t i = 0; i < n; ++i) opt.indices.push_back(i * data.size() / n);
    data::DataLoader loader(data, plugins.pipeline(r.spec.eval_transforms), opt);

    Graph g(0);
    const TrainedModel m = build_trained_model(g, r, opt.batch_size);
    const quant::Plan plan = quant::plan_int8(g, m.x, m.logits);
    CompileOptions copt;
    copt.outputs = plan.observed();
    copt.outputs.push_back(m.logits);
    auto program = compile(g, copt);
    io::load_state(*program, r.weights);
    quant::Calibrator cal(plan, c.options);
    for (int pass = 0; pass < cal.passes(); ++pass) {
        loader.set_epoch(0);
        while (const data::Batch* b = loader.next()) {
            program->write_input(m.x, b->x, b->size);
            program->forward(b->size);
            cal.observe(*program, pass);
        }
    }
    char percentile[32];
    std::snprintf(percentile, sizeof percentile, " %g", c.options.percentile);
    const std::string how = std::string(quant::method_name(c.options.method)) +
                            (c.options.method == quant::Method::percentile ? percentile : "") + ", " + std::to_string(n) +
                            " images of " + data.spec();
    const std::string path = int8_path(r);
    io::save_safetensors(path, quant::quantize_weights(plan, g, *program, cal.encodings()), quant::int8_metadata(how));
    std::printf("%s: int8 weights and encodings (calibration: %s)\n", path.c_str(), how.c_str());
    return path;
}

// The run's int8 model in q at `batch`, read from its int8 file.
inline quant::Int8Model build_int8_model(Graph& q, const TrainedRun& r, int64_t batch) {
    Graph g(0);
    const TrainedModel m = build_trained_model(g, r, batch);
    const quant::Plan plan = quant::plan_int8(g, m.x, m.logits);
    const std::string path = int8_path(r);
    if (!std::filesystem::exists(path))
        fail(Errc::io, path + ": not found (kiln-export " + r.run.path() + " --int8 --calibrate SPEC makes it)");
    return quant::build_int8(q, g, plan, io::load_safetensors(path), path);
}

}  // namespace kiln::tools
