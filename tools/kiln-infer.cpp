// kiln-infer: uses a trained run — evaluates it on a dataset, predicts the classes of image files,
// or draws its first convolution's filters.
//   kiln-infer runs/tinyvgg --data idx:/usr/share/datasets/fashion-mnist,split=test
//   kiln-infer runs/tinyvgg --predict boot.jpg shirt.png --top-k 3
//   kiln-infer runs/tinyvgg --filters
// RUN is a kiln-train run directory (its best.safetensors) or a .safetensors file with the run's
// model.json beside it. Evaluation writes confusion.png, misclassified.png and evaluation.json,
// --predict predictions.png (the images as the model got them), --filters filters.png, each into
// --out (default: the run directory) with report.html refreshed there. Evaluation with --logits
// FILE also writes every evaluated sample's logits as CSV.
// Exit status: 0 done, 1 error (with --predict: an image could not be read, after the others were
// predicted), 2 usage mistake.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "args.h"
#include "dataset.h"
#include "device.h"
#include "kiln/core/error.h"
#include "kiln/data/dataloader.h"
#include "kiln/data/image_preparer.h"
#include "kiln/data/plugin_registry.h"
#include "kiln/runtime/program.h"
#include "kiln/io/atomic_file.h"
#include "kiln/io/checkpoint.h"
#include "kiln/nn/model_file.h"
#include "kiln/report/confusion.h"
#include "kiln/report/grid.h"
#include "kiln/train/fit.h"
#include "kiln/train/metrics.h"
#include "kiln/train/run_files.h"
#include "run_report.h"
#include "int8.h"
#include "trained_run.h"

