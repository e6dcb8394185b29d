// Trains one of the course's models on Fashion-MNIST with the course's settings and prints, per
// epoch, train loss/accuracy, test loss/accuracy and seconds — then the best test accuracy.
//   fashion_mnist [--model NAME] [--epochs N] [--batch N] [--lr X] [--limit N] [--threads N]
//                 [--data DIR] [--seed N]
// NAME: fmnist_linear, fmnist_mlp, tinyvgg (default), lenet5, resnet_mini. --limit trains on the
// first N images of a seeded shuffle (and tests on N/6), for quick runs. Data: the idx plugin over
// DIR (default /usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist).
// Exits 0 after training, 2 on a usage error or a kiln::Error.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kiln/data/dataloader.h"
#include "kiln/data/plugin_registry.h"
#include "kiln/runtime/program.h"
#include "kiln/nn/models.h"

using namespace kiln;

namespace {

struct Settings {  // the course's settings per model
    const char* model;
    int epochs;
    int64_t batch;
    OptimizerConfig optimizer;
};
const Settings course[] = {
    {"fmnist_linear", 3, 32, SGD{.lr = 0.1f}},
    {"fmnist_mlp", 3, 32, SGD{.lr = 0.1f}},
    {"tinyvgg", 3, 32, SGD{.lr = 0.1f}},
    {"lenet5", 20, 1024, Adam{.lr = 0.005f}},
    {"resnet_mini", 10, 128, SGD{.lr = 0.1f, .momentum = 0.9f}},
};

struct Args {
    std::string model = "tinyvgg", data = "/usr/share/datasets/fashion-mnist";
    int epochs = 0;  // 0: the course's
    int64_t batch = 0, limit = 0;
    float lr = 0;
    int threads = 0;
    uint64_t seed = 42;
};

bool parse(int argc, char** argv, Args& a) {
    for (int i = 1; i < argc; ++i) {
        std::string k = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (!v) return std::fprintf(stderr, "%s needs a value\n", k.c_str()), false;
        ++i;
        if (k == "--model") a.model = v;
        else if (k == "--data") a.data = v;
        else if (k == "--epochs") a.epochs = std::atoi(v);
        else if (k == "--batch") a.batch = std::atoll(v);
        else if (k == "--limit") a.limit = std::atoll(v);
        else if (k == "--lr") a.lr = float(std::atof(v));
        else if (k == "--threads") a.threads = std::atoi(v);
        else if (k == "--seed") a.seed = std::strtoull(v, nullptr, 10);
        else return std::fprintf(stderr, "unknown option %s\n", k.c_str()), false;
    }
    return true;
}

void set_lr(OptimizerConfig& o, float lr) {
    std::visit([lr](auto& opt) {
        if constexpr (requires { opt.lr; }) opt.lr = lr;
    }, o);
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
    Args args;
    if (!parse(argc, argv, args)) {
        std::fprintf(stderr, "usage: %s [--model NAME] [--epochs N] [--batch N] [--lr X] [--limit N] [--threads N] [--data DIR] [--seed N]\n", argv[0]);
        return 2;
    }
    try {
        const Settings* s = nullptr;
        for (const Settings& c : course)
            if (args.model == c.model) s = &c;
        if (!s) fail(Errc::invalid_argument, "unknown model '" + args.model + "'");
        Settings run = *s;
        if (args.epochs > 0) run.epochs = args.epochs;
        if (args.batch > 0) run.batch = args.batch;
        if (args.lr > 0) set_lr(run.optimizer, args.lr);

        data::PluginRegistry plugins;
        data::DataLoaderOptions train_opt;
        train_opt.batch_size = run.batch, train_opt.shuffle = true, train_opt.seed = args.seed, train_opt.workers = 1;
        data::DataLoaderOptions test_opt = train_opt;
        test_opt.shuffle = false;
        auto train_set = plugins.open_dataset("idx:" + args.data);
        auto test_set = plugins.open_dataset("idx:" + args.data + ",split=test");
        if (args.limit > 0) {  // a seeded slice of each split
            train_opt.indices = data::random_split(train_set.size(), {double(args.limit), double(train_set.size() - args.limit)}, args.seed)[0];
            const int64_t n_test = std::min<int64_t>(test_set.size(), std::max<int64_t>(args.limit / 6, 1));
            test_opt.indices = data::random_split(test_set.size(), {double(n_test), double(test_set.size() - n_test)}, args.seed)[0];
        }
        data::DataLoader train(std::move(train_set), plugins.pipeline(""), train_opt);
        data::DataLoader test(std::move(test_set), plugins.pipeline(""), test_opt);

        Graph g(args.seed);
        Shape xs = train.batch_shape();
        Value x = g.input("x", xs);
        Value y = g.input("y", {run.batch}, DType::i64);
        Value logits = nn::build_model(g, run.model, x, 10);
        CompileOptions opt;
        opt.loss = g.cross_entropy(logits, y);
        opt.optimizer = run.optimizer;
        opt.outputs = {logits};
        opt.backend_options.threads = args.threads;
        opt.seed = args.seed;
        auto prog = compile(g, opt);
        prog->set_profiling(std::getenv("KILN_PROFILE") != nullptr);
        std::printf("%s on Fashion-MNIST: %lld training and %lld test images, batch %lld, %d epochs\n", run.model,
                    (long long)train.size(), (long long)test.size(), (long long)run.batch, run.epochs);
        std::printf("memory: %s", prog->memory_report().c_str());

        std::vector<float> out(size_t(run.batch) * 10);
        std::vector<int64_t> labels(size_t(run.batch));  // the arena reuses the input slot after its last use
        auto pass = [&](data::DataLoader& loader, bool training, double* loss) {
            double total_loss = 0;
            int64_t correct = 0, seen = 0;
            float* xin = prog->input_data<float>(x);
            int64_t* yin = prog->input_data<int64_t>(y);
            while (int64_t n = loader.next_into(xin, yin)) {
                std::copy_n(yin, n, labels.begin());
                float l = 0;
                if (training) l = prog->train_step(n);
                else prog->forward(n), l = prog->loss();
                prog->read(logits, out.data());
                for (int64_t i = 0; i < n; ++i) {
                    const float* row = &out[size_t(i) * 10];
                    correct += int64_t(std::max_element(row, row + 10) - row) == labels[size_t(i)];
                }
                total_loss += double(l) * double(n);
                seen += n;
            }
            *loss = total_loss / double(seen);
            return double(correct) / double(seen);
        };

        double best = 0;
        for (int epoch = 0; epoch < run.epochs; ++epoch) {
            const auto t0 = std::chrono::steady_clock::now();
            train.set_epoch(epoch);
            test.set_epoch(0);
            double train_loss = 0, test_loss = 0;
            const double train_acc = pass(train, true, &train_loss);
            const double train_s = seconds_since(t0);
            const double test_acc = pass(test, false, &test_loss);
            best = std::max(best, test_acc);
            std::printf("Epoch: %2d | train loss: %.5f, train acc: %6.2f%% | test loss: %.5f, test acc: %6.2f%% | %.1f s "
                        "(train %.0f img/s)\n",
                        epoch, train_loss, 100 * train_acc, test_loss, 100 * test_acc, seconds_since(t0),
                        double(train.size()) / train_s);
            std::fflush(stdout);
        }
        if (std::getenv("KILN_PROFILE")) std::printf("time per op (KILN_PROFILE):\n%s", prog->profile_report().c_str());
        std::printf("result: model=%s best_test_accuracy=%.4f\n", run.model, best);
        return 0;
    } catch (const Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
}
