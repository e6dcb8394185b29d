// A run's page, report.html, shared by kiln-train (after every epoch, and at its start and end),
// kiln-infer (after an evaluation or --filters) and kiln-report. The page is rendered from the
// run's files alone (run_records.h: training.json, the options in last.safetensors, the history,
// evaluation.json, and the pictures listed in run_pictures), so whichever tool writes it last, it
// holds what every tool recorded. Its sections: run (facts, dates, how training ended), settings,
// history (curves and table), evaluation (facts, per-class table, confusion matrix, mistakes),
// filters, and further pictures. While kiln-train runs the page reloads itself.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "kiln/report/curves.h"
#include "kiln/report/html.h"
#include "kiln/report/save.h"
#include "kiln/train/fit.h"
#include "kiln/train/run_files.h"
#include "run_records.h"

namespace kiln::tools {

// The run's pictures are drawn at 2 pixels a unit for high-DPI screens; the page shows them at
// half their pixel size.
inline constexpr int picture_density = 2;
// How often the page of a run still training reloads itself, in seconds.
inline constexpr int refresh_seconds = 10;

inline report::Curves curves_of(const std::vector<train::HistoryRow>& rows) {
    report::Curves c;
    for (const train::HistoryRow& r : rows) {
        c.train_loss.push_back(r.train_loss), c.train_accuracy.push_back(r.train_acc);
        c.val_loss.push_back(r.valid_loss), c.val_accuracy.push_back(r.valid_acc);
        c.lr.push_back(r.lr);
        if (r.best) c.best_epoch = r.epoch;
    }
    return c;
}

// curves.png: loss and accuracy per epoch, train against validation (a run without validation
// draws the training curves alone), the learning rate, and the best epoch marked.
inline void save_curves(const std::string& path, const std::vector<train::HistoryRow>& rows) {
    report::save_png(path, report::draw_curves(curves_of(rows), {.density = picture_density}).canvas);
}

// A picture of the run directory and the page section it goes in ("history", "evaluation",
// "filters", "predictions", or "pictures": a section of its own after those).
struct RunPicture {
    std::string (train::RunDir::*file)() const;
    const char* caption;
    const char* section = "pictures";
};

// The pictures a report shows, in this order, each where it is found first among `folders`.
inline std::vector<std::pair<std::string, report::Picture>> run_pictures(const std::vector<train::RunDir>& folders) {
    const RunPicture known[] = {
        {&train::RunDir::curves_png, "loss, accuracy and learning rate per epoch", "history"},
        {&train::RunDir::confusion_png, "confusion matrix", "evaluation"},
        {&train::RunDir::misclassified_png, "misclassified samples", "evaluation"},
        {&train::RunDir::filters_png, "filters of the first convolution", "filters"},
        {&train::RunDir::predictions_png, "predicted images as the model got them, with their top classes", "predictions"},
    };
    std::vector<std::pair<std::string, report::Picture>> pictures;
    for (const RunPicture& p : known)
        for (const train::RunDir& folder : folders)
            if (const std::string path = (folder.*p.file)(); std::filesystem::exists(path)) {
                pictures.push_back({p.section, {p.caption, path, picture_density, {}}});
                break;
            }
    return pictures;
}

inline std::string format_number(double v, const char* format = "%.4f") {
    if (std::isnan(v)) return "-";
    char s[32];
    std::snprintf(s, sizeof s, format, v);
    return s;
}

// "12.3 s", "4 min 05 s", "2 h 03 min".
inline std::string format_duration(double seconds) {
    char s[48];
    const long long whole = std::llround(seconds);
    if (seconds < 60) std::snprintf(s, sizeof s, "%.1f s", seconds);
    else if (whole < 3600) std::snprintf(s, sizeof s, "%lld min %02lld s", whole / 60, whole % 60);
    else std::snprintf(s, sizeof s, "%lld h %02lld min", whole / 3600, whole / 60 % 60);
    return s;
}

// The history table, its best epoch's row marked.
inline report::Table history_table(const std::vector<train::HistoryRow>& rows) {
    report::Table t{{"epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "lr", "seconds", "best"}, {}, {}};
    for (const train::HistoryRow& r : rows) {
        t.rows.push_back({std::to_string(r.epoch), format_number(r.train_loss), format_number(r.train_acc),
                          format_number(r.valid_loss), format_number(r.valid_acc), format_number(r.lr, "%.4g"),
                          format_number(r.seconds, "%.1f"), r.best ? "+" : ""});
        if (r.best) t.marked = {t.rows.size() - 1};
    }
    return t;
}

// The run section's first line: where training stands.
inline std::string status_line(const RunRecord& r) {
    const TrainingFacts& f = *r.facts;
    const std::string done = std::to_string(r.history.size()) + " of " + std::to_string(f.epochs) + " epochs";
    if (f.status == "training")
        return "training: " + done + " done (this page reloads itself every " + std::to_string(refresh_seconds) + " s)";
    if (f.status == "interrupted") return "interrupted after " + done + "; kiln-train --resume " + r.dir.path() + " continues it";
    return f.status + ": " + done + (f.message.empty() ? "" : " (" + f.message + ")");
}

inline report::Section run_section(const RunRecord& r) {
    report::Section s{"run", "Run", {}};
    report::Facts facts{{"run directory", r.dir.path()}};
    if (r.facts) {
        const TrainingFacts& f = *r.facts;
        s.blocks.push_back(report::Note{status_line(r)});
        facts.push_back({"model", f.model + " (" + std::to_string(f.parameters) + " parameters)"});
        facts.push_back({"training data", f.data + " (" + std::to_string(f.train_samples) + " samples, " +
                                              std::to_string(f.classes) + " classes)"});
        facts.push_back({"validation", f.validation == "none" ? "none"
                                                              : f.validation + " (" + std::to_string(f.valid_samples) + " samples)"});
        facts.push_back({"device", f.device + (f.ranks > 1 ? ", " + std::to_string(f.ranks) + " data-parallel processes" : "")});
        facts.push_back({"started", f.started});
        facts.push_back({f.status == "training" ? "last update" : "ended", f.updated});
    }
    if (!r.history.empty()) {
        facts.push_back({"training time", format_duration(r.training_seconds()) + " over " + std::to_string(r.history.size()) + " epochs"});
        for (const train::HistoryRow& row : r.history)
            if (row.epoch == r.best_epoch()) {
                const std::string by = r.facts ? " by " + r.facts->monitor + ": " + format_number(train::metric(row, r.facts->monitor)) : "";
                facts.push_back({"best epoch", std::to_string(row.epoch) + by});
            }
    }
    s.blocks.push_back(std::move(facts));
    return s;
}

inline report::Section settings_section(const RunRecord& r) {
    report::Section s{"settings", "Settings", {}};
    if (r.settings.empty()) {
        s.blocks.push_back(report::Note{"none recorded yet: kiln-train records its options in last.safetensors with each "
                                        "checkpoint, the first after epoch 1"});
        return s;
    }
    s.blocks.push_back(report::Note{"kiln-train's options as recorded in last.safetensors (kiln.config); "
                                    "kiln-train --resume continues with them."});
    report::Table t{{"option", "value"}, {}, {}};
    for (const auto& [name, value] : r.settings) t.rows.push_back({"--" + name, value.empty() ? "(default)" : value});
    s.blocks.push_back(std::move(t));
    return s;
}

inline report::Section evaluation_section(const std::string& path) {
    const EvaluationRecord e = read_evaluation(path);
    // The file's time: when this evaluation was made.
    const auto written = std::chrono::file_clock::to_sys(std::filesystem::last_write_time(path));
    report::Facts facts{{"data", e.data + " (" + std::to_string(e.samples) + " samples)"},
                        {"weights", e.weights},
                        {"device", e.device},
                        {"evaluated", format_utc(std::chrono::system_clock::to_time_t(written))},
                        {"accuracy", format_number(100 * e.accuracy, "%.2f %%")},
                        {"mean loss", format_number(e.loss)},
                        {"macro precision / recall / F1",
                         format_number(e.macro_precision) + " / " + format_number(e.macro_recall) + " / " + format_number(e.macro_f1)}};
    report::Table t{{"class", "precision", "recall", "f1", "support"}, {}, {}};
    int64_t total = 0;
    for (const EvaluationRecord::PerClass& c : e.per_class) {
        t.rows.push_back({c.name, format_number(c.precision), format_number(c.recall), format_number(c.f1), std::to_string(c.support)});
        total += c.support;
    }
    t.rows.push_back({"macro avg", format_number(e.macro_precision), format_number(e.macro_recall), format_number(e.macro_f1),
                      std::to_string(total)});
    t.marked = {t.rows.size() - 1};
    return {"evaluation",
            "Evaluation",
            {std::move(facts), std::move(t),
             report::Note{"misclassified: " + std::to_string(e.misclassified_total) + " of " + std::to_string(e.samples) + " (" +
                          std::to_string(e.misclassified_shown) + " shown)"}}};
}

inline std::string section_heading(const std::string& id) {
    if (id == "history") return "Training";
    if (id == "evaluation") return "Evaluation";
    if (id == "filters") return "Filters";
    if (id == "predictions") return "Predictions";
    return "Pictures";
}

// The page of the run in `run`, with kiln-infer's evaluation and pictures from `out` (its --out;
// the run directory itself otherwise). Errors name the file and field that is wrong.
inline report::HtmlReport run_page(const train::RunDir& run, const train::RunDir& out) {
    const RunRecord r = read_run_record(run);
    report::HtmlReport page;
    page.title = r.facts ? "kiln run: " + r.facts->model + " on " + r.facts->data : "kiln run " + run.path();
    if (r.facts && r.facts->status == "training") page.refresh_seconds = refresh_seconds;
    page.sections = {run_section(r), settings_section(r)};
    auto section = [&](const std::string& id) -> report::Section& {  // made, after the others, when missing
        for (report::Section& s : page.sections)
            if (s.id == id) return s;
        return page.sections.emplace_back(report::Section{id, section_heading(id), {}});
    };
    section("history");
    if (std::filesystem::exists(out.evaluation_json())) page.sections.push_back(evaluation_section(out.evaluation_json()));
    for (auto& [id, picture] : run_pictures({out, run})) section(id).blocks.push_back(std::move(picture));
    if (!r.history.empty()) section("history").blocks.push_back(history_table(r.history));
    else section("history").blocks.push_back(report::Note{"no epoch finished yet"});
    return page;
}

// report.html in `out` (see run_page).
inline void write_run_report(const train::RunDir& run, const train::RunDir& out) {
    report::write_html_report(out.report_html(), run_page(run, out));
}

}  // namespace kiln::tools