namespace {

namespace fs = std::filesystem;
namespace train = kiln::train;
using kiln::Errc;
using kiln::fail;
using kiln::tools::Args;
using kiln::tools::Command;
using json = nlohmann::json;

// A CSV field, quoted (RFC 4180) when it holds a comma, quote or line break.
std::string csv(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

// ---- the model ----

struct Model {
    train::RunDir run{"."};
    std::string weights;
    std::string device;  // the backend's name, Program::backend().name()
    kiln::nn::ModelSpec spec;
    std::unique_ptr<kiln::Program> program;
    kiln::Value x, y, logits;  // y: the labels of an evaluation
    int64_t classes = 0, batch = 0;

    kiln::data::InputShape input() const {
        return {spec.input_shape[0], spec.input_shape.size() > 1 ? spec.input_shape[1] : 1,
                spec.input_shape.size() > 2 ? spec.input_shape[2] : 1};
    }
};

// The run (trained_run.h) compiled for `device` (a kiln::CompileOptions::backend name); the
// weights are checked against the model by load_state. For an evaluation (`labelled`) the program
// takes labels y and computes the loss kiln-train computes, cross_entropy(logits, y).
Model load_model(const std::string& run, int64_t batch, const std::string& device, bool labelled, bool int8) {
    const kiln::tools::TrainedRun r = kiln::tools::open_trained_run(run);
    Model m;
    m.run = r.run;
    m.weights = r.weights;
    m.spec = r.spec;
    m.classes = r.classes;
    m.batch = batch;
    kiln::Graph g(0);
    if (int8) {  // the run's int8 file (tools/int8.h), its weights inside the graph
        const kiln::quant::Int8Model q = kiln::tools::build_int8_model(g, r, batch);
        m.x = q.input, m.logits = q.output, m.weights = kiln::tools::int8_path(r);
    } else {
        const kiln::tools::TrainedModel built = kiln::tools::build_trained_model(g, r, batch);
        m.x = built.x, m.logits = built.logits;
    }
    kiln::CompileOptions copt;
    if (labelled) {
        m.y = g.input("y", {batch}, kiln::DType::i64);
        copt.loss = g.cross_entropy(m.logits, m.y);  // no optimizer: the backward pass is never run
    }
    copt.outputs = {m.logits};
    copt.backend = device;
    m.program = kiln::tools::compile_on_device(g, copt);
    m.device = m.program->backend().name();
    if (!int8) kiln::io::load_state(*m.program, m.weights);
    return m;
}

enum class Format { table, csv, json };

// ---- evaluation ----

int evaluate(Model& m, const Args& a, Format format, const train::RunDir& out) {
    kiln::data::PluginRegistry plugins;
    const kiln::data::Dataset data = kiln::tools::open_dataset(plugins, a.text("data"), "kiln-infer");
    if (data.num_classes() != m.classes)
        fail(Errc::invalid_argument, data.spec() + " has " + std::to_string(data.num_classes()) + " classes, the model " +
                                         std::to_string(m.classes));
    kiln::data::DataLoaderOptions opt;
    opt.batch_size = m.batch;
    opt.workers = int(a.integer("workers", 0, 64));
    if (const int64_t limit = a.integer("limit", 0, INT64_MAX); limit > 0 && limit < data.size())
        for (int64_t i = 0; i < limit; ++i) opt.indices.push_back(i);
    kiln::data::DataLoader loader(data, plugins.pipeline(m.spec.eval_transforms), opt);
    const kiln::Shape sample = loader.sample_shape();
    if (std::vector<int64_t>(sample.dims, sample.dims + sample.rank) != m.spec.input_shape)
        fail(Errc::shape_mismatch, data.spec() + " with the run's eval transforms gives samples of shape " + sample.str() +
                                       "; the model takes " + json(m.spec.input_shape).dump());

    const size_t keep = size_t(a.integer("misclassified", 0, 1000));
    train::ConfusionMatrix cm(int32_t(m.classes));
    train::MisclassifiedCollector wrong(int32_t(m.classes), keep);
    train::Classifier model{*m.program, m.x, m.y, m.logits, m.classes};
    // --logits: one row per sample as the batches come, which is dataset order (the loader does
    // not shuffle here and hands batches out in order): index, label, argmax, the logits in %.9g,
    // enough digits for a float to read back bit for bit.
    const bool want_logits = a.given("logits");
    std::string logits_csv;
    if (want_logits) {
        logits_csv = "index,label,predicted";
        for (int64_t c = 0; c < m.classes; ++c) logits_csv += ",logit_" + std::to_string(c);
        logits_csv += "\n";
    }
    const train::Evaluation result = train::evaluate(model, loader, [&](const train::EvaluatedBatch& b) {
        cm.add_logits(b.logits, b.labels);
        wrong.add_logits(b.logits, b.labels, b.indices);
        if (!want_logits) return;
        const size_t classes = size_t(m.classes);
        char field[80];
        for (size_t i = 0; i < b.labels.size(); ++i) {
            const std::span<const float> row = b.logits.subspan(i * classes, classes);
            std::snprintf(field, sizeof field, "%lld,%lld,%lld", static_cast<long long>(b.indices[i]),
                          static_cast<long long>(b.labels[i]), static_cast<long long>(train::argmax(row)));
            logits_csv += field;
            for (const float v : row) {
                std::snprintf(field, sizeof field, ",%.9g", double(v));
                logits_csv += field;
            }
            logits_csv += '\n';
        }
    });
    // First of the files, so that a --logits path that cannot be written stops the tool before
    // the pictures and evaluation.json in --out are replaced.
    if (want_logits) kiln::io::write_file_atomic(a.text("logits"), logits_csv);

    std::vector<std::string> written;
    fs::create_directories(out.path());
    const std::string confusion_png = out.confusion_png(), wrong_png = out.misclassified_png();
    kiln::report::save_png(confusion_png,
                           kiln::report::draw_confusion_matrix(cm, m.spec.class_names, kiln::tools::picture_density).canvas);
    written.push_back(confusion_png);
    const auto& names = m.spec.class_names;
    if (wrong.size() > 0) {
        std::vector<kiln::report::GridCell> cells;
        kiln::data::SampleBuffer buf;
        for (size_t k = 0; k < wrong.size(); ++k) {
            const train::Misclassified w = wrong[k];
            int64_t label = 0;
            const kiln_array raw = data.get(w.index, buf, label);
            cells.push_back({kiln::report::to_picture(raw, "sample " + std::to_string(w.index)),
                             kiln::report::prediction_caption(names[size_t(w.label)], names[size_t(w.prediction)],
                                                              w.probabilities[size_t(w.prediction)])});
        }
        kiln::report::save_png(wrong_png, kiln::report::draw_image_grid(cells, {.density = kiln::tools::picture_density}).canvas);
        written.push_back(wrong_png);
    } else if (fs::exists(wrong_png)) {
        fs::remove(wrong_png);  // an earlier evaluation's samples would not belong to this one
    }
    auto top3 = [&](const train::Misclassified& w) {
        std::vector<std::pair<std::string, double>> top;
        for (int64_t c : train::top_k(w.probabilities, 3)) top.push_back({names[size_t(c)], w.probabilities[size_t(c)]});
        return top;
    };
    json j;
    j["data"] = data.spec(), j["weights"] = m.weights, j["device"] = m.device, j["samples"] = result.samples;
    j["accuracy"] = result.accuracy, j["loss"] = result.loss, j["classes"] = names;
    json matrix = json::array();
    for (int32_t t = 0; t < cm.num_classes(); ++t) {
        json row = json::array();
        for (int32_t p = 0; p < cm.num_classes(); ++p) row.push_back(cm.count(t, p));
        matrix.push_back(row);
    }
    j["confusion"] = matrix;
    j["per_class"] = json::array();
    for (int32_t c = 0; c < cm.num_classes(); ++c)
        j["per_class"].push_back({{"class", names[size_t(c)]}, {"precision", cm.precision(c)}, {"recall", cm.recall(c)},
                                  {"f1", cm.f1(c)}, {"support", cm.support(c)}});
    j["macro"] = {{"precision", cm.macro_precision()}, {"recall", cm.macro_recall()}, {"f1", cm.macro_f1()}};
    j["misclassified_total"] = wrong.seen();
    j["misclassified"] = json::array();
    for (size_t k = 0; k < wrong.size(); ++k) {
        const train::Misclassified w = wrong[k];
        json top = json::array();
        for (const auto& [name, p] : top3(w)) top.push_back({{"class", name}, {"probability", p}});
        j["misclassified"].push_back({{"index", w.index}, {"true", names[size_t(w.label)]},
                                      {"predicted", names[size_t(w.prediction)]},
                                      {"p_true", w.probabilities[size_t(w.label)]},
                                      {"p_predicted", w.probabilities[size_t(w.prediction)]}, {"top", top}});
    }
    written.push_back(out.evaluation_json());
    written.push_back(out.report_html());
    if (want_logits) written.push_back(a.text("logits"));
    j["files"] = written;
    kiln::io::write_file_atomic(out.evaluation_json(), j.dump(2) + "\n");
    kiln::tools::write_run_report(m.run, out);
    if (format == Format::json) {
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    if (format == Format::csv) {  // sections separated by a blank line, each with its header
        std::printf("metric,value\nsamples,%lld\naccuracy,%.6f\nloss,%.6f\n\nclass,precision,recall,f1,support\n",
                    static_cast<long long>(result.samples), result.accuracy, result.loss);
        for (int32_t c = 0; c < cm.num_classes(); ++c)
            std::printf("%s,%.6f,%.6f,%.6f,%lld\n", csv(names[size_t(c)]).c_str(), cm.precision(c), cm.recall(c),
                        cm.f1(c), static_cast<long long>(cm.support(c)));
        std::printf("macro,%.6f,%.6f,%.6f,%lld\n\ntrue\\predicted", cm.macro_precision(), cm.macro_recall(), cm.macro_f1(),
                    static_cast<long long>(cm.total()));
        for (const std::string& n : names) std::printf(",%s", csv(n).c_str());
        for (int32_t t = 0; t < cm.num_classes(); ++t) {
            std::printf("\n%s", csv(names[size_t(t)]).c_str());
            for (int32_t p = 0; p < cm.num_classes(); ++p) std::printf(",%lld", static_cast<long long>(cm.count(t, p)));
        }
        std::printf("\n\nindex,true,predicted,p_true,p_predicted\n");
        for (size_t k = 0; k < wrong.size(); ++k) {
            const train::Misclassified w = wrong[k];
            std::printf("%lld,%s,%s,%.6f,%.6f\n", static_cast<long long>(w.index), csv(names[size_t(w.label)]).c_str(),
                        csv(names[size_t(w.prediction)]).c_str(), w.probabilities[size_t(w.label)],
                        w.probabilities[size_t(w.prediction)]);
        }
        return 0;
    }
    size_t width = 9;  // "macro avg"
    for (const std::string& n : names) width = std::max(width, n.size());
    const int w = int(width);
    std::printf("%s: %lld samples, weights %s, device %s\naccuracy  %.4f\nloss      %.4f\n\n", data.spec().c_str(),
                static_cast<long long>(result.samples), m.weights.c_str(), m.device.c_str(), result.accuracy, result.loss);
    std::printf("%-*s  precision  recall      f1  support\n", w, "class");
    for (int32_t c = 0; c < cm.num_classes(); ++c)
        std::printf("%-*s  %9.4f  %6.4f  %6.4f  %7lld\n", w, names[size_t(c)].c_str(), cm.precision(c), cm.recall(c), cm.f1(c),
                    static_cast<long long>(cm.support(c)));
    std::printf("%-*s  %9.4f  %6.4f  %6.4f  %7lld\n\n", w, "macro avg", cm.macro_precision(), cm.macro_recall(), cm.macro_f1(),
                static_cast<long long>(cm.total()));
    std::printf("confusion matrix (rows: true class, columns: predicted, in class order)\n");
    for (int32_t t = 0; t < cm.num_classes(); ++t) {
        std::printf("%-*s", w, names[size_t(t)].c_str());
        for (int32_t p = 0; p < cm.num_classes(); ++p) std::printf(" %5lld", static_cast<long long>(cm.count(t, p)));
        std::printf("\n");
    }
    std::printf("\nmisclassified: %lld (%zu shown)\n", static_cast<long long>(wrong.seen()), wrong.size());
    if (wrong.size() > 0) std::printf("  index  %-*s  %-*s  p_true  p_pred  top-3\n", w, "true", w, "predicted");
    for (size_t k = 0; k < wrong.size(); ++k) {
        const train::Misclassified x = wrong[k];
        std::string top;
        for (const auto& [name, p] : top3(x)) top += (top.empty() ? "" : ", ") + name + " " + kiln::tools::format_number(p, "%.2f");
        std::printf("%7lld  %-*s  %-*s  %6.4f  %6.4f  %s\n", static_cast<long long>(x.index), w, names[size_t(x.label)].c_str(), w,
                    names[size_t(x.prediction)].c_str(), x.probabilities[size_t(x.label)], x.probabilities[size_t(x.prediction)],
                    top.c_str());
    }
    std::printf("\nwrote");
    for (const std::string& f : written) std::printf(" %s", f.c_str());
    std::printf("\n");
    return 0;
}

// ---- prediction ----

// A picture's caption: the file's name (its last 24 characters), "(inverted)" when it was, the
// top-k lines, and "unlike training" when it warned.
std::string prediction_cell_caption(const std::string& image, const kiln::data::Prepared& p,
                                    const std::vector<std::pair<std::string, float>>& top) {
    std::string name = fs::path(image).filename().string();
    if (name.size() > 24) name = "..." + name.substr(name.size() - 21);
    std::string caption = name + (p.inverted ? " (inverted)" : "");
    for (const auto& [cls, prob] : top) caption += "\n" + cls + " " + kiln::tools::format_number(prob, "%.2f");
    if (!p.unlike_training.empty()) caption += "\nunlike training";
    return caption;
}

// Each image prepared (kiln/data/image_preparer.h), run and its top-k printed. An image that
// cannot be read or decoded is reported on stderr and the others are still predicted; the status
// is then 1. The prepared inputs go to predictions.png in `out`, captioned with their top-k.
int predict(Model& m, const std::vector<std::string>& images, size_t k, Format format, kiln::data::PrepareOptions options,
            const train::RunDir& out) {
    kiln::data::PluginRegistry plugins;
    const kiln::ImageStatistics& record = m.spec.input_statistics;
    if (record.recorded()) options.training = &record;
    else if (options.invert == kiln::data::Invert::automatic)
        std::fprintf(stderr,
                     "kiln-infer: warning: %s records no input statistics (trained before kiln-train measured them): no image is "
                     "inverted, levelled or compared with the training images; --invert yes inverts them\n",
                     m.run.model_json().c_str());
    const kiln::data::ImagePreparer prep(plugins, m.input(), m.spec.eval_transforms, options);
    std::vector<float> logits(size_t(m.classes)), probs(logits.size());
    json j = json::array();
    std::vector<kiln::report::GridCell> cells;
    int failed = 0;
    if (format == Format::csv) std::printf("image,rank,class,probability\n");
    for (const std::string& image : images) {
        kiln::data::Prepared prepared;
        try {
            prepared = prep.prepare_file(image);
        } catch (const kiln::Error& e) {
            // A file that cannot be read (io) or decoded (format): the codec's message starts with
            // its name and says why. Anything else is the run's problem and stops the tool.
            if (e.code() != Errc::io && e.code() != Errc::format) throw;
            std::fprintf(stderr, "kiln-infer: error: %s\n", e.what());
            j.push_back({{"image", image}, {"error", e.what()}});
            ++failed;
            continue;
        }
        m.program->write_input(m.x, prepared.x.data<float>(), 1);
        m.program->forward(1);
        m.program->read(m.logits, logits.data());
        train::softmax(std::span<const float>(logits.data(), size_t(m.classes)), probs);
        const std::span<const float> p(probs);
        const std::vector<int64_t> best = train::top_k(p, k);
        std::vector<std::pair<std::string, float>> top;
        for (const int64_t c : best) top.push_back({m.spec.class_names[size_t(c)], p[size_t(c)]});
        if (!prepared.unlike_training.empty()) {
            std::string why;
            for (const std::string& phrase : prepared.unlike_training) why += (why.empty() ? "" : "; ") + phrase;
            std::fprintf(stderr, "kiln-infer: warning: %s is unlike the training images, so its prediction may mislead: %s\n",
                         image.c_str(), why.c_str());
        }
        json row = {{"image", image}, {"inverted", prepared.inverted}, {"unlike_training", prepared.unlike_training},
                    {"top", json::array()}};
        if (format == Format::table) std::printf("%s%s\n", image.c_str(), prepared.inverted ? " (inverted)" : "");
        for (size_t r = 0; r < top.size(); ++r) {
            const auto& [name, prob] = top[r];
            if (format == Format::table)  // ranks right-aligned: "  9." above " 10."
                std::printf("  %*zu. %-20s %.4f\n", int(std::to_string(top.size()).size()), r + 1, name.c_str(), prob);
            if (format == Format::csv) std::printf("%s,%zu,%s,%.6f\n", csv(image).c_str(), r + 1, csv(name).c_str(), prob);
            row["top"].push_back({{"class", name}, {"index", best[r]}, {"probability", prob}});
        }
        j.push_back(row);
        std::string caption = prediction_cell_caption(image, prepared, top);
        cells.push_back({std::move(prepared.picture), std::move(caption)});
    }
    std::vector<std::string> written;
    if (!cells.empty()) {
        fs::create_directories(out.path());
        kiln::report::save_png(out.predictions_png(),
                               kiln::report::draw_image_grid(cells, {.scale = 4, .density = kiln::tools::picture_density}).canvas);
        kiln::tools::write_run_report(m.run, out);
        written = {out.predictions_png(), out.report_html()};
    }
    if (format == Format::json)
        std::printf("%s\n", json{{"weights", m.weights}, {"device", m.device}, {"predictions", j}, {"files", written}}.dump(2).c_str());
    if (format == Format::table && !written.empty()) std::printf("wrote %s %s\n", written[0].c_str(), written[1].c_str());
    if (failed) std::fprintf(stderr, "kiln-infer: %d of %zu images could not be predicted\n", failed, images.size());
    return failed ? 1 : 0;
}

// ---- filters ----

int filters(Model& m, Format format, const train::RunDir& out) {
    const kiln::StateEntry* conv = nullptr;
    for (const kiln::StateEntry& e : m.program->state())
        if (e.kind == kiln::StateEntry::param && e.shape.rank == 4) {
            conv = &e;
            break;
        }
    if (!conv) fail(Errc::unsupported, m.run.model_json() + ": the model has no convolution, so no filters to draw");
    if (conv->dtype != kiln::DType::f32) fail(Errc::unsupported, conv->name + ": filters are drawn from f32 weights only");
    std::vector<float> weight(size_t(conv->shape.numel()));
    m.program->read_state(*conv, weight.data());
    fs::create_directories(out.path());
    const std::string path = out.filters_png();
    kiln::report::save_png(path, kiln::report::draw_filters(weight, conv->shape, {.density = kiln::tools::picture_density}).canvas);
    kiln::tools::write_run_report(m.run, out);
    const std::vector<int64_t> shape(conv->shape.dims, conv->shape.dims + conv->shape.rank);
    if (format == Format::json)
        std::printf("%s\n", json{{"filters", path}, {"layer", conv->name}, {"shape", shape}, {"report", out.report_html()}}.dump(2).c_str());
    else if (format == Format::csv)
        std::printf("file,layer,shape\n%s,%s,%s\n", csv(path).c_str(), csv(conv->name).c_str(), csv(conv->shape.str()).c_str());
    else
        std::printf("wrote %s: %s %s\nwrote %s\n", path.c_str(), conv->name.c_str(), conv->shape.str().c_str(), out.report_html().c_str());
    return 0;
}

// ---- the command line ----

// --predict takes the images that follow it up to the next option: rewritten to the
// `--predict=FIRST` form Command parses, the images collected.
std::vector<std::string> rewrite(int argc, char** argv, std::vector<std::string>& images) {
    std::vector<std::string> words{argv[0]};
    for (int i = 1; i < argc; ++i) {
        const std::string w = argv[i];
        if (w == "--") {
            words.insert(words.end(), argv + i, argv + argc);
            break;
        }
        if (w == "--predict" || w.rfind("--predict=", 0) == 0) {
            if (w != "--predict") images.push_back(w.substr(10));
            while (i + 1 < argc && argv[i + 1][0] != '-') images.push_back(argv[++i]);
            words.push_back("--predict=" + (images.empty() ? std::string() : images.front()));
        } else {
            words.push_back(w);
        }
    }
    return words;
}

int infer_command(int argc, char** argv) {
    Command cmd("kiln-infer",
                "Uses a trained run (a kiln-train run directory, or a .safetensors file with model.json beside it):\n"
                "  --data SPEC          evaluate: accuracy, loss, confusion matrix, precision/recall/F1, the\n"
                "                       misclassified samples; writes confusion.png, misclassified.png, report.html\n"
                "  --predict IMG [IMG…] the top-k classes of PNG or JPEG files of any size and colour mode, prepared\n"
                "                       like the training images (--fit, --invert, --background; tools/README.md);\n"
                "                       writes predictions.png, what the model got\n"
                "  --filters            the first convolution's weights as filters.png\n"
                "With --data, --logits FILE also writes each evaluated sample's logits as CSV, in dataset order:\n"
                "index,label,predicted,logit_0,…,logit_{C-1} (predicted: the first largest logit; %.9g, so\n"
                "the floats read back exactly).\n"
                "Output is a table, or with --csv or --json CSV or a JSON document.");
    cmd.positional("run", "RUN_DIR or FILE.safetensors");
    cmd.option("data", "SPEC", "evaluate on this dataset, <plugin>:<config>")
        .option("predict", "IMG...", "predict the classes of these images (the run comes first)")
        .flag("filters", "draw the first convolution's filters")
        .option("limit", "N", "evaluate the first N samples; 0: all", "0")
        .option("batch", "N", "evaluation batch size", "64")
        .option("misclassified", "N", "misclassified samples to list and draw", "16")
        .option("logits", "FILE", "evaluation: write every sample's index, label, prediction and logits as CSV")
        .option("top-k", "K", "classes to print per image", "3")
        .option("fit", "MODE", "--predict: object (cut out, padded), pad, crop or stretch to the model's shape", "object")
        .option("invert", "MODE", "--predict: auto (a light background for a dark-background run), yes or no", "auto")
        .option("background", "MODE", "--predict: match (moved to the training images' level) or keep", "match")
        .option("out", "DIR", "where the pictures and report.html go (default: the run directory)")
        .option("workers", "N", "data loading threads", "2")
        .option("device", kiln::tools::device_value_name, "where to run the model: cpu or cuda", "cpu")
        .flag("int8", "run the run's int8 model (best.int8.safetensors, made by kiln-export --int8 --calibrate)")
        .flag("csv", "print CSV")
        .flag("json", "print a JSON document");
    std::vector<std::string> images;
    std::vector<std::string> words = rewrite(argc, argv, images);
    std::vector<char*> wv;
    for (std::string& w : words) wv.push_back(w.data());
    // `kiln-infer --predict photo.jpg runs/main`: the run went last, among the images.
    const auto is_run = [](const std::string& p) { return fs::exists(train::RunDir(p).model_json()); };
    if (!images.empty() && is_run(images.back()) && std::none_of(words.begin() + 1, words.end(), [&](const std::string& w) {
            return w.rfind("-", 0) != 0 && is_run(w);
        }))
        throw kiln::tools::UsageError("the run comes first: " + std::string(argv[0]) + " " + images.back() + " --predict " +
                                          images.front() + (images.size() > 2 ? " …" : ""),
                                      cmd.usage());
    const Args a = cmd.parse(int(wv.size()), wv.data(), 1);
    if (a.help) {
        std::fputs(cmd.help().c_str(), stdout);
        return 0;
    }
    const int modes = int(a.given("data")) + int(a.given("predict")) + int(a.given("filters"));
    if (modes != 1) throw a.usage_error("give one of --data SPEC, --predict IMG… or --filters");
    if (a.given("csv") && a.given("json")) throw a.usage_error("give --csv or --json, not both");
    if (a.given("predict") && images.empty()) throw a.usage_error("--predict needs at least one image");
    if (a.given("logits") && !a.given("data"))
        throw a.usage_error("--logits FILE goes with --data SPEC: it writes the evaluated samples' logits");
    if (a.given("logits") && a.text("logits").empty()) throw a.usage_error("--logits needs a file name");
    if ((a.given("fit") || a.given("invert") || a.given("background")) && !a.given("predict"))
        throw a.usage_error("--fit, --invert and --background go with --predict IMG…: they say how the images are prepared");
    kiln::data::PrepareOptions prepare;
    const std::string fit = a.choice("fit", {"object", "pad", "crop", "stretch"}), invert = a.choice("invert", {"auto", "yes", "no"});
    prepare.fit = fit == "object" ? kiln::data::Fit::object
                  : fit == "pad"  ? kiln::data::Fit::pad
                  : fit == "crop" ? kiln::data::Fit::crop
                                  : kiln::data::Fit::stretch;
    prepare.invert = invert == "auto" ? kiln::data::Invert::automatic : invert == "yes" ? kiln::data::Invert::yes : kiln::data::Invert::no;
    prepare.background = a.choice("background", {"match", "keep"}) == "match" ? kiln::data::Background::match : kiln::data::Background::keep;
    const Format format = a.given("json") ? Format::json : a.given("csv") ? Format::csv : Format::table;
    const int64_t batch = a.given("data") ? a.integer("batch", 1, 1'000'000) : 1;
    const size_t k = size_t(a.integer("top-k", 1, 1'000'000));
    const std::string device = kiln::tools::device_of(a);  // before the run is read: a missing device fails first
    if (a.given("int8") && a.given("filters")) throw a.usage_error("--filters draws the float weights; --int8 has codes");
    Model m = load_model(a.positionals[0], batch, device, /*labelled=*/a.given("data"), a.given("int8"));
    if (a.given("predict") && int64_t(k) > m.classes)
        throw a.usage_error("--top-k " + a.text("top-k") + ": the run has " + std::to_string(m.classes) + " classes");
    const train::RunDir out = a.given("out") ? train::RunDir(a.text("out")) : m.run;
    if (a.given("data")) return evaluate(m, a, format, out);
    if (a.given("predict")) return predict(m, images, k, format, prepare, out);
    return filters(m, format, out);
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    return kiln::tools::run_tool("kiln-infer", [&] { return infer_command(argc, argv); });
}
