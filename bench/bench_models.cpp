// bench-models: the course's five models in kiln, on random Fashion-MNIST-shaped data
// (x [B, 1, 28, 28] in [0, 1), labels 0..9), with the course's batch sizes and optimizers:
//   train_img_s     training images/s (forward + backward + optimizer step), median of 3 runs
//   infer_img_s     inference images/s at batch 1000 (eval mode), median of 3 runs
//   latency_us      one image through an inference program compiled for batch 1, median
//   arena_*         arena + persistent bytes of the training program at batch 32 and 128 and of
//                   the batch-1 inference program (exact: the plan's sizes)
//   peak_rss_mb     the process's peak resident memory (VmHWM), after all of the above
// One model per process, so peak RSS is that model's:
//   bench-models MODEL [--threads N] [--seconds S] [--device cpu|cuda] [--profile] [--smoke]   (MODEL: fmnist_linear … resnet_mini)
// (--smoke: each figure from one or a few calls — CI runs it so that the program cannot rot).
//   train_gflop, infer_gflop   the arithmetic of one image in training and in inference: 2 × the
//                  multiply-adds of every convolution (and its gradients) and matmul
// It prints one line of key=value pairs (bench/models_vs_peers.py reads it). --profile adds, on
// stderr, a line per convolution and matmul of the training, batch-1000 and batch-1 programs
// ("layer program=… op=… gflop=… ms=… what=…", per call) and their time per op.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/runtime/program.h"
#include "kiln/nn/models.h"

using namespace kiln;
using Clock = std::chrono::steady_clock;

