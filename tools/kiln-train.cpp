// kiln-train: trains a classifier on a dataset from the command line, skorch-style — a progress
// bar per epoch on a terminal, a history row after each epoch, the best epoch's weights and a
// resumable last checkpoint in a run directory.
//   kiln-train --data idx:/usr/share/datasets/fashion-mnist --model tinyvgg --epochs 10
//              --schedule cosine --early-stopping yes --out runs/tinyvgg
//   kiln-train --resume runs/tinyvgg --epochs 20        continue (here: up to 20 epochs)
// The run directory (its files named by kiln/train/run_files.h's RunDir): model.json,
// best.safetensors, last.safetensors, history.csv, history.json, curves.png, training.json and
// report.html (run_report.h). Exit status: 0 trained, 1 error (or a diverging loss), 2 usage mistake, 130
// interrupted (Ctrl-C) after writing a checkpoint to resume from.
//
// Data-parallel: `mpirun -np N kiln-train …` trains one model in N processes (kiln/dist): --batch
// is the global batch, each rank trains on its B/N share of it (DataLoaderOptions::shard), the
// gradients are averaged every step, rank 0's state is broadcast at the start, and only rank 0
// prints and writes the run directory (the others need the data, not the run directory).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "args.h"
#include "dataset.h"
#include "device.h"
#include "run_report.h"
#include "kiln/core/error.h"
#include "kiln/core/read_file.h"
#include "kiln/data/dataloader.h"
#include "kiln/data/image_statistics.h"
#include "kiln/data/plugin_registry.h"
#include "kiln/dist/communicator.h"
#include "kiln/runtime/program.h"
#include "kiln/io/atomic_file.h"
#include "kiln/io/checkpoint.h"
#include "kiln/nn/model_file.h"
#include "kiln/nn/models.h"
#include "kiln/train/data_parallel.h"
#include "kiln/train/fit.h"
#include "kiln/train/run_files.h"

