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
    int64_t epochs = 0, batch = 0;  // 0 (not given): the course's
    int64_t limit = 0;
    double lr = 0;                  // 0 (not given): the course's
    int64_t threads = 0;
    int64_t seed = 42;
};

const char* const usage =
    "usage: fashion_mnist [--model NAME] [--epochs N] [--batch N] [--lr X] [--limit N] [--threads N] [--data DIR] [--seed N]\n"
    "  --model NAME   fmnist_linear, fmnist_mlp, tinyvgg (default), lenet5, resnet_mini\n"
    "  --epochs N     epochs (default: the course's for the model)\n"
    "  --batch N      batch size (default: the course's)\n"
    "  --lr X         learning rate (default: the course's)\n"
    "  --limit N      train on N images of a seeded shuffle, test on N/6 (default: all)\n"
    "  --threads N    compute threads (default: all cores)\n"
    "  --data DIR     Fashion-MNIST's IDX files (default /usr/share/datasets/fashion-mnist)\n"
    "  --seed N       seed of the shuffle and the initial weights (default 42)\n";

// A whole number in [lo, hi], or a message on stderr and false.
bool whole(const std::string& k, const std::string& v, int64_t lo, int64_t hi, int64_t& out) {
    char* end = nullptr;
    const long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < lo || n > hi)
        return std::fprintf(stderr, "fashion_mnist: %s %s: expected a whole number from %lld to %lld\n", k.c_str(), v.c_str(),
                            static_cast<long long>(lo), static_cast<long long>(hi)),
               false;
    out = n;
    return true;
}

// 0: parsed; otherwise the exit status (0 after --help, 2 after a mistake, which it names).
int parse(int argc, char** argv, Args& a) {
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        if (k == "-h" || k == "--help") return std::fputs(usage, stdout), -1;
        if (i + 1 == argc || argv[i + 1][0] == '-')
            return std::fprintf(stderr, "fashion_mnist: %s needs a value\n%s", k.c_str(), usage), 2;
        const std::string v = argv[++i];
        bool ok = true;
        if (k == "--model") a.model = v;
        else if (k == "--data") a.data = v;
        else if (k == "--epochs") ok = whole(k, v, 1, 100000, a.epochs);
        else if (k == "--batch") ok = whole(k, v, 1, 1000000, a.batch);
        else if (k == "--limit") ok = whole(k, v, 1, 60000, a.limit);
        else if (k == "--threads") ok = whole(k, v, 1, 1024, a.threads);
        else if (k == "--seed") ok = whole(k, v, 0, INT64_MAX, a.seed);
        else if (k == "--lr") {
            char* end = nullptr;
            a.lr = std::strtod(v.c_str(), &end);
            ok = !v.empty() && *end == '\0' && a.lr > 0 && a.lr <= 100;
            if (!ok) std::fprintf(stderr, "fashion_mnist: --lr %s: expected a number above 0, at most 100\n", v.c_str());
        } else return std::fprintf(stderr, "fashion_mnist: unknown option %s\n%s", k.c_str(), usage), 2;
        if (!ok) return 2;
    }
    return 0;
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
    if (const int status = parse(argc, argv, args)) return status < 0 ? 0 : status;
    try {
        const Settings* s = nullptr;
        for (const Settings& c : course)
            if (args.model == c.model) s = &c;
        if (!s) {
            std::fprintf(stderr, "fashion_mnist: --model %s: not one of the course's models\n%s", args.model.c_str(), usage);
            return 2;
        }
        Settings run = *s;
        if (args.epochs > 0) run.epochs = args.epochs;
        if (args.batch > 0) run.batch = args.batch;
        if (args.lr > 0) set_lr(run.optimizer, float(args.lr));

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
