// The io tests' program: a small classifier as kiln-train checkpoints one (`hidden` varies its
// shape), and the state options that save and load its optimizer state too.
#pragma once
#include <cstdint>
#include <memory>

#include "kiln/io/checkpoint.h"
#include "kiln/nn/layers.h"
#include "kiln/runtime/program.h"

namespace kiln::testing {

inline std::unique_ptr<Program> small_program(uint64_t seed, int64_t hidden = 3) {
    Graph g(seed);
    Value x = g.input("x", {2, 4});
    Value y = g.input("y", {2}, DType::i64);
    Value logits = nn::linear(g, "fc", g.relu(nn::linear(g, "hidden", x, hidden)), 2);
    CompileOptions o;
    o.loss = g.cross_entropy(logits, y);
    o.optimizer = Adam{.lr = 0.01f};
    return compile(g, o);
}

inline const io::StateOptions with_optimizer = [] {
    io::StateOptions o;
    o.optimizer = true;
    return o;
}();

}  // namespace kiln::testing
