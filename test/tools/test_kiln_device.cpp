// --device on kiln-train and kiln-infer, run as a user runs them, on the synthetic plugin's blobs
// (a few hundred 2-value samples: no data set to install, a second per run): an unknown device is
// a usage mistake listing the devices; --device cuda where kiln cannot use CUDA (no CUDA backend
// in the build, or no GPU) fails at once with one line naming the tool and the device and writes
// nothing; --device cpu is the default, bit for bit. Where CUDA does work, a CUDA run's
// checkpoint holds the same tensors as a CPU run's and kiln-infer evaluates on CUDA. In a cross
// build the tools start through KILN_EXE_WRAPPER (qemu).
#define BOOST_TEST_MODULE kiln_device
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kiln/backend/registry.h"
#include "kiln/core/error.h"
#include "kiln/io/safetensors.h"
#include "temp_dir.h"
#include "tool_process.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using kiln::testing::contains;
using kiln::testing::run_tool;
using kiln::testing::ToolRun;
using kiln::testing::read_text;

const std::string blobs = "synthetic:blobs,n=300,centers=3,features=2,std=0.5,seed=3";
// kiln-infer evaluates the blobs with --misclassified 0: its misclassified.png draws samples as
// pictures, and a blob is two numbers.

// One epoch of a small MLP on the blobs, a second at most.
std::vector<std::string> train_args(const std::string& out, const std::vector<std::string>& more = {}) {
    std::vector<std::string> a{"--data", blobs, "--model", "fmnist_mlp", "--model-arg", "hidden_units=8", "--epochs", "2",
                               "--batch", "16", "--threads", "2", "--workers", "0", "--out", out};
    a.insert(a.end(), more.begin(), more.end());
    return a;
}

// Whether this build and machine can run kiln's CUDA backend (the reason when not).
bool cuda_usable(std::string& why) {
    try {
        kiln::make_backend("cuda");
        return true;
    } catch (const kiln::Error& e) {
        why = e.what();
        return false;
    }
}

size_t lines(const std::string& s) {
    size_t n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

// The tool's one-line refusal of --device cuda: "<tool>: error: --device cuda: <why>; use --device cpu".
void check_cuda_refused(const ToolRun& r, const std::string& tool) {
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err.rfind(tool + ": error: --device cuda: ", 0) == 0u, r.err);
    BOOST_TEST(contains(r.err, "cuda"), r.err);
    BOOST_TEST(r.err.size() > 0u);
    BOOST_TEST(r.err.back() == '\n');
    BOOST_TEST(lines(r.err) == 1u, r.err);
    BOOST_TEST(contains(r.err, "; use --device cpu\n"), r.err);
}

