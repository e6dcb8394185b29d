// kiln-export run as a user runs it, on a tiny kiln-train run over a slice of the real
// Fashion-MNIST (Debian's dataset-fashion-mnist; without it the cases that need it say why they
// are skipped): the three files it writes and what its header states against what the micro
// runtime reads from the program, the program run here with the micro runtime against kiln-infer's
// --logits for the same test images, training programs (--train, --momentum), the input conversion
// of the run's eval transforms, and its errors. In a cross build the tools start through
// KILN_EXE_WRAPPER (qemu).
#define BOOST_TEST_MODULE kiln_export
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kiln/data/plugin_registry.h"
#include "kiln/micro/micro.h"
#include "kiln/nn/model_file.h"
#include "temp_dir.h"
#include "tool_process.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using kiln::testing::contains;
using kiln::testing::run_tool;
using kiln::testing::ToolRun;
using kiln::testing::fmnist;
using kiln::testing::read_text;
const std::string test_data = "idx:" + fmnist + ",split=test";

bool have_data() { return kiln::testing::have_fashion_mnist(); }

ToolRun export_tool(const std::vector<std::string>& args) { return run_tool("kiln-export", args); }

// A copy of the tiny run (its best weights and model.json) whose model.json records other eval
// transforms, as kiln-train records --eval-transforms.
std::string run_with_eval_transforms(const TempDir& dir, const std::string& name, const std::string& eval_transforms) {
    const std::string copy = dir / name;
    fs::create_directories(copy);
    fs::copy_file(kiln::testing::tiny_tinyvgg_run(500) + "/best.safetensors", copy + "/best.safetensors");
    json model = json::parse(read_text(kiln::testing::tiny_tinyvgg_run(500) + "/model.json"));
    BOOST_REQUIRE(!model.contains("eval_transforms"));  // the tiny run has none
    model["eval_transforms"] = eval_transforms;
    std::ofstream(copy + "/model.json") << model.dump(2);
    BOOST_REQUIRE_EQUAL(kiln::nn::read_model_file(copy + "/model.json").eval_transforms, eval_transforms);
    return copy;
}

// What kiln-export wrote for NAME in DIR.
struct Exported {
    std::string header, source;
    std::vector<uint8_t> program;  // NAME.kprog
};

Exported read_export(const std::string& dir, const std::string& name) {
    Exported e;
    for (const char* ext : {".h", ".c", ".kprog"})
        BOOST_REQUIRE_MESSAGE(fs::exists(dir + "/" + name + ext), dir + "/" + name + ext << " was not written");
    e.header = read_text(dir + "/" + name + ".h");
    e.source = read_text(dir + "/" + name + ".c");
    const std::string bytes = read_text(dir + "/" + name + ".kprog");
    e.program.assign(bytes.begin(), bytes.end());
    return e;
}

// The value of "#define MACRO value" in a header, up to the end of its line.
std::string macro(const std::string& header, const std::string& name) {
    const std::string key = "#define " + name + " ";
    const size_t at = header.find(key);
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, "no " << name << " in the header:\n" << header);
    const size_t start = at + key.size();
    return header.substr(start, header.find('\n', start) - start);
}

// A macro's leading whole number ("62720u  /* … */" → 62720).
uint64_t macro_number(const std::string& header, const std::string& name) {
    const std::string v = macro(header, name);
    char* end = nullptr;
    const uint64_t n = std::strtoull(v.c_str(), &end, 10);
    BOOST_REQUIRE_MESSAGE(end != v.c_str(), name << " is not a number: " << v);
    return n;
}

// The numbers of the .c file's `const unsigned char NAME_program[…] = { … };`.
std::vector<uint8_t> c_array(const std::string& source, const std::string& name) {
    const size_t decl = source.find("const unsigned char " + name + "_program[");
    BOOST_REQUIRE_MESSAGE(decl != std::string::npos, "no " << name << "_program array in the source");
    const size_t open = source.find("= {", decl), close = source.find("};", decl);
    BOOST_REQUIRE(open != std::string::npos);
    BOOST_REQUIRE(close != std::string::npos);
    std::vector<uint8_t> bytes;
    std::string bad;  // the first item that is not a byte
    std::istringstream in(source.substr(open + 3, close - open - 3));
    for (std::string item; std::getline(in, item, ',') && bad.empty();) {
        item.erase(std::remove_if(item.begin(), item.end(), [](char c) { return c == '\n' || c == ' '; }), item.end());
        if (item.empty()) continue;  // after the last number's comma
        char* end = nullptr;
        const unsigned long v = std::strtoul(item.c_str(), &end, 10);
        if (*end != '\0' || end == item.c_str() || v > 255) bad = item;
        bytes.push_back(uint8_t(v));
    }
    BOOST_REQUIRE_MESSAGE(bad.empty(), "not a byte in the array: '" << bad << "'");
    return bytes;
}

