// A run directory: the names of its files (RunDir), and what a training run keeps there besides
// weights — the loop's state as safetensors metadata (so last.safetensors alone resumes a run),
// and the per-epoch history as CSV and JSON.
//
//   kiln::train::RunDir run("runs/tinyvgg");
//   kiln::io::write_file_atomic(run.history_csv(), kiln::train::history_csv(rows));
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "kiln/io/safetensors.h"
#include "kiln/train/fit.h"

namespace kiln::train {

// The files of a run directory, each named here once. kiln-train writes the run; kiln-infer writes
// its evaluation and filters into the run directory or into another (its --out), a RunDir too.
class RunDir {
public:
    explicit RunDir(std::string path) : path_(std::move(path)) {}
    const std::string& path() const { return path_; }

    // kiln-train's: the model description with input shape, class names and eval transforms; the
    // best epoch's weights (PyTorch state_dict names); weights, optimizer state and the metadata
    // "kiln.train_state" (TrainState) and "kiln.config" (the options) to resume from; the history;
    // its curves; what the run's page tells beyond those (training.json: the model's size, the data,
    // the device, dates and how training ended; tools/run_records.h); and the page, report.html,
    // rendered from all of the run's files by whichever tool wrote last (tools/run_report.h).
    std::string model_json() const { return file("model.json"); }
    std::string best_safetensors() const { return file("best.safetensors"); }
    std::string last_safetensors() const { return file("last.safetensors"); }
    std::string history_csv() const { return file("history.csv"); }
    std::string history_json() const { return file("history.json"); }
    std::string curves_png() const { return file("curves.png"); }
    std::string training_json() const { return file("training.json"); }
    std::string report_html() const { return file("report.html"); }
    // kiln-infer's: an evaluation's document and pictures, the first convolution's filters, and
    // the last --predict's images as the model got them, each beside its top-k.
    std::string evaluation_json() const { return file("evaluation.json"); }
    std::string confusion_png() const { return file("confusion.png"); }
    std::string misclassified_png() const { return file("misclassified.png"); }
    std::string filters_png() const { return file("filters.png"); }
    std::string predictions_png() const { return file("predictions.png"); }

private:
    std::string file(const char* name) const { return path_ + "/" + name; }
    std::string path_;
};

// TrainState as metadata: "kiln.train_state" holds JSON in which doubles are written as hex-float
// strings, so they read back bit for bit.
io::Metadata state_metadata(const TrainState& state);
// Reads "kiln.train_state" into state (its early-stopping settings are left as they are; the
// counters are restored). Throws Error(format) naming `origin` when it is missing or malformed.
void restore_state(const io::Metadata& metadata, const std::string& origin, TrainState& state);

// history.csv: a header line "epoch,train_loss,train_acc,valid_loss,valid_acc,lr,seconds,best",
// then one line per row (valid_* empty without validation, best 1 or 0).
std::string history_csv(const std::vector<HistoryRow>& rows);
// history.json: a list of objects with the same keys (valid_* null without validation, best a bool).
std::string history_json(const std::vector<HistoryRow>& rows);
std::vector<HistoryRow> parse_history_json(const std::string& text, const std::string& origin);

}  // namespace kiln::train
