// The training loop (kiln/train/fit.h) on a small in-memory dataset: it learns and reports one row
// per epoch, allocates nothing per batch, stops on request and resumes to the same bits (dropout
// included), stops early by skorch's rule, and names the epoch and batch of a NaN loss.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <limits>

#include "alloc_counter.h"
#include "kiln/core/rng.h"
#include "kiln/data/dataloader.h"
#include "kiln/io/checkpoint.h"
#include "kiln/nn/layers.h"
#include "kiln/train/fit.h"
#include "kiln/train/run_files.h"
#include "temp_dir.h"

using namespace kiln;

namespace {

// 96 samples f32 [4] in two classes: class c sits around (2c − 1)·(1, 1, 1, 1) with noise.
constexpr int64_t samples = 96;
struct kiln_dataset_impl {};
float feature(int64_t i, int d) {
    const float noise = float(splitmix64(uint64_t(i * 4 + d)) >> 40) / 16777216.0f - 0.5f;
    return (i % 2 ? 1.0f : -1.0f) + 1.6f * noise;
}
const kiln_dataset_api two_blobs_api = {
    [](const char*, char*, size_t) { return reinterpret_cast<kiln_dataset*>(new kiln_dataset_impl); },
    [](kiln_dataset* ds) { delete reinterpret_cast<kiln_dataset_impl*>(ds); },
    [](const kiln_dataset*) { return samples; },
    [](const kiln_dataset*) { return int32_t(2); },
    [](const kiln_dataset*, int32_t c) { return c == 0 ? "minus" : "plus"; },
    [](const kiln_dataset*, kiln_array* s) {
        *s = {KILN_F32, 1, {4, 0, 0, 0}, nullptr};
        return KILN_OK;
    },
    [](const kiln_dataset*, int64_t i, kiln_array* out, size_t capacity, size_t* needed, int64_t* label, char*, size_t) {
        if (capacity < 16) return *needed = 16, KILN_ERR_CAPACITY;
        out->elem = KILN_F32, out->rank = 1, out->shape[0] = 4;
        for (int d = 0; d < 4; ++d) static_cast<float*>(out->data)[d] = feature(i, d);
        *label = i % 2;
        return KILN_OK;
    },
    nullptr,  // notes
};

data::DataLoader loader(bool shuffle, std::vector<int64_t> indices) {
    data::DataLoaderOptions o;
    o.batch_size = 8, o.shuffle = shuffle, o.seed = 5, o.workers = 0, o.indices = std::move(indices);
    return data::DataLoader(data::Dataset::open(two_blobs_api, "two_blobs", ""), {}, o);
}

std::vector<int64_t> range(int64_t begin, int64_t end) {
    std::vector<int64_t> r;
    for (int64_t i = begin; i < end; ++i) r.push_back(i);
    return r;
}

struct Setup {
    std::unique_ptr<Program> program;
    Value x, y, logits;
    data::DataLoader train = loader(true, range(0, 80));
    data::DataLoader valid = loader(false, range(80, samples));
    train::Classifier model() { return {*program, x, y, logits, 2}; }

    explicit Setup(uint64_t init_seed, float lr = 0.1f) {
        Graph g(init_seed);
        x = g.input("x", {8, 4});
        y = g.input("y", {8}, DType::i64);
        Value h = g.dropout(g.relu(nn::linear(g, "fc1", x, 8)), 0.2f);
        logits = nn::linear(g, "fc2", h, 2);
        CompileOptions o;
        o.loss = g.cross_entropy(logits, y);
        o.optimizer = SGD{.lr = lr, .momentum = 0.9f};
        o.outputs = {logits};
        o.seed = 11;
        program = compile(g, o);
    }

