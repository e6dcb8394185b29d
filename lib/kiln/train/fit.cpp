#include "kiln/train/fit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "kiln/core/error.h"
#include "kiln/train/metrics.h"

namespace kiln::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Logits and labels of one batch, read out of the program (its input slots are reused by the
// arena after their last use, so training copies the labels before the step runs).
struct BatchBuffers {
    std::vector<float> logits;
    std::vector<int64_t> labels;
    BatchBuffers(const Classifier& m)
        : logits(size_t(m.program.compiled_batch() * m.classes)), labels(size_t(m.program.compiled_batch())) {}

    // Reads the last call's logits of n samples; how many of them predict their label.
    int64_t correct(const Classifier& m, const int64_t* labels_of_batch, int64_t n) {
        m.program.read(m.logits, logits.data());
        const size_t classes = size_t(m.classes);
        int64_t c = 0;
        for (size_t i = 0; i < size_t(n); ++i)
            c += argmax(std::span<const float>(&logits[i * classes], classes)) == labels_of_batch[i];
        return c;
    }
};

bool stop_asked(const FitHooks& hooks) { return hooks.stop && *hooks.stop != 0; }

}  // namespace

TrainState initial_state(const EarlyStopping& early) {
    TrainState s;
    s.early = early;
    s.early.reset();
    return s;
}

bool is_metric(const std::string& name) {
    return name == "train_loss" || name == "train_acc" || name == "valid_loss" || name == "valid_acc";
}

double metric(const HistoryRow& row, const std::string& name) {
    if (name == "train_loss") return row.train_loss;
    if (name == "train_acc") return row.train_acc;
    if (name == "valid_loss") return row.valid_loss;
    if (name == "valid_acc") return row.valid_acc;
    fail(Errc::invalid_argument, "unknown metric '" + name + "' (known: train_loss, train_acc, valid_loss, valid_acc)");
}

Evaluation evaluate(Classifier& m, data::DataLoader& loader, const std::function<void(const EvaluatedBatch&)>& on_batch) {
    BatchBuffers buf(m);
    LossMeter loss;
    int64_t correct = 0;
    loader.set_epoch(0);
    while (const data::Batch* b = loader.next()) {
        m.program.write_input(m.x, b->x, b->size);
        m.program.write_input(m.y, b->labels, b->size);
        m.program.forward(b->size);
        loss.add(m.program.loss(), b->size);
        correct += buf.correct(m, b->labels, b->size);
        if (on_batch)
            on_batch({std::span<const float>(buf.logits.data(), size_t(b->size * m.classes)),
                      std::span<const int64_t>(b->labels, size_t(b->size)), std::span<const int64_t>(b->indices, size_t(b->size))});
    }
    if (loss.samples() == 0) fail(Errc::invalid_argument, "evaluate: the data set " + loader.dataset().spec() + " is empty");
    return {loss.mean(), double(correct) / double(loss.samples()), loss.samples()};
}

FitResult fit(Classifier& m, data::DataLoader& train, data::DataLoader* valid, const FitConfig& cfg, TrainState& state,
              const FitHooks& hooks) {
    check(cfg.schedule);
    auto check_metric = [valid](const std::string& name, const char* role) {
        if (!is_metric(name))
            fail(Errc::invalid_argument, std::string(role) + ": unknown metric '" + name +
                                             "' (known: train_loss, train_acc, valid_loss, valid_acc)");
        if (!valid && name.rfind("valid_", 0) == 0)
            fail(Errc::invalid_argument, std::string(role) + " monitors " + name + ", but there is no validation set");
    };
    check_metric(cfg.checkpoint_monitor, "the best epoch");
    if (cfg.early_stopping) check_metric(state.early.monitor, "early stopping");
    const bool best_lower = lower_is_better(cfg.checkpoint_monitor);

    // A resumed state must fit this data: its position inside an epoch of these batches.
    if (state.batch > train.num_batches() || state.seen > train.size())
        fail(Errc::invalid_argument, "resume: the checkpoint is at batch " + std::to_string(state.batch) + " with " +
                                         std::to_string(state.seen) + " samples seen, past an epoch of " +
                                         std::to_string(train.num_batches()) + " batches and " + std::to_string(train.size()) +
                                         " samples of " + train.dataset().spec());

    BatchBuffers buf(m);
    float* xin = m.program.input_data<float>(m.x);
    int64_t* yin = m.program.input_data<int64_t>(m.y);
    BatchProgress progress;
    progress.batches = train.num_batches();

    for (int64_t e = state.epoch; e < cfg.epochs; ++e) {
        const double lr = lr_at(cfg.schedule, e);
        m.program.set_lr(float(lr));
        train.set_epoch(e);
        // A resumed epoch: the batches trained before the interruption come again in the same
        // order; skip them.
        for (int64_t b = 0; b < state.batch; ++b)
            if (!train.next()) fail(Errc::invalid_argument, "resume: the checkpoint is past the end of epoch " + std::to_string(e + 1));
        const Clock::time_point t0 = Clock::now();
        progress.epoch = e + 1;
        while (const int64_t n = train.next_into(xin, yin)) {
            std::copy_n(yin, n, buf.labels.begin());
            const float loss = m.program.train_step(n);
            if (!std::isfinite(loss)) {
                return {FitResult::diverged, "the training loss is " + std::string(std::isnan(loss) ? "NaN" : "infinite") +
                                                 " at epoch " + std::to_string(e + 1) + ", batch " +
                                                 std::to_string(state.batch + 1) + " of " + std::to_string(train.num_batches()) +
                                                 " (lower the learning rate?)"};
            }
            state.loss_sum += double(loss) * double(n);
            state.correct += buf.correct(m, buf.labels.data(), n);
            state.seen += n;
            ++state.batch;
            if (hooks.on_batch) {
                progress.batch = state.batch;
                progress.samples = state.seen;
                progress.mean_loss = state.loss_sum / double(state.seen);
                progress.seconds = seconds_since(t0);
                hooks.on_batch(progress);
            }
            if (stop_asked(hooks)) {
                state.seconds += seconds_since(t0);
                return {FitResult::interrupted, ""};
            }
        }
        if (state.seen == 0) fail(Errc::invalid_argument, "the training set " + train.dataset().spec() + " is empty");

        HistoryRow row;
        row.epoch = e + 1;
        row.train_loss = state.loss_sum / double(state.seen);
        row.train_acc = double(state.correct) / double(state.seen);
        row.valid_loss = row.valid_acc = std::numeric_limits<double>::quiet_NaN();
        if (valid) {
            const Evaluation v = evaluate(m, *valid);
            row.valid_loss = v.loss, row.valid_acc = v.accuracy;
        }
        row.lr = lr;
        row.seconds = state.seconds + seconds_since(t0);
        const double score = metric(row, cfg.checkpoint_monitor);
        row.best = state.best_epoch == 0 || (best_lower ? score < state.best_score : score > state.best_score);
        if (row.best) state.best_score = score, state.best_epoch = row.epoch;

        state.epoch = e + 1;
        state.batch = state.seen = state.correct = 0;
        state.loss_sum = state.seconds = 0;
        const bool stop_early = cfg.early_stopping && state.early.update(metric(row, state.early.monitor));
        if (hooks.on_epoch) hooks.on_epoch(row, state);
        if (stop_early)
            return {FitResult::early_stopped, state.early.monitor + " has not improved for " +
                                                  std::to_string(state.early.patience) + " epochs"};
        if (stop_asked(hooks) && e + 1 < cfg.epochs) return {FitResult::interrupted, ""};
    }
    return {FitResult::completed, ""};
}

}  // namespace kiln::train
