// A two-layer MLP for the graph and runtime tests: x [batch, 6] → 5 → relu → 3 logits, cross
// entropy on labels; its parameters drawn from the graph's generator.
#pragma once
#include <vector>

#include "kiln/graph/graph.h"

namespace kiln::testing {

inline std::vector<float> random_vec(Generator& g, int64_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = g.uniform(-1.0f, 1.0f);
    return v;
}

struct Mlp {
    Graph g{3};
    Value x, y, logits, loss;
    explicit Mlp(int64_t batch) {
        x = g.input("x", {batch, 6});
        y = g.input("y", {batch}, DType::i64);
        auto w1 = g.param("w1", {5, 6}, random_vec(g.rng(), 30));
        auto b1 = g.param("b1", {5}, random_vec(g.rng(), 5));
        auto w2 = g.param("w2", {3, 5}, random_vec(g.rng(), 15));
        auto h = g.relu(g.add(g.matmul(x, w1, false, true), b1));
        logits = g.matmul(h, w2, false, true);
        loss = g.cross_entropy(logits, y);
    }
};

}  // namespace kiln::testing