namespace {

struct Setting {
    const char* model;
    int64_t batch;
    OptimizerConfig optimizer;
};
const Setting settings[] = {
    {"fmnist_linear", 32, SGD{.lr = 0.1f}},
    {"fmnist_mlp", 32, SGD{.lr = 0.1f}},
    {"tinyvgg", 32, SGD{.lr = 0.1f}},
    {"lenet5", 1024, Adam{.lr = 0.005f}},
    {"resnet_mini", 128, SGD{.lr = 0.1f, .momentum = 0.9f}},
};

struct Built {
    Graph g{42};
    Value x, y, logits, loss;
};
Built build(const std::string& model, int64_t batch) {
    Built b;
    b.x = b.g.input("x", {batch, 1, 28, 28});
    b.y = b.g.input("y", {batch}, DType::i64);
    b.logits = nn::build_model(b.g, model, b.x, 10);
    b.loss = b.g.cross_entropy(b.logits, b.y);
    return b;
}

std::string device = "cpu";

std::unique_ptr<Program> compile_for(Built& b, bool train, const OptimizerConfig& opt, int threads) {
    CompileOptions o;
    o.backend = device;
    if (train) o.loss = b.loss, o.optimizer = opt;
    o.outputs = {b.logits};
    o.backend_options.threads = threads;
    return compile(b.g, o);
}

// One batch of random images (and labels), written into the program before every call as a data
// loader does: a call consumes its inputs (the arena reuses their memory).
struct Batch {
    std::vector<float> x;
    std::vector<int64_t> y;
    Batch(int64_t n) : x(size_t(n) * 784), y(size_t(n)) {
        Generator rng(7);
        for (float& v : x) v = rng.uniform();
        for (int64_t& v : y) v = int64_t(rng.below(10));
    }
    void write(Program& p, const Built& b, int64_t n) const {
        p.write_input(b.x, x.data(), n);
        if (p.can_train()) p.write_input(b.y, y.data(), n);
    }
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// --smoke: every figure from a single call or a few (CI: the program still runs and prints its line).
bool smoke = false;
int min_calls = 3, repeats = 3, latency_calls = 2000;

// Calls f repeatedly for about `seconds` (at least 3 times); returns calls per second.
template <class F> double rate(double seconds, F f) {
    if (!smoke) f();  // warm-up
    int64_t calls = 0;
    const auto t0 = Clock::now();
    double elapsed = 0;
    while (calls < min_calls || elapsed < seconds) {
        f();
        ++calls;
        elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    }
    return double(calls) / elapsed;
}

// Runs `calls` more calls with every kernel timed (the timing adds to each call) and returns the
// program's arithmetic per call in GFLOP; with --profile, prints each convolution's and matmul's
// time per call and the time per op on stderr.
template <class F> double profiled(Program& p, const char* program, int calls, F call, bool print) {
    p.set_profiling(true);
    for (int i = 0; i < calls; ++i) call();
    double flops = 0;
    for (const Program::StepProfile& step : p.profile_steps()) {
        flops += step.flops;
        if (print && step.flops > 0)
            std::fprintf(stderr, "layer program=%s op=%s gflop=%.6g ms=%.6g what=%s\n", program, op_name(step.op),
                         step.flops / calls / 1e9, step.seconds / calls * 1e3, step.what.c_str());
    }
    if (print) std::fprintf(stderr, "%s, %d calls:\n%s", program, calls, p.profile_report().c_str());
    p.set_profiling(false);
    return flops / calls / 1e9;
}

long peak_rss_kb() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
    return -1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODEL [--threads N] [--seconds S] [--device cpu|cuda] [--profile] [--smoke]\n", argv[0]);
        return 2;
    }
    const std::string model = argv[1];
    int threads = 2;
    double seconds = 2.0;
    bool profile = false;
    for (int i = 2; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--profile")) profile = true;
        else if (!std::strcmp(argv[i], "--smoke")) smoke = true, min_calls = 1, repeats = 1, latency_calls = 20, seconds = 0;
        else if (i + 1 == argc) break;
        else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[++i]);
        else if (!std::strcmp(argv[i], "--device")) device = argv[++i];
    }
    const Setting* s = nullptr;
    for (const Setting& c : settings)
        if (model == c.model) s = &c;
    if (!s) {
        std::fprintf(stderr, "unknown model %s\n", model.c_str());
        return 2;
    }
    try {
        auto arena = [&](int64_t batch, bool train) {
            Built b = build(model, batch);
            auto p = compile_for(b, train, s->optimizer, threads);
            return p->arena_bytes() + p->persistent_bytes();
        };
        const size_t arena32 = arena(32, true), arena128 = arena(128, true), arena1 = arena(1, false);

        std::vector<double> train, infer;
        double train_gflop = 0, infer_gflop = 0;  // per image
        {
            Built b = build(model, s->batch);
            auto p = compile_for(b, true, s->optimizer, threads);
            const Batch batch(s->batch);
            auto step = [&] {
                batch.write(*p, b, s->batch);
                p->train_step(s->batch);
            };
            for (int r = 0; r < repeats; ++r) train.push_back(rate(seconds / 3, step) * double(s->batch));
            train_gflop = profiled(*p, "train", smoke ? 1 : 10, step, profile) / double(s->batch);
        }
        {
            Built b = build(model, 1000);
            auto p = compile_for(b, false, {}, threads);
            const Batch batch(1000);
            auto call = [&] {
                batch.write(*p, b, 1000);
                p->forward(1000);
            };
            for (int r = 0; r < repeats; ++r) infer.push_back(rate(seconds / 3, call) * 1000.0);
            infer_gflop = profiled(*p, "infer1000", smoke ? 1 : 3, call, profile) / 1000.0;
        }
        double latency_us;
        {
            Built b = build(model, 1);
            auto p = compile_for(b, false, {}, threads);
            const Batch batch(1);
            std::vector<double> us;
            float out[10];
            for (int i = 0; i < latency_calls; ++i) {
                const auto t0 = Clock::now();
                batch.write(*p, b, 1);
                p->forward(1);
                p->read(b.logits, out);
                us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
            }
            latency_us = median(us);
            profiled(*p, "infer1", latency_calls, [&] {
                batch.write(*p, b, 1);
                p->forward(1);
            }, profile);
        }
        std::printf("model=%s device=%s batch=%lld threads=%d train_img_s=%.0f infer_img_s=%.0f latency_us=%.1f peak_rss_mb=%.1f "
                    "arena_train32=%zu arena_train128=%zu arena_infer1=%zu train_gflop=%.6g infer_gflop=%.6g\n",
                    model.c_str(), device.c_str(), (long long)s->batch, threads, median(train), median(infer), latency_us,
                    double(peak_rss_kb()) / 1024.0, arena32, arena128, arena1, train_gflop, infer_gflop);
        return 0;
    } catch (const Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
