// kiln-train run as a user runs it, on a slice of the real Fashion-MNIST (Debian's
// dataset-fashion-mnist; without it every case says why it is skipped): the history files, the
// safetensors layout read here byte by byte, best.safetensors loading into the same model, resume
// equality bit for bit, a process killed while saving, Ctrl-C, a diverging loss, --device cuda and
// usage mistakes. In a cross build the tool starts through KILN_EXE_WRAPPER (qemu).
#define BOOST_TEST_MODULE kiln_train
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "data/precondition.h"
#include "kiln/core/error.h"
#include "kiln/runtime/program.h"
#include "kiln/io/checkpoint.h"
#include "kiln/nn/model_file.h"
#include "kiln/nn/models.h"
#include "quick.h"
#include "temp_dir.h"
#include "tool_process.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const std::string tool = std::string(KILN_TOOLS_DIR) + "/kiln-train";
using kiln::testing::contains;
using kiln::testing::fmnist;
using kiln::testing::read_text;
const std::string data = "idx:" + fmnist;

bool have_data() { return kiln::testing::have_fashion_mnist(); }

struct Run {
    int status = -1;  // exit status, or -1 when killed
    int signal = 0;   // the signal that killed it
    std::string out, err;
};

// A started kiln-train whose stdout and stderr go to files.
struct Child {
    pid_t pid = -1;
    std::string out, err;

    Run wait() {
        int st = 0;
        BOOST_REQUIRE(::waitpid(pid, &st, 0) == pid);
        Run r;
        if (WIFEXITED(st)) r.status = WEXITSTATUS(st);
        if (WIFSIGNALED(st)) r.signal = WTERMSIG(st);
        r.out = read_text(out), r.err = read_text(err);
        BOOST_TEST_MESSAGE("→ status " << r.status << " signal " << r.signal << "\n" << r.out << r.err);
        return r;
    }
};

