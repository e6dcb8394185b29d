// kiln-report: pages of kiln-train runs.
//   kiln-report compare runs/a runs/b runs/c --out runs/abc.html   several runs side by side
//   kiln-report page runs/a                                        rewrite runs/a/report.html
// compare writes one self-contained page, TensorBoard's scalars view in the manner of the run pages:
// the runs' facts and settings side by side (the rows where they differ marked), and one picture
// of their loss, accuracy and learning-rate curves overlaid. page renders a run's report.html
// again from its files (tools/run_report.h), as kiln-train and kiln-infer do after their work.
// Exit status: 0 written, 1 error (a directory that is not a run, a malformed file: both named),
// 2 usage mistake.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "args.h"
#include "kiln/image/codec.h"
#include "kiln/report/curves.h"
#include "kiln/report/html.h"
#include "run_records.h"
#include "run_report.h"

namespace {

namespace train = kiln::train;
namespace report = kiln::report;
using kiln::tools::Command;
using kiln::tools::format_number;
using kiln::tools::RunRecord;

// A table whose first column names its rows and whose other columns are the runs; rows whose
// values are not all the same are marked.
struct SideBySide {
    report::Table table;
    void row(const std::string& name, const std::vector<std::string>& values) {
        std::vector<std::string> cells{name};
        cells.insert(cells.end(), values.begin(), values.end());
        if (std::set<std::string>(values.begin(), values.end()).size() > 1) table.marked.push_back(table.rows.size());
        table.rows.push_back(std::move(cells));
    }
};

std::vector<std::string> column_names(const std::vector<RunRecord>& runs) {
    std::vector<std::string> columns{""};
    for (const RunRecord& r : runs) columns.push_back(r.dir.path());
    return columns;
}

// One line per fact: what training.json and the history tell (a run from before training.json
// shows "-" where they are missing).
report::Table facts_table(const std::vector<RunRecord>& runs) {
    SideBySide s{{column_names(runs), {}, {}}};
    auto each = [&](const char* name, auto value) {
        std::vector<std::string> values;
        for (const RunRecord& r : runs) values.push_back(value(r));
        s.row(name, values);
    };
    auto fact = [](auto member) {
        return [member](const RunRecord& r) { return r.facts ? member(*r.facts) : std::string("-"); };
    };
    using Facts = kiln::tools::TrainingFacts;
    each("model", fact([](const Facts& f) { return f.model; }));
    each("parameters", fact([](const Facts& f) { return std::to_string(f.parameters); }));
    each("training data", fact([](const Facts& f) { return f.data + " (" + std::to_string(f.train_samples) + " samples)"; }));
    each("validation", fact([](const Facts& f) { return f.validation; }));
    each("device", fact([](const Facts& f) { return f.device; }));
    each("started", fact([](const Facts& f) { return f.started; }));
    each("status", fact([](const Facts& f) { return f.status; }));
    each("epochs", [](const RunRecord& r) {
        return std::to_string(r.history.size()) + (r.facts ? " of " + std::to_string(r.facts->epochs) : "");
    });
    each("best epoch", [](const RunRecord& r) {
        const int64_t best = r.best_epoch();
        return best > 0 ? std::to_string(best) + (r.facts ? " by " + r.facts->monitor : "") : std::string("-");
    });
    auto at_best = [](const char* metric) {
        return [metric](const RunRecord& r) {
            for (const train::HistoryRow& row : r.history)
                if (row.epoch == r.best_epoch()) return format_number(train::metric(row, metric));
            return std::string("-");
        };
    };
    each("valid_loss at the best epoch", at_best("valid_loss"));
    each("valid_acc at the best epoch", at_best("valid_acc"));
    each("train_loss at the best epoch", at_best("train_loss"));
    each("training time", [](const RunRecord& r) { return kiln::tools::format_duration(r.training_seconds()); });
    return s.table;
}

// Every option any run recorded, a line each; "-" where a run did not record it.
report::Table settings_table(const std::vector<RunRecord>& runs) {
    std::vector<std::map<std::string, std::string>> settings;
    std::set<std::string> names;
    for (const RunRecord& r : runs) {
        settings.emplace_back(r.settings.begin(), r.settings.end());
        for (const auto& [name, value] : r.settings) names.insert(name);
    }
    SideBySide s{{column_names(runs), {}, {}}};
    for (const std::string& name : names) {
        std::vector<std::string> values;
        for (const auto& m : settings) {
            const auto it = m.find(name);
            values.push_back(it == m.end() ? "-" : it->second.empty() ? "(default)" : it->second);
        }
        s.row("--" + name, values);
    }
    return s.table;
}

int compare_command(int argc, char** argv) {
    Command cmd("kiln-report compare",
                "Writes one page comparing kiln-train runs, TensorBoard-scalars style: their facts and settings\n"
                "side by side (rows that differ between the runs marked) and their loss, accuracy and learning-rate\n"
                "curves overlaid in one picture, one colour per run.");
    cmd.positionals("run", "kiln-train run directories")
        .option("out", "FILE", "the page to write", "runs/compare.html");
    const kiln::tools::Args a = cmd.parse(argc, argv, 2);
    if (a.help) {
        std::fputs(cmd.help().c_str(), stdout);
        return 0;
    }
    std::vector<RunRecord> runs;
    for (std::string path : a.positionals) {
        while (path.size() > 1 && path.back() == '/') path.pop_back();
        runs.push_back(kiln::tools::read_run(path));
    }
    std::vector<report::RunCurves> curves;
    for (const RunRecord& r : runs) curves.push_back({r.dir.path(), kiln::tools::curves_of(r.history)});
    const kiln::image::Canvas picture = report::draw_compared_curves(curves, {.density = kiln::tools::picture_density}).canvas;

    report::HtmlReport page;
    page.title = "kiln: " + std::to_string(runs.size()) + " runs compared";
    const report::Note marked{"Marked rows differ between the runs."};
    page.sections = {
        {"runs", "Runs", {marked, facts_table(runs)}},
        {"curves",
         "Curves",
         {report::Picture{"loss, accuracy and learning rate per epoch, one colour per run", "curves",
                          kiln::tools::picture_density, kiln::image::encode_png(picture.view())}}},
        {"settings", "Settings", {report::Note{"kiln-train's options as each run recorded them in last.safetensors."}, settings_table(runs)}},
    };
    if (const std::filesystem::path parent = std::filesystem::path(a.text("out")).parent_path(); !parent.empty())
        std::filesystem::create_directories(parent);
    report::write_html_report(a.text("out"), page);
    std::printf("wrote %s: %zu runs\n", a.text("out").c_str(), runs.size());
    return 0;
}

int page_command(int argc, char** argv) {
    Command cmd("kiln-report page",
                "Writes a kiln-train run's report.html again from the run's files: its facts, settings, history,\n"
                "and kiln-infer's evaluation and pictures (as kiln-train and kiln-infer write it).");
    cmd.positional("run", "a kiln-train run directory");
    const kiln::tools::Args a = cmd.parse(argc, argv, 2);
    if (a.help) {
        std::fputs(cmd.help().c_str(), stdout);
        return 0;
    }
    const train::RunDir run = kiln::tools::read_run(a.positionals[0]).dir;
    kiln::tools::write_run_report(run, run);
    std::printf("wrote %s\n", run.report_html().c_str());
    return 0;
}

const char* const top_help =
    "usage: kiln-report compare <run>… [--out FILE] | page <run>\n\n"
    "Pages of kiln-train runs:\n"
    "  compare   several runs side by side: facts, settings, curves overlaid (compare.html)\n"
    "  page      a run's report.html, written again from its files\n"
    "'kiln-report <command> --help' describes a command.\n";

}  // namespace

int main(int argc, char** argv) {
    return kiln::tools::run_tool("kiln-report", [&] {
        const std::string command = argc > 1 ? argv[1] : "";
        if (command == "-h" || command == "--help") return std::fputs(top_help, stdout), 0;
        if (command == "compare") return compare_command(argc, argv);
        if (command == "page") return page_command(argc, argv);
        throw kiln::tools::UsageError(command.empty() ? "no command given" : "unknown command '" + command + "'",
                                      "usage: kiln-report compare|page ...");
    });
}
