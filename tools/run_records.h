// What a run directory says about itself, read for its page (run_report.h) and for kiln-report
// compare: kiln-train's training.json (written here too), the options recorded in last.safetensors
// ("kiln.config"), the history, and kiln-infer's evaluation.json. These files come from outside
// the reading process: each is read after a size check, and a missing or malformed field is
// Error(format) naming the file and the field ("runs/a/evaluation.json: per_class[3].f1: expected
// a number").
#pragma once
#include <algorithm>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/core/limits.h"
#include "kiln/core/read_file.h"
#include "kiln/io/atomic_file.h"
#include "kiln/io/safetensors.h"
#include "kiln/train/fit.h"
#include "kiln/train/run_files.h"

namespace kiln::tools {

// A field of a JSON document read from `origin`, its place written as a path ("per_class[3].f1").
class JsonField {
public:
    JsonField(const nlohmann::json& j, std::string origin, std::string path = "")
        : j_(&j), origin_(std::move(origin)), path_(std::move(path)) {}

    bool has(const std::string& key) const { return j_->is_object() && j_->contains(key); }
    JsonField at(const std::string& key) const {
        const std::string path = path_.empty() ? key : path_ + "." + key;
        if (!j_->is_object()) bad("expected an object");
        if (!j_->contains(key)) fail(Errc::format, origin_ + ": " + path + ": missing");
        return {(*j_)[key], origin_, path};
    }
    JsonField at(size_t k) const { return {(*j_)[k], origin_, path_ + "[" + std::to_string(k) + "]"}; }
    // A list of at most `max` entries.
    size_t size(size_t max) const {
        if (!j_->is_array()) bad("expected a list");
        if (j_->size() > max) bad(std::to_string(j_->size()) + " entries, more than " + std::to_string(max));
        return j_->size();
    }
    std::string text() const {
        if (!j_->is_string()) bad("expected text");
        return j_->get<std::string>();
    }
    double number() const {
        if (!j_->is_number()) bad("expected a number");
        return j_->get<double>();
    }
    int64_t integer(int64_t lo, int64_t hi) const {
        if (!j_->is_number_integer() || j_->get<int64_t>() < lo || j_->get<int64_t>() > hi)
            bad("expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
        return j_->get<int64_t>();
    }
    const nlohmann::json& json() const { return *j_; }

    [[noreturn]] void bad(const std::string& why) const {
        fail(Errc::format, origin_ + ": " + (path_.empty() ? "" : path_ + ": ") + why);
    }

private:
    const nlohmann::json* j_;
    std::string origin_, path_;
};

// A JSON file of at most max_bytes, parsed; Error(format) naming it when it is not JSON.
inline nlohmann::json read_json(const std::string& path, const char* what, int64_t max_bytes) {
    try {
        return nlohmann::json::parse(read_file(path, what, max_bytes));
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
        fail(Errc::format, path + ": not valid JSON: " + e.what());
    }
}

// A time as "2026-12-08 14:03:59 UTC".
inline std::string format_utc(std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char s[32];
    std::strftime(s, sizeof s, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return s;
}
inline std::string utc_now() { return format_utc(std::time(nullptr)); }

// TrainingFacts::status: "training", then how fit() ended.
inline constexpr const char* training_statuses[] = {"training", "completed", "stopped early", "interrupted", "diverged"};
inline const char* training_status(train::FitResult::End end) {
    switch (end) {
    case train::FitResult::completed: return "completed";
    case train::FitResult::early_stopped: return "stopped early";
    case train::FitResult::interrupted: return "interrupted";
    case train::FitResult::diverged: return "diverged";
    }
    return "training";
}

// training.json: what kiln-train tells about a run beyond its options (kiln.config) and history.
struct TrainingFacts {
    std::string model;           // a built-in's name or the model file
    int64_t parameters = 0;
    std::string data;            // --data
    std::string validation;      // how it was validated: a dataset, a split of --data, or "none"
    int64_t train_samples = 0, valid_samples = 0, classes = 0;
    std::string device;          // Program::backend().description()
    int64_t ranks = 1;           // processes of a data-parallel run
    int64_t epochs = 0;          // asked for
    std::string monitor;         // what picks the best epoch (--checkpoint-monitor, resolved)
    std::string started{}, updated{};  // utc_now() at the first start, at the latest write
    std::string status = "training";  // then training_status(how fit() ended)
    std::string message{};       // why it stopped early or diverged
};

inline std::string training_facts_json(const TrainingFacts& f) {
    const nlohmann::json j = {{"model", f.model},       {"parameters", f.parameters}, {"data", f.data},
                              {"validation", f.validation}, {"train_samples", f.train_samples},
                              {"valid_samples", f.valid_samples}, {"classes", f.classes}, {"device", f.device},
                              {"ranks", f.ranks},       {"epochs", f.epochs},         {"monitor", f.monitor},
                              {"started", f.started},   {"updated", f.updated},       {"status", f.status},
                              {"message", f.message}};
    return j.dump(2) + "\n";
}

inline void write_training_facts(const std::string& path, const TrainingFacts& f) {
    io::write_file_atomic(path, training_facts_json(f));
}

inline TrainingFacts read_training_facts(const std::string& path) {
    const nlohmann::json j = read_json(path, "training facts", int64_t(1) << 20);
    const JsonField f(j, path);
    TrainingFacts t;
    t.model = f.at("model").text();
    t.parameters = f.at("parameters").integer(0, limits::parameters);
    t.data = f.at("data").text();
    t.validation = f.at("validation").text();
    t.train_samples = f.at("train_samples").integer(0, limits::samples);
    t.valid_samples = f.at("valid_samples").integer(0, limits::samples);
    t.classes = f.at("classes").integer(0, limits::classes);
    t.device = f.at("device").text();
    t.ranks = f.at("ranks").integer(1, 1 << 20);
    t.epochs = f.at("epochs").integer(0, 1'000'000);
    t.monitor = f.at("monitor").text();
    if (!train::is_metric(t.monitor)) f.at("monitor").bad("expected valid_loss, valid_acc, train_loss or train_acc");
    t.started = f.at("started").text();
    t.updated = f.at("updated").text();
    t.status = f.at("status").text();
    if (std::find(std::begin(training_statuses), std::end(training_statuses), t.status) == std::end(training_statuses))
        f.at("status").bad("expected training, completed, stopped early, interrupted or diverged");
    t.message = f.at("message").text();
    return t;
}

// The options kiln-train recorded in last.safetensors ("kiln.config": option name → its text, ""
// for a default), sorted by name; empty when the run has no last.safetensors.
inline std::vector<std::pair<std::string, std::string>> read_settings(const train::RunDir& run) {
    const std::string last = run.last_safetensors();
    if (!std::filesystem::exists(last)) return {};
    const io::Metadata meta = io::load_safetensors_metadata(last);
    const auto it = meta.find("kiln.config");
    if (it == meta.end()) fail(Errc::format, last + ": no kiln.config metadata (not written by kiln-train?)");
    nlohmann::json config;
    try {
        config = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception& e) {
        fail(Errc::format, last + ": kiln.config is not valid JSON: " + e.what());
    }
    const JsonField c(config, last, "kiln.config");
    if (!config.is_object()) c.bad("expected an object");
    std::vector<std::pair<std::string, std::string>> settings;
    for (const auto& item : config.items()) settings.push_back({item.key(), c.at(item.key()).text()});
    return settings;
}

// Everything a run directory holds about its training (each part empty where its file is absent:
// a run from before training.json, or one not trained yet).
struct RunRecord {
    train::RunDir dir{"."};
    std::optional<TrainingFacts> facts;
    std::vector<std::pair<std::string, std::string>> settings;
    std::vector<train::HistoryRow> history;

    // The best epoch by the checkpoint's monitor: the last row marked best; 0 without one.
    int64_t best_epoch() const {
        for (auto r = history.rbegin(); r != history.rend(); ++r)
            if (r->best) return r->epoch;
        return 0;
    }
    double training_seconds() const {
        double s = 0;
        for (const train::HistoryRow& r : history) s += r.seconds;
        return s;
    }
};

inline RunRecord read_run_record(const train::RunDir& dir) {
    namespace fs = std::filesystem;
    RunRecord r;
    r.dir = dir;
    if (fs::exists(dir.training_json())) r.facts = read_training_facts(dir.training_json());
    r.settings = read_settings(dir);
    if (fs::exists(dir.history_json()))
        r.history = train::parse_history_json(read_file(dir.history_json(), "history"), dir.history_json());
    return r;
}

// As read_run_record, for a directory that must be a kiln-train run: Error(io) naming it when it
// is not a directory or holds none of training.json, last.safetensors and history.json.
inline RunRecord read_run(const std::string& path) {
    namespace fs = std::filesystem;
    const train::RunDir dir(path);
    if (!fs::is_directory(path)) fail(Errc::io, path + ": not a directory (expected a kiln-train run directory)");
    if (!fs::exists(dir.training_json()) && !fs::exists(dir.last_safetensors()) && !fs::exists(dir.history_json()))
        fail(Errc::io, path + ": not a kiln-train run directory (no training.json, last.safetensors or history.json)");
    return read_run_record(dir);
}

// The parts of kiln-infer's evaluation.json that the page shows.
struct EvaluationRecord {
    std::string data, weights, device;
    int64_t samples = 0;
    double accuracy = 0, loss = 0;
    struct PerClass {
        std::string name;
        double precision = 0, recall = 0, f1 = 0;
        int64_t support = 0;
    };
    std::vector<PerClass> per_class;
    double macro_precision = 0, macro_recall = 0, macro_f1 = 0;
    int64_t misclassified_total = 0, misclassified_shown = 0;
};

inline EvaluationRecord read_evaluation(const std::string& path) {
    const nlohmann::json j = read_json(path, "evaluation", int64_t(64) << 20);
    const JsonField e(j, path);
    EvaluationRecord r;
    r.data = e.at("data").text();
    r.weights = e.at("weights").text();
    r.device = e.at("device").text();
    r.samples = e.at("samples").integer(0, limits::samples);
    r.accuracy = e.at("accuracy").number();
    r.loss = e.at("loss").number();
    const JsonField per_class = e.at("per_class");
    const size_t n = per_class.size(size_t(limits::classes));
    for (size_t k = 0; k < n; ++k) {
        const JsonField c = per_class.at(k);
        r.per_class.push_back({c.at("class").text(), c.at("precision").number(), c.at("recall").number(), c.at("f1").number(),
                               c.at("support").integer(0, limits::samples)});
    }
    const JsonField macro = e.at("macro");
    r.macro_precision = macro.at("precision").number();
    r.macro_recall = macro.at("recall").number();
    r.macro_f1 = macro.at("f1").number();
    r.misclassified_total = e.at("misclassified_total").integer(0, limits::samples);
    r.misclassified_shown = int64_t(e.at("misclassified").size(size_t(limits::samples)));
    return r;
}

}  // namespace kiln::tools