// Memory as a device gives it: 8-byte aligned (the program too: a .kprog read into RAM).
struct Memory {
    std::vector<uint64_t> words;
    explicit Memory(size_t bytes) : words((bytes + 7) / 8, 0) {}
    Memory(const std::vector<uint8_t>& bytes) : words((bytes.size() + 7) / 8, 0) {
        std::memcpy(words.data(), bytes.data(), bytes.size());
    }
    void* data() { return words.data(); }
};

// What kiln_micro_describe reads from the program (model_name left out: it points into the program).
kiln_micro_info describe(const std::vector<uint8_t>& program) {
    Memory p(program);
    kiln_micro_info info{};
    const kiln_micro_status s = kiln_micro_describe(p.data(), program.size(), &info);
    BOOST_REQUIRE_MESSAGE(s == KILN_MICRO_OK, "kiln_micro_describe: " << kiln_micro_status_message(s));
    info.model_name = nullptr;
    return info;
}

// A program ready to run: its bytes, an arena and a state region of exactly the sizes it asks for.
struct Device {
    std::vector<uint8_t> bytes;
    Memory program, arena, state;
    kiln_micro_info info{};
    kiln_micro_model model{};
    explicit Device(const std::vector<uint8_t>& b)
        : bytes(b), program(b), arena(describe(b).arena_bytes), state(describe(b).state_bytes) {
        BOOST_REQUIRE(kiln_micro_describe(program.data(), bytes.size(), &info) == KILN_MICRO_OK);
        const kiln_micro_status s = kiln_micro_init(&model, program.data(), bytes.size(), arena.data(), info.arena_bytes,
                                                    info.state_bytes ? state.data() : nullptr, info.state_bytes);
        BOOST_REQUIRE_MESSAGE(s == KILN_MICRO_OK, "kiln_micro_init: " << kiln_micro_status_message(s));
    }
};

// Sample i of the test split as the dataset gives it: u8 H×W×C pixels and the label.
struct Sample {
    std::vector<uint8_t> pixels;
    int64_t label = -1;
};

Sample test_sample(int64_t i) {
    static kiln::data::PluginRegistry plugins({KILN_TEST_PLUGIN_DIR});
    static const kiln::data::Dataset data = plugins.open_dataset(test_data);
    kiln::data::SampleBuffer buf;
    Sample s;
    const kiln_array a = data.get(i, buf, s.label);
    BOOST_REQUIRE(a.elem == KILN_U8);
    BOOST_REQUIRE_EQUAL(kiln::data::array_description(a), "u8 [28, 28, 1]");
    const auto* p = static_cast<const uint8_t*>(a.data);
    s.pixels.assign(p, p + kiln::data::array_bytes(a));
    return s;
}

// The logits the program computes with the micro runtime for test samples 0..n-1 (n a multiple of
// its batch), each sample's pixels given to kiln_micro_set_pixels.
std::vector<std::vector<float>> device_logits(const std::vector<uint8_t>& program, int64_t n) {
    Device d(program);
    const uint32_t batch = d.info.batch, classes = d.info.classes;
    BOOST_REQUIRE_EQUAL(n % batch, 0);
    std::vector<std::vector<float>> rows;
    for (int64_t first = 0; first < n; first += batch) {
        for (uint32_t k = 0; k < batch; ++k)
            BOOST_REQUIRE(kiln_micro_set_pixels(&d.model, k, test_sample(first + k).pixels.data()) == KILN_MICRO_OK);
        BOOST_REQUIRE(kiln_micro_infer(&d.model) == KILN_MICRO_OK);
        const float* out = kiln_micro_output(&d.model);
        for (uint32_t k = 0; k < batch; ++k) rows.emplace_back(out + k * classes, out + (k + 1) * classes);
    }
    return rows;
}

