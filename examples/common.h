// What the examples share: their command line and a few helpers.
//   <example> [--out DIR] [--seed N]
// Each prints its progress and a last line "result: key=value ...", and exits 0 when it meets its
// target, 1 when it does not, 2 on a usage error or a kiln::Error.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

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

inline std::vector<float> to_float(const std::vector<int64_t>& labels) {
    return std::vector<float>(labels.begin(), labels.end());
}

}  // namespace example