namespace {

namespace fs = std::filesystem;
namespace train = kiln::train;
using kiln::Errc;
using kiln::fail;
using kiln::tools::Args;
using kiln::tools::Command;
using json = nlohmann::json;

struct OptionSpec {
    const char* name;
    const char* value_name;
    std::string help;
    const char* default_value;
};

bool takes_hidden_units(const kiln::nn::BuiltinModel& m) { return m.takes_hidden_units(); }

// Every option but --resume, --out, --device and --dist-timeout is recorded in last.safetensors, so
// --resume continues with the same settings; options given beside --resume override them
// (typically --epochs). --device and --dist-timeout are left out so that the checkpoint is the same
// whatever trained it: a run trained on a GPU or by several processes resumes on one machine.
const OptionSpec options[] = {
    {"data", "SPEC", "training data, <plugin>:<config> (required unless --resume)", ""},
    {"model", "NAME|FILE", "a built-in model (" + kiln::nn::builtin_model_names() + ") or a JSON description", "tinyvgg"},
    {"model-arg", "K=V,…", "arguments of a built-in model: hidden_units=N (" + kiln::nn::builtin_model_names(takes_hidden_units) + ")", ""},
    {"epochs", "N", "epochs to train in all (a resumed run continues up to N)", "10"},
    {"batch", "N", "batch size (under mpirun: the global batch, split evenly over the ranks)", "32"},
    {"limit", "N", "train (and validate) on a seeded random N samples of --data; 0: all", "0"},
    {"optimizer", "NAME", "sgd, adam or adamw", "sgd"},
    {"lr", "X", "learning rate (default 0.1 for sgd, 0.001 for adam/adamw)", ""},
    {"momentum", "X", "SGD momentum", "0"},
    {"nesterov", "yes|no", "SGD Nesterov momentum", "no"},
    {"weight-decay", "X", "weight decay (default 0; adamw 0.01)", ""},
    {"betas", "B1,B2", "Adam/AdamW betas", "0.9,0.999"},
    {"eps", "X", "Adam/AdamW eps", "1e-8"},
    {"schedule", "NAME", "learning rate per epoch: constant, step, exponential, cosine", "constant"},
    {"step-size", "N", "step: epochs between decays", "10"},
    {"gamma", "X", "step, exponential: decay factor", "0.1"},
    {"t-max", "N", "cosine: epochs of the half period (default: the first run's --epochs minus --warmup-epochs)", ""},
    {"eta-min", "X", "cosine: the lowest learning rate", "0"},
    {"warmup-epochs", "N", "linear warm-up epochs before the schedule", "0"},
    {"warmup-start-factor", "X", "warm-up starts at lr × this", "0.333333"},
    {"valid-split", "F", "fraction of the training data held out for validation (seeded); 0: none", "0.1"},
    {"valid-data", "SPEC", "a separate validation dataset instead of --valid-split", ""},
    {"early-stopping", "yes|no", "stop when --monitor has not improved for --patience epochs", "no"},
    {"monitor", "METRIC", "early stopping's metric: valid_loss, valid_acc, train_loss, train_acc (default valid_loss, without validation train_loss)", ""},
    {"patience", "N", "early stopping: epochs without improvement", "5"},
    {"threshold", "X", "early stopping: the improvement that counts", "0.0001"},
    {"threshold-mode", "rel|abs", "early stopping: threshold relative to the score, or absolute", "rel"},
    {"checkpoint-monitor", "METRIC", "the metric that picks best.safetensors (default as for --monitor)", ""},
    {"load-best", "yes|no", "at the end, load the best epoch's weights and evaluate them", "no"},
    {"train-transforms", "PIPE", "transform pipeline for training samples (kiln/data/README.md)", ""},
    {"eval-transforms", "PIPE", "transform pipeline for validation (and, recorded, for inference)", ""},
    {"seed", "N", "seed of initialisation, split, shuffling, augmentation and dropout", "42"},
    {"threads", "N", "compute threads, 0 = all cores (under mpirun: a rank's share of its host's cores)", "0"},
    {"workers", "N", "data loading threads", "2"},
    {"device", "cpu|cuda", "where to train: cpu or cuda (not recorded for --resume)", "cpu"},
    {"dist-timeout", "S", "under mpirun: a rank waiting S seconds for the others (one died or hangs) ends the run with an error (not recorded)", "300"},
};

volatile std::sig_atomic_t stop_requested = 0;
bool quiet_rank = false;  // a rank other than 0 of a data-parallel run: rank 0 speaks

void on_sigint(int) {
    stop_requested = 1;
    const char msg[] = "\nkiln-train: stopping after this batch (Ctrl-C again quits at once)\n";
    if (!quiet_rank) [[maybe_unused]] ssize_t w = ::write(STDERR_FILENO, msg, sizeof msg - 1);
}

// root's text copied to every rank.
void broadcast_text(kiln::Communicator& comm, std::string& text) {
    uint64_t n = text.size();
    comm.broadcast(&n, sizeof n, 0);
    text.resize(size_t(n));
    comm.broadcast(text.data(), size_t(n), 0);
}

bool yes(const Args& a, const std::string& name) { return a.choice(name, {"yes", "no"}) == "yes"; }

std::string quoted(const std::string& s) {
    if (s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-:,=") == std::string::npos) return s;
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// ---- the terminal ----

void print_header() {
    std::printf("  epoch    train_loss    train_acc    valid_loss    valid_acc          lr      dur  best\n");
    std::printf("-------  ------------  -----------  ------------  -----------  ----------  -------  ----\n");
}

void print_row(const train::HistoryRow& r) {
    char valid_loss[16] = "-", valid_acc[16] = "-";
    if (!std::isnan(r.valid_loss)) std::snprintf(valid_loss, sizeof valid_loss, "%.4f", r.valid_loss);
    if (!std::isnan(r.valid_acc)) std::snprintf(valid_acc, sizeof valid_acc, "%.4f", r.valid_acc);
    std::printf("%7lld  %12.4f  %11.4f  %12s  %11s  %10.4g  %6.1fs  %4s\n", static_cast<long long>(r.epoch), r.train_loss,
                r.train_acc, valid_loss, valid_acc, r.lr, r.seconds, r.best ? "+" : "");
    std::fflush(stdout);
}

// One line redrawn in place: epoch, bar, batches, images/s, ETA, running loss. Throttled to ten
// redraws a second; formats on the stack.
struct ProgressBar {
    int64_t epochs = 0;
    double last_draw = -1;
    void draw(const train::BatchProgress& p) {
        const bool done = p.batch == p.batches;
        if (!done && p.seconds - last_draw < 0.1) return;
        last_draw = done ? -1 : p.seconds;
        constexpr int width = 24;
        char bar[width + 1];
        const int filled = int(width * p.batch / std::max<int64_t>(p.batches, 1));
        for (int i = 0; i < width; ++i) bar[i] = i < filled ? '#' : '.';
        bar[width] = '\0';
        const double rate = p.seconds > 0 ? double(p.samples) / p.seconds : 0;
        const double eta = p.batch > 0 ? p.seconds * double(p.batches - p.batch) / double(p.batch) : 0;
        std::printf("\r  epoch %lld/%lld [%s] %lld/%lld  %.0f img/s  ETA %d:%02d  loss %.4f\033[K",
                    static_cast<long long>(p.epoch), static_cast<long long>(epochs), bar, static_cast<long long>(p.batch),
                    static_cast<long long>(p.batches), rate, int(eta) / 60, int(eta) % 60, p.mean_loss);
        std::fflush(stdout);
    }
};

// ---- settings ----

double lr_of(const Args& a) {
    return a.text("lr").empty() ? (a.text("optimizer") == "sgd" ? 0.1 : 0.001) : a.real("lr", 1e-12, 1e6);
}

kiln::OptimizerConfig optimizer_of(const Args& a) {
    const std::string& name = a.choice("optimizer", {"sgd", "adam", "adamw"});
    const float lr = float(lr_of(a));
    const float wd = float(a.text("weight-decay").empty() ? (name == "adamw" ? 0.01 : 0.0) : a.real("weight-decay", 0, 1e3));
    if (name == "sgd") {
        kiln::SGD o{.lr = lr, .momentum = float(a.real("momentum", 0, 1)), .weight_decay = wd, .nesterov = yes(a, "nesterov")};
        if (o.nesterov && o.momentum <= 0) throw a.usage_error("--nesterov yes needs --momentum above 0");
        return o;
    }
    const std::string& betas = a.text("betas");
    float b1 = 0, b2 = 0;
    char extra = 0;
    if (std::sscanf(betas.c_str(), "%f,%f%c", &b1, &b2, &extra) != 2 || !(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1))
        throw a.usage_error("--betas " + betas + ": expected two numbers in [0, 1), e.g. 0.9,0.999");
    const float eps = float(a.real("eps", 0, 1));
    if (name == "adam") return kiln::Adam{.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps, .weight_decay = wd};
    return kiln::AdamW{.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps, .weight_decay = wd};
}

train::Schedule schedule_of(const Args& a, double base_lr, int64_t epochs) {
    train::Schedule s;
    s.kind = train::parse_schedule_kind(a.choice("schedule", {"constant", "step", "exponential", "cosine"}));
    s.base_lr = base_lr;
    s.step_size = a.integer("step-size", 1, 1'000'000);
    s.gamma = a.real("gamma", 1e-9, 1);
    s.warmup_epochs = a.integer("warmup-epochs", 0, 1'000'000);
    s.warmup_start_factor = a.real("warmup-start-factor", 1e-9, 1);
    s.t_max = a.text("t-max").empty() ? std::max<int64_t>(epochs - s.warmup_epochs, 1) : a.integer("t-max", 1, 1'000'000);
    s.eta_min = a.real("eta-min", 0, base_lr);
    return s;
}

kiln::nn::ModelSpec model_of(const Args& a) {
    const std::string& m = a.text("model");
    const bool file = m.size() > 5 && m.compare(m.size() - 5, 5, ".json") == 0;
    if (!file && m.find('{') == std::string::npos && !kiln::nn::find_builtin_model(m)) {
        std::vector<std::string> names;
        for (const kiln::nn::BuiltinModel& b : kiln::nn::builtin_models()) names.push_back(b.name);
        const std::string near = kiln::tools::nearest(m, names);
        throw a.usage_error("--model " + m + ": not a built-in model" + (near.empty() ? "" : " (did you mean " + near + "?)") +
                            "; the built-in models are " + kiln::nn::builtin_model_names() + ", or give a .json description");
    }
    kiln::nn::ModelSpec spec = file ? kiln::nn::read_model_file(m) : kiln::nn::parse_model(m, "--model");
    const std::string& args = a.text("model-arg");
    for (size_t begin = 0; begin < args.size();) {
        size_t end = args.find(',', begin);
        if (end == std::string::npos) end = args.size();
        const std::string item = args.substr(begin, end - begin);
        begin = end + 1;
        const size_t eq = item.find('=');
        const std::string key = item.substr(0, eq);
        char* stop = nullptr;
        const long long v = eq == std::string::npos ? 0 : std::strtoll(item.c_str() + eq + 1, &stop, 10);
        if (key != "hidden_units" || eq == std::string::npos || *stop != '\0' || v < 1)
            throw a.usage_error("--model-arg " + item + ": expected hidden_units=N (N ≥ 1)");
        const kiln::nn::BuiltinModel* builtin = kiln::nn::find_builtin_model(spec.builtin);
        if (!builtin || !builtin->takes_hidden_units())
            throw a.usage_error("--model-arg hidden_units: only " + kiln::nn::builtin_model_names(takes_hidden_units) + " take it");
        spec.hidden_units = v;
    }
    return spec;
}

// The settings recorded for --resume: every option's text except --resume, --out, --device and
// --dist-timeout, with the cosine half period as resolved (a run resumed with more --epochs keeps
// its schedule) and no split beside a separate validation set (recorded options count as given).
std::string config_json(const Args& a, const train::Schedule& schedule) {
    json j = json::object();
    for (const OptionSpec& o : options)
        if (std::string(o.name) != "device" && std::string(o.name) != "dist-timeout") j[o.name] = a.text(o.name);
    j["t-max"] = std::to_string(schedule.t_max);
    if (!a.text("valid-data").empty()) j["valid-split"] = "0";
    return j.dump();
}

// With --resume, the settings recorded in the run's last.safetensors (read by rank 0, sent to
// the others) and the options given now on top of them; otherwise `given`.
Args with_recorded_settings(const Command& cmd, Args given, int argc, char** argv, kiln::Communicator& comm) {
    if (given.help || !given.given("resume")) return given;
    if (given.given("out")) throw given.usage_error("--resume continues in its own directory; leave out --out");
    const std::string last = train::RunDir(given.text("resume")).last_safetensors();
    std::string config;
    if (comm.rank() == 0) {
        if (!fs::exists(last)) fail(Errc::io, last + ": not found (is " + given.text("resume") + " a kiln-train run directory?)");
        const kiln::io::Metadata meta = kiln::io::load_safetensors(last).metadata;
        auto it = meta.find("kiln.config");
        if (it == meta.end()) fail(Errc::format, last + ": no kiln.config metadata (not written by kiln-train?)");
        config = it->second;
    }
    broadcast_text(comm, config);
    json saved;
    try {
        saved = json::parse(config);
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
        fail(Errc::format, last + ": kiln.config is not valid JSON: " + e.what());
    }
    std::vector<std::string> words{argv[0]};
    for (const OptionSpec& o : options)
        if (!given.given(o.name) && saved.contains(o.name) && saved[o.name].is_string())
            words.push_back("--" + std::string(o.name) + "=" + saved[o.name].get<std::string>());
    for (int i = 1; i < argc; ++i) words.push_back(argv[i]);
    std::vector<char*> merged;
    for (std::string& w : words) merged.push_back(w.data());
    return cmd.parse(int(merged.size()), merged.data(), 1);
}

// The built-in models for the help, a line each: "  tinyvgg        TinyVGG: … (hidden_units=10)".
std::string builtin_models_help() {
    std::string h = "\nbuilt-in models (--model NAME):";
    for (const kiln::nn::BuiltinModel& m : kiln::nn::builtin_models()) {
        const std::string name = m.name;
        h += "\n  " + name + std::string(name.size() < 15 ? 15 - name.size() : 1, ' ') + m.description;
        if (m.takes_hidden_units()) h += " (hidden_units=" + std::to_string(m.hidden_units) + ")";
    }
    return h;
}

// ---- training ----

int train_command(int argc, char** argv) {
    Command cmd("kiln-train",
                "Trains a classifier: a progress bar per epoch on a terminal, a history row after each epoch,\n"
                "and in the run directory model.json, best.safetensors (the best epoch's weights, PyTorch\n"
                "state_dict names), last.safetensors (everything --resume needs), history.csv and history.json.\n"
                "Ctrl-C stops at the next batch, saves last.safetensors and prints the command that resumes.\n" +
                    builtin_models_help());
    for (const OptionSpec& o : options) cmd.option(o.name, o.value_name, o.help, o.default_value);
    cmd.option("out", "RUN_DIR", "the run directory to create (required unless --resume)");
    cmd.option("resume", "RUN_DIR", "continue the run in RUN_DIR from its last.safetensors");
    const Args given = cmd.parse(argc, argv, 1);
    // Under mpirun, one of N ranks; otherwise alone. Rank 0 reads the run directory and speaks.
    // On GPUs the gradients are averaged in device memory by NCCL, each rank on its host's GPU
    // number local_rank() (kiln/dist/communicator.h).
    const bool on_gpus = kiln::launched_by_mpi() && given.text("device") == "cuda";
    std::unique_ptr<kiln::Communicator> comm =
        kiln::make_communicator(on_gpus ? "nccl" : "auto", {.timeout_seconds = given.help ? 300 : given.real("dist-timeout", 0.1, 1e6)});
    const int ranks = comm->size();
    const bool leader = comm->rank() == 0;
    quiet_rank = !leader;
    if (!leader && !std::freopen("/dev/null", "w", stdout)) fail(Errc::io, "/dev/null: cannot open");
    const Args a = with_recorded_settings(cmd, given, argc, argv, *comm);
    if (a.help) {
        std::fputs(cmd.help().c_str(), stdout);
        return 0;
    }
    const bool resuming = a.given("resume");
    const train::RunDir run(resuming ? a.text("resume") : a.text("out"));
    if (run.path().empty()) throw a.usage_error("--out RUN_DIR is required (or --resume RUN_DIR)");
    if (a.text("data").empty()) throw a.usage_error("--data is required");

    // The device first: one this build or machine lacks stops here, before any data is read.
    const std::string device = kiln::tools::device_of(a);

    const int64_t epochs = a.integer("epochs", 1, 1'000'000);
    const int64_t batch = a.integer("batch", 1, 1'000'000);
    if (batch % ranks != 0)
        throw a.usage_error("--batch " + a.text("batch") + " is the global batch: it must split evenly over the " +
                            std::to_string(ranks) + " ranks");
    const int64_t rank_batch = batch / ranks;
    const uint64_t seed = uint64_t(a.integer("seed", 0, INT64_MAX));
    const kiln::OptimizerConfig optimizer = optimizer_of(a);
    train::FitConfig cfg;
    cfg.epochs = epochs;
    cfg.schedule = schedule_of(a, lr_of(a), epochs);
    cfg.early_stopping = yes(a, "early-stopping");
    for (const char* m : {"monitor", "checkpoint-monitor"})
        if (!a.text(m).empty() && !train::is_metric(a.text(m)))
            throw a.usage_error(std::string("--") + m + " " + a.text(m) + ": expected valid_loss, valid_acc, train_loss or train_acc");

    // ---- data ----
    kiln::data::PluginRegistry plugins;
    const kiln::data::Dataset data = kiln::tools::open_dataset(plugins, a.text("data"), "kiln-train");
    if (data.num_classes() < 2) fail(Errc::invalid_argument, data.spec() + ": kiln-train trains classifiers; this dataset has no classes");
    std::vector<int64_t> pool(size_t(data.size()));
    for (size_t i = 0; i < pool.size(); ++i) pool[i] = int64_t(i);
    if (const int64_t limit = a.integer("limit", 0, INT64_MAX); limit > 0 && limit < data.size())
        pool = kiln::data::random_split(data.size(), {double(limit), double(data.size() - limit)}, seed)[0];
    const bool separate_valid = !a.text("valid-data").empty();
    const double valid_split = a.real("valid-split", 0, 0.9);
    if (separate_valid && a.given("valid-split") && valid_split > 0)
        throw a.usage_error("give either --valid-split or --valid-data, not both");

    kiln::data::DataLoaderOptions train_opt;
    train_opt.batch_size = rank_batch, train_opt.shuffle = true, train_opt.seed = seed;
    train_opt.workers = int(a.integer("workers", 0, 64));
    train_opt.shard = {.rank = comm->rank(), .count = ranks, .pad = true};
    kiln::data::DataLoaderOptions valid_opt = train_opt;
    valid_opt.shuffle = false;
    valid_opt.shard.pad = false;  // each validation sample counted once
    std::optional<kiln::data::Dataset> valid_data;
    if (separate_valid) {
        valid_data = kiln::tools::open_dataset(plugins, a.text("valid-data"), "kiln-train");
        if (valid_data->num_classes() != data.num_classes())
            fail(Errc::invalid_argument, valid_data->spec() + " has " + std::to_string(valid_data->num_classes()) +
                                             " classes, the training data " + std::to_string(data.num_classes()));
        train_opt.indices = pool;
    } else if (valid_split > 0) {
        const auto parts = kiln::data::random_split(int64_t(pool.size()), {1 - valid_split, valid_split}, seed);
        if (parts[1].empty()) fail(Errc::invalid_argument, "--valid-split " + a.text("valid-split") + " leaves no validation samples");
        for (int64_t i : parts[0]) train_opt.indices.push_back(pool[size_t(i)]);
        for (int64_t i : parts[1]) valid_opt.indices.push_back(pool[size_t(i)]);
        valid_data = data;
    } else {
        train_opt.indices = pool;
    }
    const int64_t train_samples = int64_t(train_opt.indices.size());
    const int64_t valid_samples = valid_opt.indices.empty() ? (valid_data ? valid_data->size() : 0) : int64_t(valid_opt.indices.size());
    const std::string eval_transforms = a.text("eval-transforms");
    kiln::data::DataLoader train_loader(data, plugins.pipeline(a.text("train-transforms")), train_opt);
    std::optional<kiln::data::DataLoader> valid_loader;
    if (valid_data) valid_loader.emplace(*valid_data, plugins.pipeline(eval_transforms), valid_opt);

    // Metrics: the validation loss by default, the training loss when there is no validation set.
    const std::string default_metric = valid_loader ? "valid_loss" : "train_loss";
    train::EarlyStopping early;
    early.monitor = a.text("monitor").empty() ? default_metric : a.text("monitor");
    early.lower_is_better = train::lower_is_better(early.monitor);
    early.patience = a.integer("patience", 1, 1'000'000);
    early.threshold = a.real("threshold", 0, 1e9);
    early.relative = a.choice("threshold-mode", {"rel", "abs"}) == "rel";
    cfg.checkpoint_monitor = a.text("checkpoint-monitor").empty() ? default_metric : a.text("checkpoint-monitor");
    for (const std::string& m : {early.monitor, cfg.checkpoint_monitor})
        if (!valid_loader && m.rfind("valid_", 0) == 0) throw a.usage_error(m + " needs a validation set (--valid-split or --valid-data)");

    // ---- model ----
    std::string model_text;
    if (leader) {
        fs::create_directories(run.path());
        if (!resuming && fs::exists(run.last_safetensors()))
            fail(Errc::invalid_argument,
                 run.path() + " already holds a run; continue it with --resume " + run.path() + " or choose another --out");
        if (resuming) model_text = kiln::read_file(run.model_json(), "model");
    }
    if (resuming) broadcast_text(*comm, model_text);
    kiln::nn::ModelSpec spec = resuming ? kiln::nn::parse_model(model_text, run.model_json()) : model_of(a);
    const kiln::Shape sample = train_loader.sample_shape();
    if (!resuming) {
        spec.input_shape.assign(sample.dims, sample.dims + sample.rank);
        spec.class_names = data.class_names();
        spec.eval_transforms = eval_transforms;
    } else if (spec.input_shape != std::vector<int64_t>(sample.dims, sample.dims + sample.rank)) {
        fail(Errc::shape_mismatch, run.model_json() + ": the run was trained on samples of another shape than " + sample.str());
    }
    kiln::Graph g(seed);
    kiln::Shape xs{rank_batch};
    for (int i = 0; i < sample.rank; ++i) xs.push_back(sample[i]);
    const kiln::Value x = g.input("x", xs);
    const kiln::Value y = g.input("y", {rank_batch}, kiln::DType::i64);
    const kiln::Value logits = kiln::nn::build_model(g, spec, x, data.num_classes());
    kiln::CompileOptions copt;
    copt.loss = g.cross_entropy(logits, y);
    copt.optimizer = optimizer;
    copt.outputs = {logits};
    copt.backend_options.threads = int(a.integer("threads", 0, 1024));
    if (copt.backend_options.threads == 0 && ranks > 1)
        copt.backend_options.threads = std::max(1, int(std::thread::hardware_concurrency()) / kiln::local_size());
    copt.fuse_gradients = ranks > 1;
    if (on_gpus) copt.backend_options.device = kiln::local_rank();
    copt.seed = seed;
    copt.backend = device;
    // A batch too large for this machine is said in the user's terms, before anything is allocated.
    const std::string model_name = spec.builtin.empty() ? spec.origin : spec.builtin;
    const auto too_large = [&](const std::string& what, const std::string& hint) {
        return "--batch " + std::to_string(batch) + " is too large for " + model_name + " here: " + what + "; try a smaller --batch" + hint;
    };
    if (device == "cpu") {
        const kiln::MemoryPlan need = kiln::plan(g, copt);
        const double gib = 1024.0 * 1024.0 * 1024.0, bytes = double(need.arena_bytes + need.persistent_bytes);
        const double ram = double(::sysconf(_SC_PHYS_PAGES)) * double(::sysconf(_SC_PAGE_SIZE));
        if (bytes > 0.8 * ram) {
            // The arena grows with the batch: the largest power of two that takes half the memory.
            const double per_sample = double(need.arena_bytes) / double(rank_batch);
            int64_t fits = 1;
            while (fits * 2 < rank_batch && double(need.persistent_bytes) + per_sample * double(fits * 2 * ranks) <= 0.5 * ram) fits *= 2;
            char what[160];
            std::snprintf(what, sizeof what, "its arenas need %.1f GiB, this machine has %.1f GiB of memory", bytes / gib, ram / gib);
            fail(Errc::invalid_argument, too_large(what, ", e.g. --batch " + std::to_string(fits * ranks)));
        }
    }
    std::unique_ptr<kiln::Program> program;
    try {
        program = kiln::tools::compile_on_device(g, copt);
    } catch (const kiln::Error& e) {
        if (std::string(e.what()).find("cannot allocate") == std::string::npos) throw;
        fail(e.code(), too_large(e.what(), " (the memory grows with it)"));
    }
    train::Classifier model{*program, x, y, logits, data.num_classes()};

    train::TrainState state = train::initial_state(early);
    std::vector<train::HistoryRow> rows;
    if (resuming && leader) {
        kiln::io::StateOptions with_optimizer;
        with_optimizer.optimizer = true;
        const kiln::io::Metadata meta = kiln::io::load_state(*program, run.last_safetensors(), with_optimizer);
        train::restore_state(meta, run.last_safetensors(), state);
        rows = train::parse_history_json(kiln::read_file(run.history_json(), "history"), run.history_json());
        std::erase_if(rows, [&](const train::HistoryRow& r) { return r.epoch > state.epoch; });
    } else if (leader) {
        // What the training images look like, for kiln-infer --predict to compare its images with.
        spec.input_statistics = kiln::data::measure_images(data, train_opt.indices);
        kiln::io::write_file_atomic(run.model_json(), kiln::nn::to_json(spec));
    }
    // Every rank starts from rank 0's weights, optimizer state and place in the run.
    train::DataParallel data_parallel(*program, *comm);
    if (ranks > 1) {
        data_parallel.broadcast_state();
        if (resuming) {
            const char* key = "kiln.train_state";
            std::string position = leader ? train::state_metadata(state).at(key) : "";
            broadcast_text(*comm, position);
            if (!leader) train::restore_state({{key, position}}, run.last_safetensors(), state);
        }
        program->set_communicator(comm.get());
    }

    int64_t parameters = 0;
    for (const kiln::StateEntry& e : program->state())
        if (e.kind == kiln::StateEntry::param) parameters += e.shape.numel();
    const std::string device_name = program->backend().description();  // "cuda (NVIDIA …, sm_XY)" on a GPU
    std::printf("%s: %lld training samples%s, %lld classes, model %s (%lld parameters), batch %lld, device %s\n",
                data.spec().c_str(), static_cast<long long>(train_samples),
                valid_loader ? (", " + std::to_string(valid_samples) + " validation").c_str() : "",
                static_cast<long long>(data.num_classes()), model_name.c_str(),
                static_cast<long long>(parameters), static_cast<long long>(batch), device_name.c_str());
    if (ranks > 1)
        std::printf("data-parallel: %d ranks × batch %lld, %s\n", ranks, static_cast<long long>(rank_batch), comm->description().c_str());
    if (resuming)
        std::printf("resuming %s at epoch %lld%s\n", run.path().c_str(), static_cast<long long>(state.epoch + 1),
                    state.batch ? (", batch " + std::to_string(state.batch + 1)).c_str() : "");

    // ---- the loop ----
    const std::string config = config_json(a, cfg.schedule);
    auto save_last = [&] {
        kiln::io::StateOptions o;
        o.optimizer = true;
        o.metadata = train::state_metadata(state);
        o.metadata["kiln.config"] = config;
        kiln::io::save_state(*program, run.last_safetensors(), o);
    };
    // The run's page (tools/run_report.h) from the start: training.json, the settings recorded in
    // last.safetensors and the history so far; it reloads itself until training ends.
    kiln::tools::TrainingFacts facts{
        .model = model_name,
        .parameters = parameters,
        .data = data.spec(),
        .validation = separate_valid ? a.text("valid-data")
                      : valid_loader ? "a seeded " + kiln::tools::format_number(100 * valid_split, "%g") + " % of the training data"
                                     : "none",
        .train_samples = train_samples,
        .valid_samples = valid_samples,
        .classes = data.num_classes(),
        .device = device_name,
        .ranks = ranks,
        .epochs = epochs,
        .monitor = cfg.checkpoint_monitor,
        .started = kiln::tools::utc_now(),
    };
    auto write_page = [&] {
        facts.updated = kiln::tools::utc_now();
        kiln::tools::write_training_facts(run.training_json(), facts);
        kiln::tools::write_run_report(run, run);
    };
    if (leader) {
        if (resuming && fs::exists(run.training_json())) facts.started = kiln::tools::read_training_facts(run.training_json()).started;
        write_page();
    }
    // No progress bar under mpirun: its output is a terminal to the ranks wherever it goes.
    const bool terminal = ::isatty(STDOUT_FILENO) && ranks == 1;
    ProgressBar bar{.epochs = epochs};
    train::FitHooks hooks;
    if (terminal) hooks.on_batch = [&bar](const train::BatchProgress& p) { bar.draw(p); };
    hooks.on_epoch = [&](const train::HistoryRow& row, const train::TrainState&) {
        if (!leader) return;
        if (terminal) std::printf("\r\033[K");
        print_row(row);
        rows.push_back(row);
        // Two epochs in a row at chance level: the model is not learning; say why it may be.
        const size_t n = rows.size();
        if (n >= 2 && train::at_chance_level(rows[n - 1], data.num_classes()) && train::at_chance_level(rows[n - 2], data.num_classes()) &&
            (n == 2 || !train::at_chance_level(rows[n - 3], data.num_classes())))
            std::fprintf(stderr,
                         "warning: epochs %lld and %lld stayed at chance level (train_loss %.4f ≈ ln %lld, train_acc %.3f ≈ 1/%lld): "
                         "the model is not learning. Likely causes: a learning rate far too small or too large (--lr %s), "
                         "labels that do not match the images, or inputs that all look alike (see them with kiln-data grid %s)\n",
                         static_cast<long long>(rows[n - 2].epoch), static_cast<long long>(row.epoch), row.train_loss,
                         static_cast<long long>(data.num_classes()), row.train_acc, static_cast<long long>(data.num_classes()),
                         a.text("lr").empty() ? "default" : a.text("lr").c_str(), quoted(data.spec()).c_str());
        // History first, then weights: a crash in between leaves last.safetensors one epoch behind,
        // and resuming redoes that epoch, rewriting the same files.
        kiln::io::write_file_atomic(run.history_csv(), train::history_csv(rows));
        kiln::io::write_file_atomic(run.history_json(), train::history_json(rows));
        if (row.best) kiln::io::save_state(*program, run.best_safetensors());
        save_last();
        kiln::tools::save_curves(run.curves_png(), rows);
        write_page();
    };
    hooks.stop = &stop_requested;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;  // a second Ctrl-C ends the program at once
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    if (ranks > 1) sigaction(SIGTERM, &sa, nullptr);  // mpirun turns a Ctrl-C into SIGTERM to every rank (then SIGKILL)

    print_header();
    for (const train::HistoryRow& r : rows) print_row(r);
    const train::FitResult result = train::fit(model, train_loader, valid_loader ? &*valid_loader : nullptr, cfg, state, hooks);
    if (terminal) std::printf("\r\033[K");
    if (leader) {  // the page stops reloading itself and says how training ended
        facts.status = kiln::tools::training_status(result.end);
        facts.message = result.message;
        write_page();
    }

    switch (result.end) {
    case train::FitResult::diverged:
        if (!leader) return 1;  // the same on every rank: rank 0 says it
        fail(Errc::invalid_argument, result.message + "; " +
                                         (state.epoch > 0 ? run.last_safetensors() + " holds epoch " + std::to_string(state.epoch)
                                                          : std::string("no checkpoint was written")));
    case train::FitResult::interrupted: {
        if (!leader) return 130;
        save_last();
        std::string resume = (ranks > 1 ? "mpirun -np " + std::to_string(ranks) + " " : "") + quoted(argv[0]) + " --resume " + quoted(run.path());
        if (a.given("epochs") && resuming) resume += " --epochs " + a.text("epochs");
        std::fflush(stdout);
        const std::string where = state.batch > 0 ? "at epoch " + std::to_string(state.epoch + 1) + ", after batch " +
                                                        std::to_string(state.batch) + " of " + std::to_string(train_loader.num_batches())
                                                  : "after epoch " + std::to_string(state.epoch);
        std::fprintf(stderr, "kiln-train: interrupted %s; saved %s\nresume with: %s\n", where.c_str(),
                     run.last_safetensors().c_str(), resume.c_str());
        return 130;
    }
    case train::FitResult::early_stopped:
        std::printf("early stopping: %s\n", result.message.c_str());
        break;
    case train::FitResult::completed: break;
    }
    std::printf("best epoch %lld by %s: %.4f (%s)\n", static_cast<long long>(state.best_epoch), cfg.checkpoint_monitor.c_str(),
                state.best_score, run.best_safetensors().c_str());
    if (yes(a, "load-best") && state.best_epoch > 0) {
        if (leader) kiln::io::load_state(*program, run.best_safetensors());
        data_parallel.broadcast_state();
        if (valid_loader) {
            const train::Evaluation v = train::evaluate(model, *valid_loader);
            std::printf("loaded the best weights (epoch %lld): valid_loss %.4f, valid_acc %.4f\n",
                        static_cast<long long>(state.best_epoch), v.loss, v.accuracy);
        } else {
            std::printf("loaded the best weights (epoch %lld)\n", static_cast<long long>(state.best_epoch));
        }
    }
    std::printf("run directory: %s\n", run.path().c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    // Errors name the rank they happened on when it is not rank 0 of a data-parallel run.
    const int rank = kiln::launcher_rank();
    const std::string name = rank != 0 ? "kiln-train (rank " + std::to_string(rank) + ")" : "kiln-train";
    return kiln::tools::run_tool(name.c_str(), [&] { return train_command(argc, argv); });
}