// kiln-infer's logits for test samples 0..n-1 (--logits FILE): each row's logits, in dataset order.
std::vector<std::vector<float>> infer_logits(const std::string& run_dir, int64_t n, const std::vector<std::string>& more = {}) {
    TempDir out;
    const std::string csv = out / "logits.csv";
    std::vector<std::string> args = {run_dir, "--data", test_data, "--limit", std::to_string(n), "--batch", "1", "--logits", csv, "--out", out.path};
    args.insert(args.end(), more.begin(), more.end());
    const ToolRun r = run_tool("kiln-infer", args);
    BOOST_REQUIRE_EQUAL(r.status, 0);
    std::istringstream in(read_text(csv));
    std::string line;
    std::getline(in, line);  // the header
    std::vector<std::vector<float>> rows;
    for (; std::getline(in, line);) {
        std::vector<std::string> fields;
        std::istringstream cells(line);
        for (std::string cell; std::getline(cells, cell, ',');) fields.push_back(cell);
        BOOST_REQUIRE_GT(fields.size(), 3u);
        BOOST_REQUIRE_EQUAL(std::stoll(fields[0]), int64_t(rows.size()));
        std::vector<float> logits;
        for (size_t k = 3; k < fields.size(); ++k) logits.push_back(std::strtof(fields[k].c_str(), nullptr));
        rows.push_back(logits);
    }
    BOOST_REQUIRE_EQUAL(rows.size(), size_t(n));
    return rows;
}

// Every logit within 1e-4·max(1, |host|) of kiln-infer's (the CPU backend's fast kernels against
// the program's reference kernels), and the same prediction where the host's top two are apart.
void check_logits(const std::vector<std::vector<float>>& device, const std::vector<std::vector<float>>& host,
                  const std::string& what) {
    BOOST_REQUIRE_EQUAL(device.size(), host.size());
    float worst = 0;
    for (size_t i = 0; i < host.size(); ++i) {
        BOOST_REQUIRE_EQUAL(device[i].size(), host[i].size());
        for (size_t c = 0; c < host[i].size(); ++c) {
            const float d = std::fabs(device[i][c] - host[i][c]), scale = std::max(1.0f, std::fabs(host[i][c]));
            worst = std::max(worst, d / scale);
            BOOST_TEST(d <= 1e-4f * scale, what << ": sample " << i << " logit " << c << ": " << device[i][c] << " on the device, "
                                                << host[i][c] << " from kiln-infer");
        }
        std::vector<float> sorted = host[i];
        std::sort(sorted.rbegin(), sorted.rend());
        const long on_device = long(std::max_element(device[i].begin(), device[i].end()) - device[i].begin());
        const long on_host = long(std::max_element(host[i].begin(), host[i].end()) - host[i].begin());
        if (sorted[0] - sorted[1] > 1e-3f * std::max(1.0f, std::fabs(sorted[0])))
            BOOST_TEST(on_device == on_host, what << ": sample " << i);
    }
    BOOST_TEST_MESSAGE(what << ": largest difference from kiln-infer, relative to max(1, |logit|): " << worst);
}