std::vector<std::string> names_of(const kiln::io::SafetensorsFile& f) {
    std::vector<std::string> n;
    for (const kiln::io::NamedTensor& t : f.tensors) n.push_back(t.name + " " + t.shape.str());
    return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(device)

BOOST_AUTO_TEST_CASE(an_unknown_device_is_a_usage_mistake_listing_the_devices) {
    TempDir dir;
    ToolRun r = run_tool("kiln-train", train_args(dir / "run", {"--device", "tpu"}));
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.rfind("kiln-train: error: --device tpu: expected one of cpu, cuda\nusage: kiln-train", 0) == 0u, r.err);
    BOOST_TEST(!fs::exists(dir / "run"));
    r = run_tool("kiln-infer", {dir / "run", "--data", blobs, "--device=tpu"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.rfind("kiln-infer: error: --device tpu: expected one of cpu, cuda\nusage: kiln-infer", 0) == 0u, r.err);
    for (const std::string tool : {"kiln-train", "kiln-infer"}) {
        r = run_tool(tool, {"--help"});
        BOOST_TEST(r.status == 0);
        BOOST_TEST(contains(r.out, "--device cpu|cuda"), r.out);
    }
}

BOOST_AUTO_TEST_CASE(device_cpu_is_the_default_bit_for_bit) {
    TempDir dir;
    const ToolRun given = run_tool("kiln-train", train_args(dir / "given", {"--device", "cpu"}));
    BOOST_REQUIRE_EQUAL(given.status, 0);
    BOOST_TEST(contains(given.out, "batch 16, device cpu\n"), given.out);
    const ToolRun by_default = run_tool("kiln-train", train_args(dir / "default"));
    BOOST_REQUIRE_EQUAL(by_default.status, 0);
    BOOST_TEST(contains(by_default.out, "batch 16, device cpu\n"), by_default.out);
    // The same weights, optimizer state and metadata: --device is not recorded in kiln.config.
    for (const std::string file : {"best.safetensors", "last.safetensors"})
        BOOST_TEST(read_text(dir / ("given/" + file)) == read_text(dir / ("default/" + file)), file);
    const kiln::io::SafetensorsFile last = kiln::io::load_safetensors(dir / "given/last.safetensors");
    const json config = json::parse(last.metadata.at("kiln.config"));
    BOOST_TEST(!config.contains("device"), config.dump());
    BOOST_TEST(config.contains("threads"), config.dump());
    BOOST_TEST(contains(read_text(dir / "given/report.html"), "cpu"));

    // kiln-infer on the CPU, given or not, reports the device and the same numbers.
    const ToolRun e1 = run_tool("kiln-infer", {dir / "given", "--data", blobs, "--misclassified", "0", "--json", "--device", "cpu", "--out", dir / "e1"});
    BOOST_REQUIRE_EQUAL(e1.status, 0);
    const ToolRun e2 = run_tool("kiln-infer", {dir / "given", "--data", blobs, "--misclassified", "0", "--json", "--out", dir / "e2"});
    BOOST_REQUIRE_EQUAL(e2.status, 0);
    const json j1 = json::parse(e1.out), j2 = json::parse(e2.out);
    BOOST_TEST(j1["device"] == "cpu");
    BOOST_TEST(j2["device"] == "cpu");
    BOOST_TEST(j1["samples"].get<int64_t>() == 300);
    BOOST_TEST(j1["confusion"] == j2["confusion"]);
    BOOST_TEST(j1["loss"] == j2["loss"]);
    const ToolRun table = run_tool("kiln-infer", {dir / "given", "--data", blobs, "--misclassified", "0", "--device", "cpu", "--out", dir / "e3"});
    BOOST_REQUIRE_EQUAL(table.status, 0);
    BOOST_TEST(contains(table.out, ", device cpu\naccuracy  "), table.out);
}

BOOST_AUTO_TEST_CASE(cuda_where_kiln_cannot_use_it_fails_at_once_and_writes_nothing) {
    std::string why;
    if (cuda_usable(why)) {
        BOOST_TEST_MESSAGE("skipped: CUDA is usable here (the case below runs instead)");
        std::printf("skipped: CUDA is usable here\n");
        return;
    }
    BOOST_TEST_MESSAGE("CUDA is not usable here: " << why);
    TempDir dir;
    ToolRun r = run_tool("kiln-train", train_args(dir / "run", {"--device", "cuda"}));
    check_cuda_refused(r, "kiln-train");
    BOOST_TEST(!fs::exists(dir / "run"), "no run directory, no checkpoint");
    // Before any data is read: a data set that does not exist is not what it complains about.
    r = run_tool("kiln-train", {"--data", "idx:" + dir / "no-such-data", "--device", "cuda", "--out", dir / "run"});
    check_cuda_refused(r, "kiln-train");
    BOOST_TEST(!fs::exists(dir / "run"));

    // kiln-infer: a CPU run, then evaluation, prediction and filters on CUDA write nothing.
    BOOST_REQUIRE_EQUAL(run_tool("kiln-train", train_args(dir / "cpu-run", {"--epochs", "1"})).status, 0);
    const std::string before = read_text(dir / "cpu-run/report.html");
    r = run_tool("kiln-infer", {dir / "cpu-run", "--data", blobs, "--device", "cuda", "--out", dir / "eval"});
    check_cuda_refused(r, "kiln-infer");
    BOOST_TEST(!fs::exists(dir / "eval"));
    r = run_tool("kiln-infer", {dir / "cpu-run", "--data", blobs, "--device", "cuda", "--json"});
    check_cuda_refused(r, "kiln-infer");
    BOOST_TEST(r.out.empty(), r.out);
    BOOST_TEST(!fs::exists(dir / "cpu-run/evaluation.json"));
    BOOST_TEST(!fs::exists(dir / "cpu-run/confusion.png"));
    BOOST_TEST(read_text(dir / "cpu-run/report.html") == before);
    r = run_tool("kiln-infer", {dir / "cpu-run", "--filters", "--device", "cuda", "--out", dir / "filters"});
    check_cuda_refused(r, "kiln-infer");
    BOOST_TEST(!fs::exists(dir / "filters"));
    // Even before the run is read.
    r = run_tool("kiln-infer", {dir / "no-such-run", "--filters", "--device", "cuda"});
    check_cuda_refused(r, "kiln-infer");
}

BOOST_AUTO_TEST_CASE(cuda_where_it_works_writes_the_checkpoint_a_cpu_run_writes) {
    std::string why;
    if (!cuda_usable(why)) {
        BOOST_TEST_MESSAGE("skipped: CUDA is not usable here (" << why << ")");
        std::printf("skipped: CUDA is not usable here (%s)\n", why.c_str());
        return;
    }
    TempDir dir;
    const ToolRun cuda = run_tool("kiln-train", train_args(dir / "cuda", {"--device", "cuda"}));
    BOOST_REQUIRE_EQUAL(cuda.status, 0);
    BOOST_TEST(contains(cuda.out, ", device cuda"), cuda.out);
    BOOST_REQUIRE_EQUAL(run_tool("kiln-train", train_args(dir / "cpu")).status, 0);
    for (const std::string file : {"best.safetensors", "last.safetensors"}) {
        const kiln::io::SafetensorsFile a = kiln::io::load_safetensors(dir / ("cuda/" + file)),
                                        b = kiln::io::load_safetensors(dir / ("cpu/" + file));
        BOOST_TEST(names_of(a) == names_of(b), file);
        BOOST_TEST(a.metadata.size() == b.metadata.size(), file);
        if (file == "last.safetensors") BOOST_TEST(a.metadata.at("kiln.config") == b.metadata.at("kiln.config"));
    }
    const ToolRun e = run_tool("kiln-infer", {dir / "cuda", "--data", blobs, "--misclassified", "0", "--json", "--device", "cuda", "--out", dir / "eval"});
    BOOST_REQUIRE_EQUAL(e.status, 0);
    const json j = json::parse(e.out);
    BOOST_TEST(j["device"] == "cuda");
    BOOST_TEST(j["samples"].get<int64_t>() == 300);
    BOOST_TEST(j["accuracy"].get<double>() > 0.5, "the blobs are well apart; two epochs learn them");
}

BOOST_AUTO_TEST_SUITE_END()