    std::vector<std::vector<uint8_t>> state() const {
        std::vector<std::vector<uint8_t>> s;
        for (const StateEntry& e : program->state()) {
            s.emplace_back(e.bytes);
            program->read_state(e, s.back().data());
        }
        return s;
    }
};

train::FitConfig config(int64_t epochs) {
    train::FitConfig c;
    c.epochs = epochs;
    c.schedule = {.kind = train::Schedule::cosine, .base_lr = 0.1, .t_max = epochs};
    return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fit)

BOOST_AUTO_TEST_CASE(learns_and_reports_a_row_per_epoch) {
    Setup s(1);
    auto model = s.model();
    train::TrainState state = train::initial_state({});
    std::vector<train::HistoryRow> rows;
    train::FitHooks hooks;
    hooks.on_epoch = [&](const train::HistoryRow& r, const train::TrainState&) { rows.push_back(r); };
    const train::FitResult r = train::fit(model, s.train, &s.valid, config(6), state, hooks);
    BOOST_TEST(r.end == train::FitResult::completed);
    BOOST_REQUIRE_EQUAL(rows.size(), 6u);
    double best = std::numeric_limits<double>::infinity();
    for (size_t e = 0; e < rows.size(); ++e) {
        BOOST_TEST(rows[e].epoch == int64_t(e + 1));
        BOOST_TEST(rows[e].lr == train::lr_at(config(6).schedule, int64_t(e)));
        BOOST_TEST(rows[e].best == (rows[e].valid_loss < best));  // best by valid_loss so far
        best = std::min(best, rows[e].valid_loss);
    }
    BOOST_TEST(rows.back().valid_acc >= 0.9);
    BOOST_TEST(rows.back().train_loss < rows.front().train_loss);
    BOOST_TEST(state.epoch == 6);
    BOOST_TEST(state.best_score == best);
    const train::Evaluation v = train::evaluate(model, s.valid);
    BOOST_TEST(v.samples == 16);
    BOOST_TEST(v.loss == rows.back().valid_loss);
}

BOOST_AUTO_TEST_CASE(no_allocation_between_batches) {
    Setup s(1);
    auto model = s.model();
    train::TrainState state = train::initial_state({});
    std::vector<long> counts;
    counts.reserve(100);
    train::FitHooks hooks;
    hooks.on_batch = [&](const train::BatchProgress& p) {
        if (p.epoch == 2) counts.push_back(kiln::testing::allocations());
    };
    train::fit(model, s.train, &s.valid, config(2), state, hooks);
    BOOST_REQUIRE_EQUAL(counts.size(), 10u);
    BOOST_TEST(counts.back() == counts.front());
}

BOOST_AUTO_TEST_CASE(stopped_mid_epoch_and_resumed_ends_with_the_same_bits) {
    Setup whole(1);
    auto model = whole.model();
    train::TrainState state = train::initial_state({});
    train::fit(model, whole.train, &whole.valid, config(4), state, {});

    TempDir dir;
    const std::string path = dir / "last.safetensors";
    {
        Setup first(1);
        auto m = first.model();
        train::TrainState st = train::initial_state({});
        volatile std::sig_atomic_t stop = 0;
        train::FitHooks hooks;
        hooks.on_batch = [&](const train::BatchProgress& p) { stop = p.epoch == 2 && p.batch == 3; };
        hooks.stop = &stop;
        BOOST_REQUIRE(train::fit(m, first.train, &first.valid, config(4), st, hooks).end == train::FitResult::interrupted);
        BOOST_TEST(st.epoch == 1);
        BOOST_TEST(st.batch == 3);
        io::StateOptions o;
        o.optimizer = true;
        o.metadata = train::state_metadata(st);
        io::save_state(*first.program, path, o);
    }
    Setup resumed(99);  // other initial weights: everything must come from the checkpoint
    auto m = resumed.model();
    train::TrainState st = train::initial_state({});
    io::StateOptions o;
    o.optimizer = true;
    train::restore_state(io::load_state(*resumed.program, path, o), path, st);
    BOOST_TEST(train::fit(m, resumed.train, &resumed.valid, config(4), st, {}).end == train::FitResult::completed);
    BOOST_TEST((resumed.state() == whole.state()));
    BOOST_TEST(st.best_epoch == state.best_epoch);
    BOOST_TEST(st.best_score == state.best_score);
}

BOOST_AUTO_TEST_CASE(early_stopping_ends_the_loop) {
    Setup s(1);
    auto model = s.model();
    train::FitConfig cfg = config(10);
    cfg.early_stopping = true;
    // Only a drop of 100 would count as an improvement: epochs 2 and 3 miss, patience 2 stops at 3.
    train::TrainState state =
        train::initial_state({.monitor = "valid_loss", .patience = 2, .threshold = 100, .relative = false});
    int64_t epochs = 0;
    train::FitHooks hooks;
    hooks.on_epoch = [&](const train::HistoryRow&, const train::TrainState&) { ++epochs; };
    const train::FitResult r = train::fit(model, s.train, &s.valid, cfg, state, hooks);
    BOOST_TEST(r.end == train::FitResult::early_stopped);
    BOOST_TEST(r.message == "valid_loss has not improved for 2 epochs");
    BOOST_TEST(epochs == 3);
}

BOOST_AUTO_TEST_CASE(a_nan_loss_names_the_epoch_and_batch) {
    Setup s(1);
    auto model = s.model();
    train::FitConfig cfg = config(2);
    cfg.schedule = {.base_lr = 1e30};
    train::TrainState state = train::initial_state({});
    const train::FitResult r = train::fit(model, s.train, &s.valid, cfg, state, {});
    BOOST_TEST(r.end == train::FitResult::diverged);
    BOOST_TEST(r.message.find("at epoch 1, batch ") != std::string::npos, r.message);
    BOOST_TEST(state.epoch == 0);
}

BOOST_AUTO_TEST_CASE(validation_metrics_need_a_validation_set) {
    Setup s(1);
    auto model = s.model();
    train::TrainState state = train::initial_state({});
    BOOST_CHECK_THROW(train::fit(model, s.train, nullptr, config(1), state, {}), Error);  // monitors valid_loss
    train::FitConfig cfg = config(1);
    cfg.checkpoint_monitor = "train_loss";
    BOOST_TEST(train::fit(model, s.train, nullptr, cfg, state, {}).end == train::FitResult::completed);
}

BOOST_AUTO_TEST_SUITE_END()