// The cross-entropy of one row of logits at `label`.
double cross_entropy(const std::vector<float>& logits, int64_t label) {
    const double top = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (float v : logits) sum += std::exp(double(v) - top);
    return top + std::log(sum) - double(logits[size_t(label)]);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(end_to_end)

BOOST_AUTO_TEST_CASE(writes_the_program_three_ways_by_default_into_the_run) {
    // No --name, no --out: RUN_DIR/export/tinyvgg.{h,c,kprog}.
    if (!have_data()) return;
    const std::string& dir = kiln::testing::tiny_tinyvgg_run(500);
    const ToolRun r = export_tool({dir});
    BOOST_REQUIRE_EQUAL(r.status, 0);
    const std::string base = dir + "/export/tinyvgg";
    BOOST_TEST(r.out.rfind(base + ": inference program, batch 1\n", 0) == 0u, r.out);
    BOOST_TEST(contains(r.out, "wrote " + base + ".h, " + base + ".c, " + base + ".kprog"), r.out);
    const Exported e = read_export(dir + "/export", "tinyvgg");

    // The .c array is the .kprog, byte for byte, in a 16-byte aligned array the header declares.
    BOOST_TEST((c_array(e.source, "tinyvgg") == e.program), "the .c array holds the .kprog's bytes");
    BOOST_TEST(contains(e.source, "#include \"tinyvgg.h\""));
    BOOST_TEST(contains(e.source, "__attribute__((aligned(16))) const unsigned char tinyvgg_program[TINYVGG_PROGRAM_BYTES]"));
    BOOST_TEST(contains(e.header, "extern const unsigned char tinyvgg_program[TINYVGG_PROGRAM_BYTES];"));

    // The header states what the runtime reads from the program.
    const kiln_micro_info info = describe(e.program);
    BOOST_TEST(info.trains == 0);
    BOOST_TEST(macro_number(e.header, "TINYVGG_PROGRAM_BYTES") == e.program.size());
    BOOST_TEST(macro_number(e.header, "TINYVGG_ARENA_BYTES") == info.arena_bytes);
    BOOST_TEST(contains(macro(e.header, "TINYVGG_ARENA_BYTES"), "the lower bound is " + std::to_string(info.lower_bound)));
    BOOST_TEST(info.lower_bound <= info.arena_bytes);
    BOOST_TEST(macro_number(e.header, "TINYVGG_STATE_BYTES") == 0u);
    BOOST_TEST(info.state_bytes == 0u);
    BOOST_TEST(macro_number(e.header, "TINYVGG_CLASSES") == info.classes);
    BOOST_TEST(info.classes == 10u);
    BOOST_TEST(macro_number(e.header, "TINYVGG_BATCH") == info.batch);
    BOOST_TEST(info.batch == 1u);
    BOOST_REQUIRE_EQUAL(info.input_rank, 4u);
    BOOST_TEST(macro(e.header, "TINYVGG_INPUT_SHAPE") == "{" + std::to_string(info.input_dims[0]) + ", " +
                                                             std::to_string(info.input_dims[1]) + ", " +
                                                             std::to_string(info.input_dims[2]) + ", " +
                                                             std::to_string(info.input_dims[3]) + "}");
    BOOST_TEST(macro(e.header, "TINYVGG_INPUT_SHAPE") == "{1, 1, 28, 28}");
    BOOST_TEST(macro(e.header, "TINYVGG_PIXEL_DIVISOR").rfind("255.0f", 0) == 0u);
    BOOST_TEST(macro(e.header, "TINYVGG_INPUT_MEAN") == "{0.0f}");  // no eval transforms: v / 255 alone
    BOOST_TEST(macro(e.header, "TINYVGG_INPUT_STD") == "{1.0f}");
    // The class names, as model.json has them, in the header and the program.
    const std::vector<std::string> names = kiln::nn::read_model_file(dir + "/model.json").class_names;
    std::string listed;
    for (const std::string& n : names) listed += (listed.empty() ? "\"" : ", \"") + n + "\"";
    BOOST_TEST(macro(e.header, "TINYVGG_CLASS_NAMES") == "{" + listed + "}");
    Device d(e.program);
    BOOST_TEST(std::string(d.info.model_name) == "tinyvgg");
    for (uint32_t c = 0; c < info.classes; ++c) BOOST_TEST(kiln_micro_class_name(&d.model, c) == names[c]);
}

BOOST_AUTO_TEST_CASE(name_out_and_batch) {
    // A .safetensors file as the run; --batch 4 is the program's batch and its input's first dimension.
    if (!have_data()) return;
    TempDir out;
    const ToolRun r = export_tool({kiln::testing::tiny_tinyvgg_run(500) + "/best.safetensors", "--out", out / "fw", "--name", "tv4", "--batch", "4"});
    BOOST_REQUIRE_EQUAL(r.status, 0);
    BOOST_TEST(r.out.rfind(out / "fw/tv4" + ": inference program, batch 4\n", 0) == 0u, r.out);
    const Exported e = read_export(out / "fw", "tv4");
    BOOST_TEST((c_array(e.source, "tv4") == e.program), "the .c array holds the .kprog's bytes");
    const kiln_micro_info info = describe(e.program);
    BOOST_TEST(info.batch == 4u);
    BOOST_TEST(info.input_dims[0] == 4);
    BOOST_TEST(macro_number(e.header, "TV4_BATCH") == 4u);
    BOOST_TEST(macro(e.header, "TV4_INPUT_SHAPE") == "{4, 1, 28, 28}");
    BOOST_TEST(macro_number(e.header, "TV4_ARENA_BYTES") == info.arena_bytes);
    BOOST_TEST(std::string(Device(e.program).info.model_name) == "tinyvgg");  // the model's name, not the C name
    // A batch of 4 needs a larger arena than a batch of 1, the same weights.
    BOOST_REQUIRE_EQUAL(export_tool({kiln::testing::tiny_tinyvgg_run(500), "--out", out / "fw", "--name", "tv1"}).status, 0);
    const Exported one = read_export(out / "fw", "tv1");
    BOOST_TEST(describe(one.program).arena_bytes < info.arena_bytes);
    BOOST_TEST(macro(one.header, "TV1_WEIGHT_BYTES") == macro(e.header, "TV4_WEIGHT_BYTES"));
    BOOST_TEST(!fs::exists(kiln::testing::tiny_tinyvgg_run(500) + "/export/tv4.h"));
}

BOOST_AUTO_TEST_CASE(the_program_predicts_what_kiln_infer_computes) {
    // The program on the host with the micro runtime, fed the dataset's u8 pixels (the run has no
    // eval transforms: v / 255), against kiln-infer --logits on the same 8 test images; at batch 1
    // and at batch 4.
    if (!have_data()) return;
    const std::string& dir = kiln::testing::tiny_tinyvgg_run(500);
    TempDir out;
    BOOST_REQUIRE_EQUAL(export_tool({dir, "--out", out.path, "--name", "b1"}).status, 0);
    BOOST_REQUIRE_EQUAL(export_tool({dir, "--out", out.path, "--name", "b4", "--batch", "4"}).status, 0);
    const int64_t n = 8;
    const std::vector<std::vector<float>> host = infer_logits(dir, n);
    check_logits(device_logits(read_export(out.path, "b1").program, n), host, "batch 1");
    check_logits(device_logits(read_export(out.path, "b4").program, n), host, "batch 4");
}

// The run's json evaluation: kiln-infer --json on the first n test images.
double infer_accuracy(const std::string& run_dir, int64_t n, const std::vector<std::string>& more = {}) {
    TempDir out;
    std::vector<std::string> args = {run_dir, "--data", test_data, "--limit", std::to_string(n), "--batch", "100", "--json", "--out", out.path};
    args.insert(args.end(), more.begin(), more.end());
    const ToolRun r = run_tool("kiln-infer", args);
    BOOST_REQUIRE_EQUAL(r.status, 0);
    return json::parse(read_text(out / "evaluation.json")).at("accuracy").get<double>();
}

BOOST_AUTO_TEST_CASE(int8_programs) {
    // kiln-export --int8 --calibrate on a copy of the tiny run: the int8 file beside its weights,
    // the program on the micro runtime giving kiln-infer --int8's logits bit for bit (integer
    // kernels: the reference here, the CPU backend's there), no more than 0.5 points of accuracy
    // lost against the float model on 2,000 test images, and the arena a quarter of the float program's.
    if (!have_data()) return;
    TempDir dir;
    const std::string run = dir / "run";
    fs::create_directories(run);
    for (const char* f : {"best.safetensors", "model.json"}) fs::copy_file(kiln::testing::tiny_tinyvgg_run(500) + "/" + f, run + "/" + f);
    const std::string train_data = "idx:" + fmnist + ",split=train";
    const ToolRun q = export_tool({run, "--int8", "--calibrate", train_data, "--calibration-images", "300", "--out", dir / "q", "--name", "q"});
    BOOST_REQUIRE_EQUAL(q.status, 0);
    BOOST_TEST(contains(q.out, "int8 inference program"));
    BOOST_TEST(fs::exists(run + "/best.int8.safetensors"));
    const int64_t n = 8;
    const std::vector<std::vector<float>> host = infer_logits(run, n, {"--int8"}), device = device_logits(read_export(dir / "q", "q").program, n);
    BOOST_REQUIRE_EQUAL(device.size(), host.size());
    for (size_t i = 0; i < host.size(); ++i)
        BOOST_TEST(device[i] == host[i], "sample " << i << ": the micro runtime's int8 logits differ from kiln-infer --int8's");

    const double float_acc = infer_accuracy(run, 2000), int8_acc = infer_accuracy(run, 2000, {"--int8"});
    BOOST_TEST_MESSAGE("tiny TinyVGG on 2,000 test images: float " << float_acc << ", int8 " << int8_acc);
    BOOST_TEST(int8_acc >= float_acc - 0.005, "float accuracy " << float_acc << ", int8 " << int8_acc << ": more than 0.5 points lost");

    // The float program's arena against the int8 one's (the headers' macros): activations of one
    // byte instead of four, the f32 input and the 64-byte alignment of each tensor aside.
    BOOST_REQUIRE_EQUAL(export_tool({run, "--out", dir / "f", "--name", "f"}).status, 0);
    const uint64_t float_arena = macro_number(read_text(dir / "f/f.h"), "F_ARENA_BYTES");
    const uint64_t int8_arena = macro_number(read_text(dir / "q/q.h"), "Q_ARENA_BYTES");
    BOOST_TEST_MESSAGE("arena: float " << float_arena << " B, int8 " << int8_arena << " B");
    BOOST_TEST(int8_arena * 4 <= float_arena + 4 * 128);

    // A missing int8 file names itself and how to make it.
    fs::remove(run + "/best.int8.safetensors");
    const ToolRun missing = run_tool("kiln-infer", {run, "--data", test_data, "--limit", "10", "--int8"});
    BOOST_TEST(missing.status == 1);
    BOOST_TEST(contains(missing.err, "best.int8.safetensors: not found"));
    BOOST_TEST(contains(missing.err, "--int8 --calibrate"));
}

BOOST_AUTO_TEST_CASE(training_programs) {
    if (!have_data()) return;
    const std::string& dir = kiln::testing::tiny_tinyvgg_run(500);
    TempDir out;
    BOOST_REQUIRE_EQUAL(export_tool({dir, "--out", out.path, "--name", "infer"}).status, 0);
    const ToolRun plain = export_tool({dir, "--out", out.path, "--name", "sgd", "--train"});
    BOOST_REQUIRE_EQUAL(plain.status, 0);
    BOOST_TEST(contains(plain.out, ": training program, batch 1\n"), plain.out);
    BOOST_REQUIRE_EQUAL(export_tool({dir, "--out", out.path, "--name", "momentum", "--train", "--lr", "0.05", "--momentum", "0.9"}).status,
                        0);
    const Exported inference = read_export(out.path, "infer"), sgd = read_export(out.path, "sgd"),
                   momentum = read_export(out.path, "momentum");
    BOOST_TEST((c_array(sgd.source, "sgd") == sgd.program), "the .c array holds the .kprog's bytes");

    const kiln_micro_info si = describe(sgd.program), mi = describe(momentum.program);
    BOOST_TEST(si.trains != 0);
    BOOST_TEST(mi.trains != 0);
    BOOST_TEST(si.state_bytes > 0u);
    BOOST_TEST(macro_number(sgd.header, "SGD_STATE_BYTES") == si.state_bytes);
    BOOST_TEST(macro_number(momentum.header, "MOMENTUM_STATE_BYTES") == mi.state_bytes);
    BOOST_TEST(macro_number(sgd.header, "SGD_ARENA_BYTES") == si.arena_bytes);
    BOOST_TEST(mi.state_bytes > si.state_bytes);  // a momentum buffer per parameter
    BOOST_TEST(contains(sgd.header, "a kiln program (training)"));

    // The state, by PyTorch's names: the run's parameters as the inference program holds them
    // (named the same and byte for byte), then with --momentum a momentum buffer for each.
    std::map<std::string, std::string> parameters;  // the inference program's state: name → bytes
    {
        Device d(inference.program);
        for (uint32_t i = 0; i < kiln_micro_state_count(&d.model); ++i) {
            kiln_micro_tensor t{};
            BOOST_REQUIRE(kiln_micro_state_at(&d.model, i, &t) == KILN_MICRO_OK);
            BOOST_TEST(t.kind == 0, t.name);
            parameters[t.name] = std::string(static_cast<const char*>(t.data), t.bytes);
        }
    }
    int weights = 0, biases = 0;
    for (const auto& [name, bytes] : parameters) {
        weights += name.size() > 7 && name.substr(name.size() - 7) == ".weight";
        biases += name.size() > 5 && name.substr(name.size() - 5) == ".bias";
    }
    BOOST_TEST(weights == 5);  // TinyVGG: four convolutions and the classifier's Linear
    BOOST_TEST(biases == 5);
    BOOST_TEST(parameters.count("classifier.1.weight") == 1u);
    const Sample s = test_sample(0);
    const std::vector<float> logits = device_logits(inference.program, 1)[0];
    for (const Exported* e : {&sgd, &momentum}) {
        const bool with_momentum = e == &momentum;
        Device d(e->program);
        std::set<std::string> seen, buffers;
        for (uint32_t i = 0; i < kiln_micro_state_count(&d.model); ++i) {
            kiln_micro_tensor t{};
            BOOST_REQUIRE(kiln_micro_state_at(&d.model, i, &t) == KILN_MICRO_OK);
            const std::string name = t.name;
            BOOST_TEST_MESSAGE(name << ": kind " << t.kind << ", " << t.bytes << " bytes");
            if (t.kind == 0) {
                BOOST_TEST(parameters.count(name) == 1u, name);
                BOOST_TEST((parameters[name] == std::string(static_cast<const char*>(t.data), t.bytes)), name << ": the run's weights");
                seen.insert(name);
            } else {
                BOOST_TEST(t.kind == 2, name);
                buffers.insert(name);
            }
        }
        BOOST_TEST(seen.size() == parameters.size());
        std::set<std::string> expected;
        if (with_momentum)
            for (const auto& [name, bytes] : parameters) expected.insert(name + ".momentum_buffer");
        BOOST_TEST((buffers == expected), (with_momentum ? "a momentum buffer per parameter" : "no optimizer state"));
        BOOST_TEST(macro_number(e->header, with_momentum ? "MOMENTUM_WEIGHT_BYTES" : "SGD_WEIGHT_BYTES") == d.info.state_bytes);
        BOOST_TEST(d.model.lr == (with_momentum ? 0.05f : 0.01f));  // --lr, default 0.01

        // A train step with a label: its first loss is the cross-entropy of the run's weights'
        // logits for that sample; repeated on the one sample, the loss falls.
        BOOST_REQUIRE(kiln_micro_set_pixels(&d.model, 0, s.pixels.data()) == KILN_MICRO_OK);
        kiln_micro_labels(&d.model)[0] = s.label;
        float first = NAN, last = NAN;
        BOOST_REQUIRE(kiln_micro_train_step(&d.model, &first) == KILN_MICRO_OK);
        BOOST_TEST(std::isfinite(first));
        BOOST_TEST(first == cross_entropy(logits, s.label), boost::test_tools::tolerance(1e-4));
        for (int step = 1; step < 10; ++step) {
            BOOST_REQUIRE(kiln_micro_set_pixels(&d.model, 0, s.pixels.data()) == KILN_MICRO_OK);
            kiln_micro_labels(&d.model)[0] = s.label;
            BOOST_REQUIRE(kiln_micro_train_step(&d.model, &last) == KILN_MICRO_OK);
            BOOST_TEST(std::isfinite(last));
        }
        BOOST_TEST(d.model.step == 10);
        BOOST_TEST(last < first, "loss " << first << " → " << last << " after 10 steps on one sample");
        kiln_micro_labels(&d.model)[0] = 10;
        BOOST_TEST(kiln_micro_train_step(&d.model, nullptr) == KILN_MICRO_BAD_LABEL);
    }
    // An inference program has no state region and does not train.
    const kiln_micro_info ii = describe(inference.program);
    BOOST_TEST(ii.trains == 0);
    BOOST_TEST(ii.state_bytes == 0u);
    Device d(inference.program);
    BOOST_TEST(kiln_micro_train_step(&d.model, nullptr) == KILN_MICRO_CANNOT_TRAIN);
}

BOOST_AUTO_TEST_CASE(normalize_goes_into_the_program) {
    // eval_transforms to_tensor;normalize: input = (v / 255 − 0.5) / 0.25, in the header and in
    // what the program computes (kiln-infer applies the same transforms to the same weights).
    if (!have_data()) return;
    TempDir tmp;
    const std::string dir = run_with_eval_transforms(tmp, "normalized", "to_tensor;normalize=mean=0.5,std=0.25");
    BOOST_REQUIRE_EQUAL(export_tool({dir, "--out", tmp / "fw"}).status, 0);
    const Exported e = read_export(tmp / "fw", "tinyvgg");
    BOOST_TEST(macro(e.header, "TINYVGG_INPUT_MEAN") == "{0.5f}");
    BOOST_TEST(macro(e.header, "TINYVGG_INPUT_STD") == "{0.25f}");
    BOOST_TEST(macro(e.header, "TINYVGG_PIXEL_DIVISOR").rfind("255.0f", 0) == 0u);
    check_logits(device_logits(e.program, 4), infer_logits(dir, 4), "normalize");
    // The same weights without the conversion compute other logits: the comparison would see a
    // conversion left out.
    BOOST_REQUIRE_EQUAL(export_tool({kiln::testing::tiny_tinyvgg_run(500), "--out", tmp / "plain"}).status, 0);
    BOOST_TEST((device_logits(read_export(tmp / "plain", "tinyvgg").program, 1) != device_logits(e.program, 1)));

    // Written as kiln-train records --eval-transforms: spaces as the transforms plugin reads them,
    // normalize's bare first value is its mean; resize and center_crop are the device's to do.
    for (const std::string& pipeline : {std::string("to_tensor; normalize=mean=0.5, std=0.25"),
                                        std::string("resize=28;center_crop=28;to_tensor;normalize=0.5,std=0.25")}) {
        const std::string other = run_with_eval_transforms(tmp, "other", pipeline);
        const ToolRun r = export_tool({other, "--out", tmp / "other-fw"});
        BOOST_TEST(r.status == 0, pipeline << ": " << r.err);
        if (r.status == 0) {
            const Exported o = read_export(tmp / "other-fw", "tinyvgg");
            BOOST_TEST((o.program == e.program), pipeline);
            BOOST_TEST(macro(o.header, "TINYVGG_INPUT_MEAN") == "{0.5f}", pipeline);
        }
        fs::remove_all(other);
    }

    // Two normalize steps, as kiln-infer applies them one after the other: one conversion,
    // ((v / 255 − 0.25) / 0.5 − 0.5) / 0.5 = (v / 255 − 0.5) / 0.25.
    const std::string twice = run_with_eval_transforms(tmp, "twice", "to_tensor;normalize=0.25,std=0.5;normalize=0.5,std=0.5");
    BOOST_REQUIRE_EQUAL(export_tool({twice, "--out", tmp / "twice-fw"}).status, 0);
    const Exported t = read_export(tmp / "twice-fw", "tinyvgg");
    BOOST_TEST(macro(t.header, "TINYVGG_INPUT_MEAN") == "{0.5f}");
    BOOST_TEST(macro(t.header, "TINYVGG_INPUT_STD") == "{0.25f}");
    check_logits(device_logits(t.program, 4), infer_logits(twice, 4), "normalize twice");
}

BOOST_AUTO_TEST_CASE(an_eval_transform_without_an_equivalent_is_refused) {
    if (!have_data()) return;
    TempDir tmp;
    const std::string dir = run_with_eval_transforms(tmp, "flipped", "random_horizontal_flip;to_tensor");
    const ToolRun r = export_tool({dir, "--out", tmp / "fw"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err == "kiln-export: error: " + dir + "/model.json: eval_transforms: eval transform 'random_horizontal_flip' has no "
                                                       "equivalent in an exported program (it converts u8 pixels with to_tensor and "
                                                       "normalize only)\n",
               r.err);
    BOOST_TEST(r.out.empty(), r.out);
    BOOST_TEST(!fs::exists(tmp / "fw"), "nothing is written");
}

BOOST_AUTO_TEST_CASE(usage_mistakes_and_a_missing_run) {
    TempDir dir;
    ToolRun r = export_tool({});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.rfind("kiln-export: error: missing <run>\nusage: kiln-export <run>", 0) == 0u, r.err);
    r = export_tool({dir.path, "--train=no"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.rfind("kiln-export: error: --train takes no value\nusage: kiln-export <run>", 0) == 0u, r.err);
    r = export_tool({dir.path, "--train", "yes"});  // --train is a flag: "yes" is a second <run>
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "kiln-export: error: unexpected argument 'yes'"), r.err);
    r = export_tool({dir.path, "--batch", "0"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.rfind("kiln-export: error: --batch 0: expected a whole number from 1 to 65536\nusage: kiln-export", 0) == 0u, r.err);
    // Option values are checked before the run is opened (dir holds no run).
    r = export_tool({dir.path, "--train", "--momentum", "1.5"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.rfind("kiln-export: error: --momentum 1.5: expected a number from 0 to 1\nusage: kiln-export", 0) == 0u, r.err);
    r = export_tool({dir.path, "--train", "--lr", "fast"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.rfind("kiln-export: error: --lr fast: expected a number from 0 to 1e+06\nusage: kiln-export", 0) == 0u, r.err);
    for (const char* option : {"--lr", "--momentum"}) {  // SGD's settings belong to a training program
        r = export_tool({dir.path, option, "0.5"});
        BOOST_TEST(r.status == 2, option);
        BOOST_TEST(r.err.rfind("kiln-export: error: " + std::string(option) + " goes with --train: it sets the training program's SGD\n"
                               "usage: kiln-export", 0) == 0u, r.err);
    }
    r = export_tool({dir.path, "--int8", "--train"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.rfind("kiln-export: error: --int8 exports an inference program; --train trains in float\nusage: kiln-export", 0) == 0u, r.err);
    r = export_tool({dir.path, "--calibrate", "idx:x"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.rfind("kiln-export: error: --calibrate goes with --int8\nusage: kiln-export", 0) == 0u, r.err);
    r = export_tool({dir.path, "--int8", "--calibration", "entropy"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "--calibration entropy"), r.err);
    r = export_tool({dir.path, "--int8", "--percentile", "40"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "--percentile 40"), r.err);
    r = export_tool({dir.path, "--name", "tiny-vgg"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.rfind("kiln-export: error: --name tiny-vgg: expected a C identifier (letters, digits and _, not starting with a "
                           "digit)\nusage: kiln-export", 0) == 0u, r.err);
    r = export_tool({dir.path, "--name", "9lives"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "--name 9lives: expected a C identifier"), r.err);
    r = export_tool({dir / "nothing-here"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err == "kiln-export: error: " + dir / "nothing-here" + "/best.safetensors: not found (is " + dir / "nothing-here" +
                            " a kiln-train run directory?)\n");
    BOOST_TEST(!fs::exists(dir / "nothing-here"));
    r = export_tool({"--help"});
    BOOST_TEST(r.status == 0);
    for (const char* option : {"--out DIR", "--name NAME", "--batch N", "--train", "--lr X", "--momentum X"})
        BOOST_TEST(contains(r.out, option), option);
}

BOOST_AUTO_TEST_SUITE_END()
