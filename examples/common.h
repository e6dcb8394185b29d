// What the examples share: their command line and a few helpers.
//   <example> [--out DIR] [--seed N] [--help]       (files go to DIR, default runs/<example>)
// Each prints its progress and a last line "result: key=value ...", and exits 0 when it meets its
// target, 1 when it does not, 2 on a usage error or a kiln::Error.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

#include "kiln/data/dataloader.h"
#include "kiln/data/plugin_registry.h"
#include "kiln/data/synthetic.h"

namespace example {

struct Args {
    std::string out_dir;  // where files are written (default runs/<example>)
    uint64_t seed = 42;   // data, split and initialisation (an example may pick another default)
};

// The example's name: its program file's name.
inline std::string program_name(const char* argv0) {
    const std::string p = argv0;
    return p.substr(p.find_last_of('/') + 1);
}

// Returns false on a bad command line (after saying what is wrong and the usage) and on --help
// (after the usage; `exit_status` tells which: 0 for --help, 2 for a mistake).
inline bool parse_args(int argc, char** argv, Args& args, int& exit_status) {
    const std::string name = program_name(argv[0]);
    args.out_dir = "runs/" + name;
    auto usage = [&](FILE* to) {
        std::fprintf(to, "usage: %s [--out DIR] [--seed N]\n  --out DIR   where the example writes its files (default runs/%s)\n"
                         "  --seed N    seed of the data, the split and the initial weights (default %llu)\n",
                     name.c_str(), name.c_str(), static_cast<unsigned long long>(args.seed));
    };
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            usage(stdout);
            exit_status = 0;
            return false;
        }
        const bool known = a == "--out" || a == "--seed";
        if (!known || i + 1 == argc || argv[i + 1][0] == '-') {
            std::fprintf(stderr, "%s: %s\n", name.c_str(), known ? (a + " needs a value").c_str() : ("unknown argument " + a).c_str());
            usage(stderr);
            exit_status = 2;
            return false;
        }
        const std::string v = argv[++i];
        if (a == "--out") {
            args.out_dir = v;
        } else {
            char* end = nullptr;
            args.seed = std::strtoull(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || v[0] == '-') {
                std::fprintf(stderr, "%s: --seed %s: expected a whole number from 0\n", name.c_str(), v.c_str());
                exit_status = 2;
                return false;
            }
        }
    }
    return true;
}

// Every sample of a dataset of f32 feature vectors, opened by name through the plugin registry
// ("synthetic:circles,n=1000,seed=42") and read in order by a DataLoader as one batch: class
// labels for Classification, the regression targets for Regression.
template <class Target> kiln::data::Samples<Target> load(const std::string& spec) {
    kiln::data::PluginRegistry plugins;
    kiln::data::Dataset dataset = plugins.open_dataset(spec);
    constexpr bool regression = std::is_same_v<Target, float>;
    if (regression != (dataset.num_classes() == 0))
        kiln::fail(kiln::Errc::invalid_argument,
                   spec + (regression ? " has classes, not regression targets" : " holds regression data, not classes"));
    kiln::data::DataLoaderOptions o;
    o.batch_size = dataset.size(), o.workers = 0, o.prefetch = 1;
    kiln::data::DataLoader loader(dataset, {}, o);
    const kiln::data::Batch* b = loader.next();
    kiln::data::Samples<Target> s;
    s.n_features = loader.sample_shape().numel();
    s.x.assign(b->x, b->x + b->size * s.n_features);
    if constexpr (regression) s.y.assign(b->targets, b->targets + b->size);
    else s.y.assign(b->labels, b->labels + b->size);
    return s;
}

inline std::vector<float> to_float(const std::vector<int64_t>& labels) {
    return std::vector<float>(labels.begin(), labels.end());
}

}  // namespace example
