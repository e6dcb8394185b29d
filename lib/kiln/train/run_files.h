// What a training run keeps in its directory besides weights: the loop's state as safetensors
// metadata (so last.safetensors alone resumes a run), and the per-epoch history as CSV and JSON.
//
//   run/model.json         the model description with input shape, class names, eval transforms
//   run/best.safetensors   weights of the best epoch (PyTorch state_dict names)
//   run/last.safetensors   weights + optimizer state + metadata "kiln.train_state" (TrainState)
//   run/history.csv, run/history.json
#pragma once
#include <string>
#include <vector>

#include "kiln/io/safetensors.h"
#include "kiln/train/fit.h"

namespace kiln::train {

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