// file_limit > 0: RLIMIT_FSIZE in bytes for the child (a write past it kills it with SIGXFSZ).
Child start(const std::vector<std::string>& args, long file_limit = 0) {
    BOOST_REQUIRE_MESSAGE(fs::exists(tool), tool << " is not built");
    static TempDir logs;
    static int count = 0;
    Child c;
    c.out = logs / ("out" + std::to_string(count));
    c.err = logs / ("err" + std::to_string(count++));
    std::string cmd = "exec";
    cmd += kiln::testing::tool_command(tool, args);
    BOOST_TEST_MESSAGE(cmd);
    c.pid = ::fork();
    BOOST_REQUIRE(c.pid >= 0);
    if (c.pid == 0) {
        const int out = ::open(c.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = ::open(c.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(out, STDOUT_FILENO), ::dup2(err, STDERR_FILENO);
        if (file_limit > 0) {
            const rlimit lim{rlim_t(file_limit), rlim_t(file_limit)};
            ::setrlimit(RLIMIT_FSIZE, &lim);
        }
        ::signal(SIGINT, SIG_DFL);
        ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    return c;
}

Run train_run(const std::vector<std::string>& args) { return start(args).wait(); }

// ---- safetensors, parsed here without kiln's reader ----
struct Tensor {
    std::string dtype;
    std::vector<int64_t> shape;
    std::string bytes;
};
struct File {
    std::map<std::string, Tensor> tensors;
    std::map<std::string, std::string> metadata;
};

File parse_safetensors(const std::string& path) {
    const std::string b = read_text(path);
    BOOST_REQUIRE(b.size() >= 8);
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(b[size_t(i)])) << (8 * i);
    BOOST_REQUIRE(8 + n <= b.size());
    BOOST_TEST(n % 8 == 0u);  // the header is padded so the data stays aligned
    const json h = json::parse(b.substr(8, n));
    File f;
    uint64_t end = 0;
    std::vector<std::pair<uint64_t, uint64_t>> spans;
    for (const auto& [name, v] : h.items()) {
        if (name == "__metadata__") {
            for (const auto& [k, s] : v.items()) f.metadata[k] = s.get<std::string>();
            continue;
        }
        const uint64_t begin = v["data_offsets"][0], stop = v["data_offsets"][1];
        Tensor t{v["dtype"], v["shape"].get<std::vector<int64_t>>(), b.substr(8 + n + begin, stop - begin)};
        int64_t numel = 1;
        for (int64_t d : t.shape) numel *= d;
        BOOST_TEST(int64_t(t.bytes.size()) == numel * (t.dtype == "I64" ? 8 : 4), name);
        spans.emplace_back(begin, stop);
        end = std::max(end, stop);
        f.tensors[name] = t;
    }
    std::sort(spans.begin(), spans.end());
    uint64_t at = 0;
    for (auto [begin, stop] : spans) {  // contiguous, no overlap
        BOOST_TEST(begin == at);
        at = stop;
    }
    BOOST_TEST(8 + n + end == b.size());                                   // and nothing after
    return f;
}

// The state names and shapes of a built-in model, in kiln's own words.
std::map<std::string, std::vector<int64_t>> state_of(const std::string& model, bool optimizer) {
    kiln::Graph g(1);
    auto x = g.input("x", {4, 1, 28, 28});
    auto y = g.input("y", {4}, kiln::DType::i64);
    kiln::CompileOptions o;
    o.loss = g.cross_entropy(kiln::nn::build_model(g, model, x, 10), y);
    o.optimizer = kiln::Adam{};
    auto prog = kiln::compile(g, o);
    std::map<std::string, std::vector<int64_t>> s;
    for (const kiln::StateEntry& e : prog->state())
        if (optimizer || e.kind != kiln::StateEntry::optimizer) s[e.name] = {e.shape.dims, e.shape.dims + e.shape.rank};
    return s;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> l;
    std::istringstream in(text);
    for (std::string s; std::getline(in, s);) l.push_back(s);
    return l;
}

bool same_tensors(const File& a, const File& b) {
    if (a.tensors.size() != b.tensors.size()) return false;
    for (const auto& [name, t] : a.tensors) {
        auto it = b.tensors.find(name);
        if (it == b.tensors.end() || it->second.bytes != t.bytes || it->second.shape != t.shape) return false;
    }
    return true;
}

// The run that resume and interruption are compared with: tinyvgg, Adam, cosine over 3 epochs
// (on 1000 images; 400 under KILN_TEST_QUICK, test/quick.h).
const std::vector<std::string> base = {"--data", data, "--limit", kiln::testing::quick() ? "400" : "1000", "--model", "tinyvgg",
                                       "--optimizer", "adam", "--schedule", "cosine", "--t-max", "3", "--threads", "2", "--seed", "7"};
std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

const std::string& uninterrupted_last() {
    static TempDir dir;
    static const std::string path = dir / "run/last.safetensors";
    if (!fs::exists(path)) BOOST_REQUIRE_EQUAL(train_run(with(base, {"--epochs", "3", "--out", dir / "run"})).status, 0);
    return path;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(end_to_end)

BOOST_AUTO_TEST_CASE(history_files_and_model_json) {
    if (!have_data()) return;
    TempDir dir;
    const std::string run = dir / "run";
    const Run r = train_run({"--data", data, "--limit", "2000", "--model", "fmnist_linear", "--epochs", "2", "--schedule",
                              "cosine", "--valid-split", "0.2", "--out", run});
    BOOST_REQUIRE_EQUAL(r.status, 0);
    BOOST_TEST(contains(r.out, "1600 training samples, 400 validation, 10 classes"), r.out);

    const std::vector<std::string> csv = lines(read_text(run + "/history.csv"));
    BOOST_REQUIRE_EQUAL(csv.size(), 3u);
    BOOST_TEST(csv[0] == "epoch,train_loss,train_acc,valid_loss,valid_acc,lr,seconds,best");
    const json hist = json::parse(read_text(run + "/history.json"));
    BOOST_REQUIRE_EQUAL(hist.size(), 2u);
    for (int e = 0; e < 2; ++e) {
        const json& row = hist[size_t(e)];
        BOOST_TEST(row["epoch"].get<int>() == e + 1);
        BOOST_TEST(row["lr"].get<double>() == (e == 0 ? 0.1 : 0.05), boost::test_tools::tolerance(1e-7));  // cosine, T_max 2
        BOOST_TEST(row["train_acc"].get<double>() > 0.3);
        BOOST_TEST(row["valid_acc"].get<double>() > 0.3);
        BOOST_TEST(row["valid_loss"].get<double>() > 0);
        // The CSV line holds the same numbers.
        std::vector<std::string> cells;
        std::stringstream line(csv[size_t(e) + 1]);
        for (std::string c; std::getline(line, c, ',');) cells.push_back(c);
        BOOST_REQUIRE_EQUAL(cells.size(), 8u);
        BOOST_TEST(std::stod(cells[1]) == row["train_loss"].get<double>());
        BOOST_TEST(std::stod(cells[4]) == row["valid_acc"].get<double>());
        BOOST_TEST(cells[7] == (row["best"].get<bool>() ? "1" : "0"));
        // And so does the row printed after the epoch.
        char printed[64];
        std::snprintf(printed, sizeof printed, "%7d  %12.4f  %11.4f", e + 1, row["train_loss"].get<double>(),
                      row["train_acc"].get<double>());
        BOOST_TEST(contains(r.out, printed), printed);
    }
    BOOST_TEST(hist[0]["best"].get<bool>());  // the first epoch is always the best so far

    const kiln::nn::ModelSpec spec = kiln::nn::read_model_file(run + "/model.json");
    BOOST_TEST(spec.builtin == "fmnist_linear");
    BOOST_TEST((spec.input_shape == std::vector<int64_t>{1, 28, 28}));
    BOOST_REQUIRE_EQUAL(spec.class_names.size(), 10u);
    BOOST_TEST(spec.class_names[9] == "Ankle boot");
    // What the training images look like, measured on 1000 of the 1600 (kiln/data/image_statistics.h).
    const kiln::ImageStatistics& s = spec.input_statistics;
    BOOST_TEST(s.samples == 1000);
    BOOST_TEST((std::vector<int64_t>{s.channels, s.height, s.width} == spec.input_shape));
    BOOST_TEST(s.mean[0] == 0.286, boost::test_tools::tolerance(0.05));  // Fashion-MNIST's, light objects on black
    BOOST_TEST(s.dark_background());
}

BOOST_AUTO_TEST_CASE(safetensors_layout_and_loading_best) {
    if (!have_data()) return;
    TempDir dir;
    const std::string run = dir / "run";
    BOOST_REQUIRE_EQUAL(train_run({"--data", data, "--limit", "1000", "--model", "tinyvgg", "--epochs", "1", "--optimizer",
                                    "adam", "--out", run}).status, 0);
    const File best = parse_safetensors(run + "/best.safetensors");
    const File last = parse_safetensors(run + "/last.safetensors");
    std::map<std::string, std::vector<int64_t>> best_names, last_names;
    for (const auto& [name, t] : best.tensors) {
        best_names[name] = t.shape;
        BOOST_TEST(t.dtype == "F32");
    }
    for (const auto& [name, t] : last.tensors) last_names[name] = t.shape;
    BOOST_TEST((best_names == state_of("tinyvgg", false)));  // PyTorch's state_dict, nothing else
    BOOST_TEST((last_names == state_of("tinyvgg", true)));   // plus exp_avg, exp_avg_sq
    BOOST_TEST(best_names.count("conv_block_1.0.weight") == 1u);
    BOOST_TEST(last_names.count("conv_block_1.0.weight.exp_avg_sq") == 1u);
    BOOST_TEST(best.metadata.at("format") == "pt");
    BOOST_TEST(best.metadata.count("kiln.train_state") == 0u);
    const json state = json::parse(last.metadata.at("kiln.train_state"));
    BOOST_TEST(state["epoch"].get<int>() == 1);
    BOOST_TEST(last.metadata.at("kiln.step") == "29");  // ceil(900 / 32) steps
    BOOST_TEST(json::parse(last.metadata.at("kiln.config"))["optimizer"] == "adam");

    // best.safetensors loads, strictly, into the built-in model compiled afresh.
    kiln::Graph g(99);
    auto x = g.input("x", {8, 1, 28, 28});
    kiln::CompileOptions o;
    o.outputs = {kiln::nn::tinyvgg(g, x, 10, 10)};
    auto prog = kiln::compile(g, o);
    BOOST_CHECK_NO_THROW(kiln::io::load_state(*prog, run + "/best.safetensors"));
    std::vector<float> w(size_t(prog->find_state("classifier.1.weight")->shape.numel()));
    prog->read_state(*prog->find_state("classifier.1.weight"), w.data());
    BOOST_TEST(std::memcmp(w.data(), best.tensors.at("classifier.1.weight").bytes.data(), w.size() * 4) == 0);
    // The same file does not fit another architecture: a clear error, not a crash.
    kiln::Graph g2(1);
    auto x2 = g2.input("x", {8, 1, 28, 28});
    kiln::CompileOptions o2;
    o2.outputs = {kiln::nn::tinyvgg(g2, x2, 12, 10)};
    auto other = kiln::compile(g2, o2);
    try {
        kiln::io::load_state(*other, run + "/best.safetensors");
        BOOST_FAIL("no error");
    } catch (const kiln::Error& e) {
        BOOST_TEST(contains(e.what(), "'conv_block_1.0.weight' is f32 [10, 1, 3, 3], expected f32 [12, 1, 3, 3]"), e.what());
    }
}

BOOST_AUTO_TEST_CASE(a_model_file_and_a_separate_validation_set,
                     *boost::unit_test::precondition([](boost::unit_test::test_unit_id id) {
                         return run_if(!kiln::testing::quick(), id, "KILN_TEST_QUICK: validating on 10,000 images runs natively");
                     })) {
    if (!have_data()) return;
    TempDir dir;
    const std::string run = dir / "run";
    const Run r = train_run({"--data", data, "--limit", "600", "--model", std::string(KILN_NN_TEST_DIR) + "/tinyvgg.json",
                             "--valid-data", data + ",split=test", "--epochs", "1", "--out", run});
    BOOST_REQUIRE_EQUAL(r.status, 0);
    BOOST_TEST(contains(r.out, "600 training samples, 10000 validation"), r.out);
    std::map<std::string, std::vector<int64_t>> names;
    for (const auto& [name, t] : parse_safetensors(run + "/best.safetensors").tensors) names[name] = t.shape;
    BOOST_TEST((names == state_of("tinyvgg", false)));
    const kiln::nn::ModelSpec spec = kiln::nn::read_model_file(run + "/model.json");
    BOOST_TEST(spec.builtin.empty());
    BOOST_TEST(spec.layers.size() == 3u);
    // The recorded settings (a description file, a separate validation set) resume as they were.
    const Run resumed = train_run({"--resume", run, "--epochs", "2"});
    BOOST_TEST(resumed.status == 0);
    BOOST_TEST(contains(resumed.out, "600 training samples, 10000 validation"), resumed.out);
}

BOOST_AUTO_TEST_CASE(resume_after_an_epoch_ends_with_the_same_bits) {
    if (!have_data()) return;
    TempDir dir;
    const std::string run = dir / "run";
    BOOST_REQUIRE_EQUAL(train_run(with(base, {"--epochs", "1", "--out", run})).status, 0);
    const Run r = train_run({"--resume", run, "--epochs", "3"});
    BOOST_REQUIRE_EQUAL(r.status, 0);
    BOOST_TEST(contains(r.out, "resuming " + run + " at epoch 2"), r.out);
    BOOST_TEST(same_tensors(parse_safetensors(run + "/last.safetensors"), parse_safetensors(uninterrupted_last())));
    BOOST_TEST(json::parse(read_text(run + "/history.json")).size() == 3u);
    const Run again = train_run(with(base, {"--epochs", "3", "--out", run}));
    BOOST_TEST(again.status == 1);
    BOOST_TEST(contains(again.err, "already holds a run; continue it with --resume"), again.err);
}

BOOST_AUTO_TEST_CASE(ctrl_c_saves_a_checkpoint_that_resumes_to_the_same_bits) {
    if (!have_data()) return;
    TempDir dir;
    const std::string run = dir / "run";
    Child c = start(with(base, {"--epochs", "3", "--out", run}));
    // Interrupt a little after the first history row is printed: most likely in the middle of
    // epoch 2 (an epoch takes about 0.4 s here); at an epoch's end the test holds as well.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!contains(read_text(c.out), "\n      1  ") && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    ::kill(c.pid, SIGINT);
    const Run r = c.wait();
    if (r.status == 0) {
        BOOST_TEST_MESSAGE("the run finished before SIGINT arrived; nothing to resume");
        return;
    }
    BOOST_REQUIRE_EQUAL(r.status, 130);
    BOOST_TEST(contains(r.err, "kiln-train: interrupted "), r.err);
    BOOST_TEST(contains(r.err, "resume with: "), r.err);
    BOOST_TEST(contains(r.err, "--resume " + run), r.err);
    const json state = json::parse(parse_safetensors(run + "/last.safetensors").metadata.at("kiln.train_state"));
    BOOST_TEST_MESSAGE("interrupted after epoch " << state["epoch"] << ", batch " << state["batch"]);
    BOOST_TEST(state["epoch"].get<int>() >= 1);

    const Run resumed = train_run({"--resume", run});  // the recorded --epochs 3
    BOOST_REQUIRE_EQUAL(resumed.status, 0);
    BOOST_TEST(same_tensors(parse_safetensors(run + "/last.safetensors"), parse_safetensors(uninterrupted_last())));
    BOOST_TEST(json::parse(read_text(run + "/history.json")).size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_kill_while_saving_leaves_the_previous_checkpoint) {
    if (!have_data()) return;
    TempDir dir;
    const std::string run = dir / "run";
    BOOST_REQUIRE_EQUAL(train_run(with(base, {"--epochs", "1", "--out", run})).status, 0);
    const std::string last = run + "/last.safetensors", best = run + "/best.safetensors";
    const std::string last_before = read_text(last);
    // last.safetensors (weights and Adam's two moments) is larger than the file size limit of half
    // its size, best.safetensors (weights) is not: the kernel kills the process (SIGXFSZ) part
    // way through writing last.
    const Run r = start({"--resume", run, "--epochs", "2"}, long(last_before.size() / 2)).wait();
    BOOST_TEST(r.signal == SIGXFSZ);
    BOOST_TEST((read_text(last) == last_before));
    BOOST_TEST(parse_safetensors(best).tensors.size() == state_of("tinyvgg", false).size());  // old or new, whole
    // The previous checkpoint still resumes.
    const Run resumed = train_run({"--resume", run, "--epochs", "2"});
    BOOST_TEST(resumed.status == 0);
    BOOST_TEST(json::parse(read_text(run + "/history.json")).size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_diverging_loss_stops_naming_epoch_and_batch) {
    if (!have_data()) return;
    TempDir dir;
    const Run r = train_run({"--data", data, "--limit", "1000", "--model", "fmnist_linear", "--epochs", "2", "--lr", "1e5",
                              "--out", dir / "run"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(contains(r.err, "kiln-train: error: the training loss is NaN at epoch 1, batch "), r.err);
    BOOST_TEST(!fs::exists(dir / "run/last.safetensors"));
}

BOOST_AUTO_TEST_CASE(device_cuda_and_usage_mistakes) {
    TempDir dir;
    Run r;
    bool cuda = true;  // where CUDA works, --device cuda trains (test/tools/test_kiln_device.cpp)
    try {
        kiln::make_backend("cuda");
    } catch (const kiln::Error&) {
        cuda = false;
    }
    if (!cuda) {
        r = train_run({"--data", data, "--device", "cuda", "--out", dir / "run"});
        BOOST_TEST(r.status == 1);
        BOOST_TEST(r.err.rfind("kiln-train: error: --device cuda: ", 0) == 0u, r.err);
        BOOST_TEST(contains(r.err, "; use --device cpu\n"), r.err);
    }
    r = train_run({"--data", data, "--monitor", "valid_f1", "--out", dir / "run"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "--monitor valid_f1: expected valid_loss, valid_acc, train_loss or train_acc"), r.err);
    r = train_run({"--data", data});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "--out RUN_DIR is required"), r.err);
    r = train_run({"--resume", dir / "nothing-here"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(contains(r.err, "last.safetensors: not found"), r.err);
    r = train_run({"--help"});
    BOOST_TEST(r.status == 0);
    BOOST_TEST(contains(r.out, "--early-stopping yes|no"), r.out);
}

namespace {

size_t characters(const std::string& s) {  // UTF-8: the first byte of each character
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

int count(const std::string& s, const std::string& part) {
    int n = 0;
    for (size_t at = s.find(part); at != std::string::npos; at = s.find(part, at + 1)) ++n;
    return n;
}

}  // namespace

// Mistakes a newcomer makes, and what each message must teach (issue 17).
BOOST_AUTO_TEST_CASE(errors_that_teach) {
    TempDir dir;
    Run r = train_run({"--data", data, "--early-stopping", "--patience", "3", "--out", dir / "run"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "kiln-train: error: --early-stopping needs a value (yes|no) before --patience\n"), r.err);
    r = train_run({"--data", data, "--patiance", "3", "--out", dir / "run"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "unknown option --patiance (did you mean --patience?)"), r.err);
    r = train_run({"--data", data, "--model", "tinyvg", "--out", dir / "run"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "--model tinyvg: not a built-in model (did you mean tinyvgg?); the built-in models are fmnist_linear, "), r.err);
    // --help: every option's help starts in one column
    r = train_run({"--help"});
    BOOST_TEST(r.status == 0);
    std::istringstream lines(r.out.substr(r.out.find("\noptions:\n")));
    std::set<size_t> columns;
    for (std::string line; std::getline(lines, line);)
        if (line.rfind("  --", 0) == 0) {
            const size_t gap = line.find("  ", 2);
            if (gap != std::string::npos) columns.insert(characters(line.substr(0, line.find_first_not_of(' ', gap))));
        }
    BOOST_TEST(columns.size() == 1u, "help columns: " << columns.size());
    if (!have_data()) return;
    // an arena larger than the machine: the batch and the model are named, a smaller batch suggested
    const double ram_gib = double(::sysconf(_SC_PHYS_PAGES)) * double(::sysconf(_SC_PAGE_SIZE)) / (1 << 30);
    if (ram_gib > 45) {
        std::printf("skipped the arena case: this machine has %.0f GiB, more than --batch 400000's 39 GiB of arenas\n", ram_gib);
    } else {
        r = train_run({"--data", data, "--limit", "100", "--batch", "400000", "--workers", "0", "--out", dir / "big"});
        BOOST_TEST(r.status == 1);
        BOOST_TEST(contains(r.err, "kiln-train: error: --batch 400000 is too large for tinyvgg here: its arenas need 39.2 GiB"), r.err);
        BOOST_TEST(contains(r.err, "; try a smaller --batch, e.g. --batch "), r.err);
    }
    // a run stuck at chance level for two epochs: a warning with likely causes
    r = train_run({"--data", data, "--limit", "320", "--valid-split", "0", "--lr", "1e-9", "--epochs", "3", "--out", dir / "stuck"});
    BOOST_TEST(r.status == 0);
    BOOST_TEST(contains(r.err, "warning: epochs 1 and 2 stayed at chance level (train_loss 2.30"), r.err);
    BOOST_TEST(contains(r.err, "Likely causes: a learning rate far too small or too large (--lr 1e-9)"), r.err);
    BOOST_TEST(count(r.err, "stayed at chance level") == 1, "warned once, not again at epoch 3");
    r = train_run({"--data", data, "--limit", "1600", "--valid-split", "0", "--optimizer", "adam", "--lr", "0.005", "--epochs", "2",
                   "--out", dir / "learning"});
    BOOST_TEST(r.status == 0);
    BOOST_TEST(!contains(r.err, "chance level"), r.err);
}

BOOST_AUTO_TEST_CASE(early_stopping_and_load_best) {
    if (!have_data()) return;
    TempDir dir;
    // An absurd threshold: no epoch after the first counts as an improvement; patience 1 stops at epoch 2.
    const Run r = train_run({"--data", data, "--limit", "1000", "--model", "fmnist_linear", "--epochs", "10",
                              "--early-stopping", "yes", "--patience", "1", "--threshold", "0.9", "--checkpoint-monitor",
                              "valid_acc", "--load-best", "yes", "--out", dir / "run"});
    BOOST_REQUIRE_EQUAL(r.status, 0);
    BOOST_TEST(contains(r.out, "early stopping: valid_loss has not improved for 1 epochs"), r.out);
    BOOST_TEST(json::parse(read_text(dir / "run/history.json")).size() == 2u);
    BOOST_TEST(contains(r.out, "loaded the best weights (epoch "), r.out);
}

BOOST_AUTO_TEST_SUITE_END()
