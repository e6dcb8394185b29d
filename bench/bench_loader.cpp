// bench-loader: images/s the DataLoader delivers from the idx plugin as f32 batches
// (Fashion-MNIST's 60000 training images, u8 28×28 → f32 [128, 1, 28, 28] + i64 labels, shuffled),
// with 0 (decoding on the consumer's thread), 1 and 2 workers, through next() and next_into().
// Each figure is the median of 5 epochs after one warm-up epoch. The consumer does nothing with a
// batch but touch it, so this is the loader's ceiling, not a training speed. "CPU µs/image" is the
// process's CPU time (all threads) per image: on a busy machine it stays honest where wall-clock
// throughput does not.
//   bench-loader [folder] [batch]      (default /usr/share/datasets/fashion-mnist, 128)
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <string>
#include <vector>

#include "kiln/data/dataloader.h"
#include "kiln/data/plugin_registry.h"

using Clock = std::chrono::steady_clock;
using namespace kiln::data;

namespace {

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
    const std::string folder = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    const int64_t batch = argc > 2 ? std::stoll(argv[2]) : 128;
    try {
        PluginRegistry plugins;
        auto t0 = Clock::now();
        Dataset train = plugins.open_dataset("idx:" + folder + ",split=train");
        std::printf("idx open (decompress + validate %lld images): %.0f ms\n", (long long)train.size(),
                    std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        std::printf("%-26s %14s %12s %14s\n", "loader", "images/s", "ms/epoch", "CPU µs/image");
        for (bool into : {false, true})
            for (int workers : {0, 1, 2}) {
                DataLoaderOptions o;
                o.batch_size = batch, o.shuffle = true, o.seed = 1, o.workers = workers;
                DataLoader loader(train, {}, o);
                std::vector<float> x(size_t(loader.batch_shape().numel()));
                std::vector<int64_t> y(static_cast<size_t>(batch));
                volatile float sink = 0;
                std::vector<double> seconds, cpu;
                for (int64_t epoch = 0; epoch <= 5; ++epoch) {
                    loader.set_epoch(epoch);
                    auto start = Clock::now();
                    const double cpu_start = cpu_seconds();
                    if (into)
                        while (int64_t n = loader.next_into(x.data(), y.data())) sink = sink + x[size_t(n - 1)];
                    else
                        while (const Batch* b = loader.next()) sink = sink + b->x[0];
                    if (epoch == 0) continue;
                    seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
                    cpu.push_back(cpu_seconds() - cpu_start);
                }
                const double s = median(seconds);
                char what[64];
                std::snprintf(what, sizeof what, "%s, %d worker%s", into ? "next_into" : "next", workers,
                              workers == 1 ? "" : "s");
                std::printf("%-26s %14.0f %12.1f %14.2f\n", what, double(loader.size()) / s, s * 1e3,
                            median(cpu) / double(loader.size()) * 1e6);
            }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-loader: %s\n", e.what());
        return 1;
    }
    return 0;
}
