// kiln-export: a trained run as a program for the micro runtime (kiln/micro/micro.h) — a Cortex-M
// firmware, a Linux board, or the host — compiled here for a fixed batch with the device's kernels.
//   kiln-export runs/tinyvgg --out fw/ --name tinyvgg            # fw/tinyvgg.{h,c,kprog}
//   kiln-export runs/tinyvgg --out fw/ --name tinyvgg_train --train --lr 0.01 --momentum 0.9
//   kiln-export runs/tinyvgg --int8 --calibrate idx:/usr/share/datasets/fashion-mnist,split=train
// --int8 exports the run's int8 model (tools/int8.h); with --calibrate it first calibrates the float
// model and writes the int8 file (RUN/best.int8.safetensors) that kiln-infer --int8 also reads.
// NAME.h holds the constants a firmware sizes its memory with (NAME_ARENA_BYTES, …), NAME.c the
// program as a const array (flash), NAME.kprog the same bytes for a device that loads it from a file.
// The input conversion the run's eval transforms imply (to_tensor, normalize) goes into the program
// (kiln_micro_set_pixels); resize and center_crop are the device's to do before (the program takes
// the model's input size); other transforms are refused.
// Exit status: 0 done, 1 error, 2 usage mistake.
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "args.h"
#include "device.h"
#include "kiln/core/error.h"
#include "kiln/io/atomic_file.h"
#include "kiln/io/checkpoint.h"
#include "kiln/runtime/export.h"
#include "kiln/runtime/program.h"
#include "int8.h"
#include "trained_run.h"

