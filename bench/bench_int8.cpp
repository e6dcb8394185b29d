// bench-int8: a course model in int8 (kiln/quant) beside the same model in float, on the CPU:
//   bench-int8 MODEL --calibration FILE [--threads N] [--seconds S] [--profile] [--smoke]
// FILE holds raw f32 images [n, 1, 28, 28] (bench/int8_vs_peers.py writes the first Fashion-MNIST
// training images there, and calibrates onnxruntime's int8 model on the same). The weights are the
// model's seeded initial ones (speed does not depend on them); calibration is min/max over FILE.
// Prints one line of key=value pairs:
//   float_infer_img_s, int8_infer_img_s     images/s at batch 1000 (median of 3 runs)
//   float_latency_us, int8_latency_us       one image through a batch-1 program, median
//   float_weights, int8_weights             the batch-1 program's persistent bytes (weights, scales)
//   float_arena, int8_arena                 the batch-1 program's arena bytes
//   infer_gflop                             2 × the multiply-adds of one image (convolutions, matmuls)
// --profile adds, on stderr, the time per op of the float and int8 programs at batch 1000 and 1.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/nn/models.h"
#include "kiln/quant/int8.h"
#include "kiln/runtime/program.h"

using namespace kiln;
using Clock = std::chrono::steady_clock;

namespace {

bool smoke = false, profile = false;

// --profile: the time per op over a few more calls (Program::profile_report).
template <class F> void print_profile(Program& p, const char* what, int calls, F call) {
    if (!profile) return;
    p.set_profiling(true);
    for (int i = 0; i < calls; ++i) call();
    std::fprintf(stderr, "%s, %d calls:\n%s", what, calls, p.profile_report().c_str());
    p.set_profiling(false);
}
int repeats = 3, latency_calls = 2000;

template <class F> double rate(double seconds, F f) {
    if (!smoke) f();  // warm-up
    int64_t calls = 0;
    const auto t0 = Clock::now();
    double elapsed = 0;
    while (calls < (smoke ? 1 : 3) || elapsed < seconds) {
        f();
        ++calls;
        elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    }
    return double(calls) / elapsed;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// The float model (seed 42) and its int8 form, both at `batch`.
struct Models {
    Graph g{42}, q;
    Value x, logits;
    quant::Int8Model int8;
};

struct Figures {
    double img_s = 0, latency_us = 0;
    size_t weights = 0, arena = 0;
};

Figures measure(Graph& g, Value x, Value out, int threads, double seconds, const std::vector<float>& images, double* gflop) {
    Figures f;
    CompileOptions o;
    o.outputs = {out};
    o.backend_options.threads = threads;
    {
        auto p = compile(g, o);  // batch 1000
        std::vector<float> batch(1000 * 784);
        for (size_t i = 0; i < batch.size(); ++i) batch[i] = images[i % images.size()];
        auto call = [&] {
            p->write_input(x, batch.data(), 1000);
            p->forward(1000);
        };
        std::vector<double> r;
        for (int k = 0; k < repeats; ++k) r.push_back(rate(seconds / 3, call) * 1000.0);
        f.img_s = median(r);
        if (gflop) {
            p->set_profiling(true);
            call();
            for (const Program::StepProfile& s : p->profile_steps()) *gflop += s.flops / 1000.0 / 1e9;
            p->set_profiling(false);
        }
        print_profile(*p, gflop ? "float, batch 1000" : "int8, batch 1000", 5, call);
    }
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4 || std::strcmp(argv[2], "--calibration") != 0) {
        std::fprintf(stderr, "usage: %s MODEL --calibration FILE [--threads N] [--seconds S] [--smoke]\n", argv[0]);
        return 2;
    }
    const std::string model = argv[1], calibration = argv[3];
    int threads = 2;
    double seconds = 2.0;
    for (int i = 4; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--smoke")) smoke = true, repeats = 1, latency_calls = 20, seconds = 0;
        else if (!std::strcmp(argv[i], "--profile")) profile = true;
        else if (i + 1 < argc && !std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[++i]);
        else if (i + 1 < argc && !std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[++i]);
    }
    try {
        std::ifstream in(calibration, std::ios::binary | std::ios::ate);
        const std::streamsize bytes = in.tellg();
        if (!in || bytes <= 0 || bytes % (784 * 4) != 0) fail(Errc::io, calibration + ": not whole f32 [n, 1, 28, 28] images");
        const int64_t n = bytes / (784 * 4);
        std::vector<float> images(size_t(n) * 784);
        in.seekg(0);
        in.read(reinterpret_cast<char*>(images.data()), bytes);

        // Calibrate the float model on the images, then build the int8 model at each batch measured.
        auto int8_file = [&] {
            Graph g(42);
            const Value x = g.input("x", {n, 1, 28, 28});
            const Value logits = nn::build_model(g, model, x, 10);
            const quant::Plan plan = quant::plan_int8(g, x, logits);
            CompileOptions o;
            o.outputs = plan.observed();
            auto p = compile(g, o);
            quant::Calibrator cal(plan, {});
            p->write_input(x, images.data(), n);
            p->forward(n);
            cal.observe(*p, 0);
            return io::SafetensorsFile{quant::quantize_weights(plan, g, *p, cal.encodings()), quant::int8_metadata("bench")};
        }();
        auto build = [&](int64_t batch, Models& m) {
            m.x = m.g.input("x", {batch, 1, 28, 28});
            m.logits = nn::build_model(m.g, model, m.x, 10);
            m.int8 = quant::build_int8(m.q, m.g, quant::plan_int8(m.g, m.x, m.logits), int8_file, "calibration");
        };
        Models big;
        build(1000, big);
        double gflop = 0;
        const Figures f1000 = measure(big.g, big.x, big.logits, threads, seconds, images, &gflop);
        const Figures q1000 = measure(big.q, big.int8.input, big.int8.output, threads, seconds, images, nullptr);

        // Batch 1: latency (write, forward, read the logits) and the program's memory.
        Models one;
        build(1, one);
        Figures f1, q1;
        auto latency = [&](Graph& g, Value x, Value out, Figures& f) {
            CompileOptions o;
            o.outputs = {out};
            o.backend_options.threads = threads;
            auto p = compile(g, o);
            f.weights = p->persistent_bytes(), f.arena = p->arena_bytes();
            std::vector<double> us;
            float logits[10];
            for (int i = 0; i < latency_calls; ++i) {
                const auto t0 = Clock::now();
                p->write_input(x, &images[size_t(i % n) * 784], 1);
                p->forward(1);
                p->read(out, logits);
                us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
            }
            f.latency_us = median(us);
            print_profile(*p, &f == &f1 ? "float, batch 1" : "int8, batch 1", 2000, [&] {
                p->write_input(x, images.data(), 1);
                p->forward(1);
            });
        };
        latency(one.g, one.x, one.logits, f1);
        latency(one.q, one.int8.input, one.int8.output, q1);
        std::printf("model=%s threads=%d float_infer_img_s=%.0f int8_infer_img_s=%.0f float_latency_us=%.1f int8_latency_us=%.1f "
                    "float_weights=%zu int8_weights=%zu float_arena=%zu int8_arena=%zu infer_gflop=%.6g\n",
                    model.c_str(), threads, f1000.img_s, q1000.img_s, f1.latency_us, q1.latency_us, f1.weights, q1.weights, f1.arena,
                    q1.arena, gflop);
        return 0;
    } catch (const Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
