// What the examples share: their command line and a few helpers.
//   <example> [--out DIR] [--seed N]
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
    std::string out_dir = ".";  // where files are written
    uint64_t seed = 42;         // data, split and initialisation (an example may pick another default)
};

// Returns false (after printing the usage) on a bad command line.
inline bool parse_args(int argc, char** argv, Args& args) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--out" && i + 1 < argc) {
            args.out_dir = argv[++i];
        } else if (a == "--seed" && i + 1 < argc) {
            char* end = nullptr;
            args.seed = std::strtoull(argv[++i], &end, 10);
            if (*end != '\0') return std::fprintf(stderr, "--seed wants a non-negative integer\n"), false;
        } else {
            std::fprintf(stderr, "usage: %s [--out DIR] [--seed N]\n", argv[0]);
            return false;
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