namespace {

namespace fs = std::filesystem;
using kiln::Errc;
using kiln::fail;

// Without the spaces and tabs around it, as the transforms plugin reads a pipeline and its configuration.
std::string trimmed(const std::string& s) {
    const size_t first = s.find_first_not_of(" \t");
    return first == std::string::npos ? "" : s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

std::vector<float> numbers(const std::string& list, const std::string& what) {
    std::vector<float> out;
    size_t start = 0;
    while (start <= list.size()) {
        const size_t end = std::min(list.find(':', start), list.size());
        const std::string item = trimmed(list.substr(start, end - start));
        char* stop = nullptr;
        const float v = std::strtof(item.c_str(), &stop);
        if (item.empty() || *stop) fail(Errc::format, what + ": '" + item + "' is not a number");
        out.push_back(v);
        start = end + 1;
    }
    return out;
}

// The input conversion of the run's eval transforms: ToTensor's v / 255, then Normalize.
void input_conversion(const std::string& pipeline, int64_t channels, kiln::ExportOptions& o, const std::string& origin) {
    size_t start = 0;
    while (start < pipeline.size()) {
        const size_t end = std::min(pipeline.find(';', start), pipeline.size());
        std::string step = pipeline.substr(start, end - start);
        start = end + 1;
        const size_t eq = step.find('=');
        const std::string name = trimmed(step.substr(0, eq));
        const std::string config = eq == std::string::npos ? "" : trimmed(step.substr(eq + 1));
        if (name.empty() || name == "to_tensor" || name == "resize" || name == "center_crop") continue;
        if (name != "normalize")
            fail(Errc::unsupported, origin + ": eval transform '" + name + "' has no equivalent in an exported program "
                                             "(it converts u8 pixels with to_tensor and normalize only)");
        std::string mean, stdev;
        size_t at = 0;
        for (bool first = true; at <= config.size(); first = false) {
            const size_t comma = std::min(config.find(',', at), config.size());
            const std::string kv = trimmed(config.substr(at, comma - at));
            at = comma + 1;
            const size_t e = kv.find('=');
            const std::string key = e == std::string::npos ? (first ? "mean" : kv) : trimmed(kv.substr(0, e));
            const std::string value = e == std::string::npos ? kv : trimmed(kv.substr(e + 1));
            if (key == "mean") mean = value;
            else if (key == "std") stdev = value;
            else fail(Errc::format, origin + ": normalize: unknown key '" + key + "'");
        }
        std::vector<float> m = numbers(mean, origin + ": normalize mean"), s = numbers(stdev, origin + ": normalize std");
        for (std::vector<float>* v : {&m, &s})
            if (v->size() == 1) v->assign(size_t(channels), v->front());
        if (o.mean.empty() && o.std.empty()) {
            o.mean = m, o.std = s;
            continue;
        }
        // A second normalize after the first: ((x − m1) / s1 − m2) / s2 = (x − (m1 + m2·s1)) / (s1·s2).
        if (m.size() != o.mean.size() || s.size() != o.std.size() || o.mean.size() != o.std.size())
            fail(Errc::format, origin + ": the normalize steps give different numbers of channels");
        for (size_t c = 0; c < m.size(); ++c) o.mean[c] += m[c] * o.std[c], o.std[c] *= s[c];
    }
}

int export_command(int argc, char** argv) {
    kiln::tools::Command cmd("kiln-export", "Writes a trained run as a program for kiln's micro runtime (a device).");
    cmd.positional("run", "RUN_DIR or FILE.safetensors (with model.json beside it)")
        .option("out", "DIR", "where NAME.h, NAME.c and NAME.kprog go (default: RUN_DIR/export)")
        .option("name", "NAME", "the program's C name (default: the built-in model's name, else model)")
        .option("batch", "N", "the batch the program runs", "1")
        .flag("train", "a training program: forward, backward and SGD, its state in RAM")
        .option("lr", "X", "--train: the SGD learning rate", "0.01")
        .option("momentum", "X", "--train: the SGD momentum (0: none, no momentum buffers)", "0")
        .flag("int8", "the int8 model: the run's int8 file, made first when --calibrate is given")
        .option("calibrate", "SPEC", "--int8: calibrate on this dataset and write the run's int8 file")
        .option("calibration-images", "N", "--calibrate: how many images, spread evenly over the dataset", "1000")
        .option("calibration", "METHOD", "--calibrate: an activation's range from minmax, percentile or mse", "minmax")
        .option("percentile", "P", "--calibration percentile: the % of values the range holds", "99.99");
    const kiln::tools::Args a = cmd.parse(argc, argv, 1);
    if (a.help) {
        std::fputs(cmd.help().c_str(), stdout);
        return 0;
    }
    const bool train = a.given("train");
    const int64_t batch = a.integer("batch", 1, 65536);
    // Every option is checked before the run is opened: a usage mistake is one whatever the run.
    for (const char* o : {"lr", "momentum"})
        if (a.given(o) && !train) throw a.usage_error(std::string("--") + o + " goes with --train: it sets the training program's SGD");
    const float lr = float(a.real("lr", 0, 1e6)), momentum = float(a.real("momentum", 0, 1));
    const bool int8 = a.given("int8");
    if (int8 && train) throw a.usage_error("--int8 exports an inference program; --train trains in float");
    for (const char* o : {"calibrate", "calibration-images", "calibration", "percentile"})
        if (a.given(o) && !int8) throw a.usage_error(std::string("--") + o + " goes with --int8");
    kiln::tools::Int8Calibration calibration;
    if (a.given("calibrate")) calibration.spec = a.text("calibrate");
    calibration.images = a.integer("calibration-images", 1, 1000000);
    const std::string method = a.choice("calibration", {"minmax", "percentile", "mse"});
    calibration.options.method = method == "mse" ? kiln::quant::Method::mse : method == "percentile" ? kiln::quant::Method::percentile : kiln::quant::Method::minmax;
    calibration.options.percentile = a.real("percentile", 50.0001, 100);
    if (a.given("name")) {
        const std::string& n = a.text("name");
        bool identifier = !n.empty() && !std::isdigit(static_cast<unsigned char>(n[0]));
        for (char c : n) identifier = identifier && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
        if (!identifier)
            throw a.usage_error("--name " + n + ": expected a C identifier (letters, digits and _, not starting with a digit)");
    }
    const kiln::tools::TrainedRun r = kiln::tools::open_trained_run(a.positionals[0]);
    const std::string name = a.given("name") ? a.text("name") : r.spec.builtin.empty() ? "model" : r.spec.builtin;
    const std::string out = a.given("out") ? a.text("out") : (fs::path(r.run.path()) / "export").string();

    kiln::Graph g(0);
    kiln::tools::TrainedModel m;
    if (int8) {
        if (!calibration.spec.empty()) kiln::tools::quantize_run(r, calibration, "kiln-export");
        const kiln::quant::Int8Model q = kiln::tools::build_int8_model(g, r, batch);
        m.x = q.input, m.logits = q.output;
    } else {
        m = kiln::tools::build_trained_model(g, r, batch);
    }
    kiln::ExportOptions eo;
    eo.input = m.x;
    eo.output = m.logits;
    eo.model_name = r.spec.builtin.empty() ? "model" : r.spec.builtin;
    eo.class_names = r.spec.class_names;
    input_conversion(r.spec.eval_transforms, r.spec.input_shape.size() == 3 ? r.spec.input_shape[0] : 0, eo,
                     r.run.model_json() + ": eval_transforms");
    kiln::CompileOptions copt;
    copt.outputs = {m.logits};
    copt.backend_options.reference = true;  // the device's kernels, so the plan is the device's
    copt.backend_options.threads = 1;
    if (train) {
        eo.labels = g.input("y", {batch}, kiln::DType::i64);
        copt.loss = g.cross_entropy(m.logits, eo.labels);
        copt.optimizer = kiln::SGD{.lr = lr, .momentum = momentum};
    }
    auto program = kiln::compile(g, copt);
    if (!int8) kiln::io::load_state(*program, r.weights);  // the int8 graph holds its weights
    const std::vector<uint8_t> bytes = kiln::export_program(*program, eo);
    const kiln::CSource c = kiln::program_c_source(bytes, name);

    std::error_code made;
    fs::create_directories(out, made);
    if (made) fail(Errc::io, out + ": cannot create the folder: " + made.message());
    const std::string base = (fs::path(out) / name).string();
    kiln::io::write_file_atomic(base + ".h", c.header);
    kiln::io::write_file_atomic(base + ".c", c.source);
    kiln::io::write_file_atomic(base + ".kprog", std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    const kiln::MemoryPlan& plan = program->memory_plan();
    std::printf("%s: %s program, batch %lld\n", base.c_str(), train ? "training" : int8 ? "int8 inference" : "inference", static_cast<long long>(batch));
    std::printf("  arena %zu bytes (lower bound %zu), %s %zu bytes, program %zu bytes\n", plan.arena_bytes, plan.lower_bound,
                train ? "state in RAM" : "weights in flash", plan.persistent_bytes, bytes.size());
    std::printf("  wrote %s.h, %s.c, %s.kprog\n", base.c_str(), base.c_str(), base.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return kiln::tools::run_tool("kiln-export", [&] { return export_command(argc, argv); });
}
