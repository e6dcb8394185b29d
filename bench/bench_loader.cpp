// bench-loader: images/s the DataLoader delivers from a dataset plugin as f32 batches, shuffled.
// By default: the idx plugin over Fashion-MNIST's 60000 training images (u8 28×28 → f32
// [128, 1, 28, 28] + i64 labels), with 0 (decoding on the consumer's thread), 1 and 2 workers,
// through next() and next_into(). Each figure is the median of --epochs epochs after one warm-up
// epoch. The consumer does nothing with a batch but touch it, so this is the loader's ceiling, not
// a training speed. "CPU µs/image" is the process's CPU time (all threads) per image: on a busy
// machine it stays honest where wall-clock throughput does not.
//
//   bench-loader [--dataset SPEC] [--pipeline P] [--batch N] [--workers 0,1,2] [--api next,next_into]
//                [--epochs N] [--tsv]
//   bench-loader --dataset imagefolder:/tmp/photos --pipeline "trivial_augment_wide;resize=64x64;to_tensor"
// --tsv prints one tab-separated line per run (api, workers, images/s, ms/epoch, CPU µs/image)
// instead of the table, for bench/loader_vs_torchvision.py.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/data/dataloader.h"
#include "kiln/data/plugin_registry.h"

using Clock = std::chrono::steady_clock;
using namespace kiln::data;

namespace {

const char* const usage =
    "usage: bench-loader [--dataset SPEC] [--pipeline P] [--batch N] [--workers 0,1,2] [--api next,next_into]\n"
    "                    [--epochs N] [--tsv]\n";

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Options {
    std::string dataset = "idx:/usr/share/datasets/fashion-mnist,split=train";
    std::string pipeline;
    int64_t batch = 128;
    std::vector<int64_t> workers = {0, 1, 2};
    std::vector<std::string> apis = {"next", "next_into"};
    int64_t epochs = 5;
    bool tsv = false;
};

int64_t whole_number(std::string_view option, std::string_view text, int64_t min, int64_t max) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max)
        throw UsageError(std::string(option) + " " + std::string(text) + ": expected whole numbers from " +
                         std::to_string(min) + " to " + std::to_string(max));
    return v;
}

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> items;
    for (size_t pos = 0; pos <= text.size();) {
        const size_t comma = std::min(text.find(',', pos), text.size());
        items.emplace_back(text.substr(pos, comma - pos));
        pos = comma + 1;
    }
    return items;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--tsv") {
            o.tsv = true;
            continue;
        }
        if (arg == "-h" || arg == "--help") throw UsageError("runs the DataLoader over a dataset and prints images/s");
        if (i + 1 >= argc) throw UsageError(std::string(arg) + ": unknown, or missing its value");
        const std::string_view value = argv[++i];
        if (arg == "--dataset") o.dataset = value;
        else if (arg == "--pipeline") o.pipeline = value;
        else if (arg == "--batch") o.batch = whole_number(arg, value, 1, 1 << 16);
        else if (arg == "--epochs") o.epochs = whole_number(arg, value, 1, 1000);
        else if (arg == "--workers") {
            o.workers.clear();
            for (const auto& w : split_list(value)) o.workers.push_back(whole_number(arg, w, 0, 64));
        } else if (arg == "--api") {
            o.apis = split_list(value);
            for (const auto& a : o.apis)
                if (a != "next" && a != "next_into") throw UsageError("--api " + a + ": expected next or next_into");
        } else {
            throw UsageError(std::string(arg) + ": unknown option");
        }
    }
    return o;
}

double cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Options opt = parse(argc, argv);
        PluginRegistry plugins;
        auto t0 = Clock::now();
        Dataset data = plugins.open_dataset(opt.dataset);
        const TransformPipeline pipeline = plugins.pipeline(opt.pipeline);
        const double open_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (!opt.tsv) {
            std::printf("%s: %lld samples, opened in %.0f ms; pipeline \"%s\"; batch %lld\n", opt.dataset.c_str(),
                        (long long)data.size(), open_ms, pipeline.str().c_str(), (long long)opt.batch);
            std::printf("%-26s %14s %12s %14s\n", "loader", "images/s", "ms/epoch", "CPU µs/image");
        }
        for (const std::string& api : opt.apis)
            for (int64_t workers : opt.workers) {
                const bool into = api == "next_into";
                DataLoaderOptions o;
                o.batch_size = opt.batch, o.shuffle = true, o.seed = 1, o.workers = int(workers);
                DataLoader loader(data, pipeline, o);
                std::vector<float> x(size_t(loader.batch_shape().numel()));
                std::vector<int64_t> y(static_cast<size_t>(opt.batch));
                volatile float sink = 0;
                std::vector<double> seconds, cpu;
                for (int64_t epoch = 0; epoch <= opt.epochs; ++epoch) {
                    loader.set_epoch(epoch);
                    auto start = Clock::now();
                    const double cpu_start = cpu_seconds();
                    if (into)
                        while (int64_t n = loader.next_into(x.data(), y.data())) sink = sink + x[size_t(n - 1)];
                    else
                        while (const Batch* b = loader.next()) sink = sink + b->x[0];
                    if (epoch == 0) continue;  // warm-up: buffers grow, caches fill
                    seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
                    cpu.push_back(cpu_seconds() - cpu_start);
                }
                const double s = median(seconds), images = double(loader.size());
                const double cpu_us = median(cpu) / images * 1e6;
                if (opt.tsv) {
                    std::printf("%s\t%lld\t%.0f\t%.1f\t%.2f\n", api.c_str(), (long long)workers, images / s, s * 1e3, cpu_us);
                } else {
                    char what[64];
                    std::snprintf(what, sizeof what, "%s, %lld worker%s", api.c_str(), (long long)workers,
                                  workers == 1 ? "" : "s");
                    std::printf("%-26s %14.0f %12.1f %14.2f\n", what, images / s, s * 1e3, cpu_us);
                }
                std::fflush(stdout);
            }
    } catch (const UsageError& e) {
        std::fprintf(stderr, "bench-loader: %s\n%s", e.what(), usage);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-loader: %s\n", e.what());
        return 1;
    }
    return 0;
}
