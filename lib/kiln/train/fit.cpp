#include "kiln/train/fit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include "kiln/core/error.h"
#include "kiln/train/data_parallel.h"
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

// Data-parallel: each rank adds its own batches to the epoch's running sums; `carried` is what
// the sums held when this process started the epoch (from a checkpoint: already the total over
// the ranks). After the call every rank holds the total.
struct EpochSums {
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
};
void reduce_sums(Communicator& comm, TrainState& s, const EpochSums& carried) {
    double part[3] = {s.loss_sum - carried.loss_sum, double(s.correct - carried.correct), double(s.seen - carried.seen)};
    comm.allreduce_sum(part, 3);
    s.loss_sum = carried.loss_sum + part[0];
    s.correct = carried.correct + int64_t(part[1]);
    s.seen = carried.seen + int64_t(part[2]);
}

}  // namespace

TrainState initial_state(const EarlyStopping& early) {
    TrainState s;
    s.early = early;
    s.early.reset();
    return s;
}

bool at_chance_level(const HistoryRow& row, int64_t classes) {
    const double uniform = std::log(double(classes));
    return classes >= 2 && std::abs(row.train_loss - uniform) <= 0.02 * uniform && row.train_acc < 1.5 / double(classes);
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
    double sums[3] = {loss.mean() * double(loss.samples()), double(correct), double(loss.samples())};
    if (Communicator* comm = m.program.communicator()) comm->allreduce_sum(sums, 3);  // each rank evaluated its shard
    if (sums[2] == 0) fail(Errc::invalid_argument, "evaluate: the data set " + loader.dataset().spec() + " is empty");
    return {sums[0] / sums[2], sums[1] / sums[2], int64_t(sums[2])};
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

    // Data-parallel: the program averages the gradients and the ranks' votes to stop (its
    // agreement); here the epoch's metrics are summed over the ranks.
    Communicator* comm = m.program.communicator();
    const int ranks = comm ? comm->size() : 1;
    std::optional<DataParallel> dp;
    if (ranks > 1) dp.emplace(m.program, *comm);
    EpochSums carried{state.loss_sum, state.correct, state.seen};

    // A resumed state must fit this data: its position inside an epoch of these batches.
    if (state.batch > train.num_batches() || state.seen > train.size() * ranks)
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
            // One rank's Ctrl-C or NaN stops every rank after the same batch: a request that comes
            // during a step is voted on in the next (alone, this process stops right after it).
            m.program.vote_stop(stop_asked(hooks));
            const float loss = m.program.train_step(n);
            const bool diverged = m.program.agreement().loss_not_finite;
            if (diverged) {
                const char* what = std::isnan(loss) ? "NaN" : std::isinf(loss) ? "infinite" : "not finite on another rank";
                return {FitResult::diverged, "the training loss is " + std::string(what) +
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
            if (m.program.agreement().stop || (!dp && stop_asked(hooks))) {
                state.seconds += seconds_since(t0);
                if (dp) reduce_sums(*comm, state, carried), dp->average_buffers();
                return {FitResult::interrupted, ""};
            }
        }
        if (dp) reduce_sums(*comm, state, carried), dp->average_buffers();
        carried = {};
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
        double stop = stop_asked(hooks);
        if (dp) comm->allreduce_sum(&stop, 1);
        if (stop > 0 && e + 1 < cfg.epochs) return {FitResult::interrupted, ""};
    }
    return {FitResult::completed, ""};
}

}  // namespace kiln::train
