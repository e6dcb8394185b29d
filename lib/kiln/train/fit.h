// The training loop: epochs of a compiled program over a training DataLoader, an optional
// validation pass, a per-epoch learning-rate schedule, best-epoch tracking and early stopping —
// what skorch's NeuralNet.fit does. One history row per epoch goes to hooks.on_epoch, where the
// caller writes checkpoints and history files.
//
//   kiln::train::Classifier model{*prog, x, y, logits, 10};
//   kiln::train::FitConfig cfg{.epochs = 10, .schedule = {.kind = Schedule::cosine, .base_lr = 0.1, .t_max = 10}};
//   kiln::train::TrainState state = kiln::train::initial_state({.monitor = "valid_loss", .patience = 5});
//   FitResult r = kiln::train::fit(model, train_loader, &valid_loader, cfg, state, hooks);
//
// Determinism: epoch e's batches come from train.set_epoch(e) (order and augmentation depend on
// the loader's seed and e) and dropout masks on the program's seed and step count, so a run that
// stops at a batch boundary and resumes from a checkpoint of (program state, TrainState) ends
// bit for bit where the uninterrupted run ends, for the same thread count.
// Nothing is allocated per batch: logits and labels go to buffers sized once.
#pragma once
#include <csignal>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "kiln/data/dataloader.h"
#include "kiln/runtime/program.h"
#include "kiln/train/early_stopping.h"
#include "kiln/train/schedule.h"

namespace kiln::train {

// A classifier program: images x, i64 labels y, logits [N, classes], the loss cross_entropy(logits, y).
struct Classifier {
    Program& program;
    Value x, y, logits;
    int64_t classes;
};

struct FitConfig {
    int64_t epochs = 1;
    Schedule schedule;
    bool early_stopping = false;                // settings and state in TrainState::early
    std::string checkpoint_monitor = "valid_loss";  // which metric marks the best epoch
};

// One epoch of history. train_* are over the epoch's batches as they were trained (train mode,
// logits before each step's update), as skorch reports them; valid_* come from an eval-mode pass
// after the epoch, NaN without a validation set.
struct HistoryRow {
    int64_t epoch = 0;  // from 1, as skorch counts
    double train_loss = 0, train_acc = 0, valid_loss = 0, valid_acc = 0;
    double lr = 0, seconds = 0;
    bool best = false;  // the best epoch so far by FitConfig::checkpoint_monitor
};

// The loop's own state, saved beside the program's to resume exactly.
struct TrainState {
    int64_t epoch = 0;  // epochs finished
    int64_t batch = 0;  // batches of the next epoch already trained (after an interruption)
    // That epoch's running sums so far.
    double loss_sum = 0, seconds = 0;
    int64_t correct = 0, seen = 0;
    double best_score = 0;  // the monitored metric at best_epoch (meaningless while best_epoch is 0)
    int64_t best_epoch = 0;
    EarlyStopping early;
};

// A fresh state: early stopping reset, nothing trained.
TrainState initial_state(const EarlyStopping& early);

struct BatchProgress {
    int64_t epoch = 0;  // from 1
    int64_t batch = 0, batches = 0;  // batches done in this epoch, of
    int64_t samples = 0;             // samples done in this epoch
    double mean_loss = 0;            // over the epoch's samples so far
    double seconds = 0;              // since the epoch (or its resumed part) started
};

struct FitHooks {
    std::function<void(const BatchProgress&)> on_batch;                    // after every training batch
    std::function<void(const HistoryRow&, const TrainState&)> on_epoch;    // after every epoch
    // Checked after every batch and epoch: non-zero stops training there (a SIGINT handler's flag).
    const volatile std::sig_atomic_t* stop = nullptr;
};

struct FitResult {
    enum End { completed, early_stopped, interrupted, diverged } end = completed;
    std::string message;  // diverged: which epoch and batch; early_stopped: why
};

FitResult fit(Classifier& model, data::DataLoader& train, data::DataLoader* valid, const FitConfig& cfg,
              TrainState& state, const FitHooks& hooks);

struct Evaluation {
    double loss = 0, accuracy = 0;
    int64_t samples = 0;
};
// One batch as evaluate ran it, valid during the call.
struct EvaluatedBatch {
    std::span<const float> logits;     // [n, classes], row-major
    std::span<const int64_t> labels;   // [n]
    std::span<const int64_t> indices;  // [n] the samples' dataset indices
};
// One pass over the loader's epoch 0 in eval mode (dropout off, BatchNorm's running statistics):
// the mean over the samples of the program's own loss (its cross_entropy node), and the share of
// samples whose logits' argmax (metrics.h) is their label. fit's valid_loss and valid_acc, and
// kiln-infer's loss and accuracy. `on_batch`, when given, sees every batch (for more metrics:
// kiln-infer's confusion matrix and misclassified samples).
Evaluation evaluate(Classifier& model, data::DataLoader& loader,
                    const std::function<void(const EvaluatedBatch&)>& on_batch = {});

// Whether an epoch trained at chance level: a training loss within 2 % of ln(classes) (what
// uniform logits give) and an accuracy below 1.5 / classes. Two such epochs in a row mean the
// model is not learning (kiln-train warns).
bool at_chance_level(const HistoryRow& row, int64_t classes);

// The value of a history metric by name: train_loss, train_acc, valid_loss, valid_acc.
double metric(const HistoryRow& row, const std::string& name);
bool is_metric(const std::string& name);

}  // namespace kiln::train
