// The program fuzz-resume loads checkpoints into, and that fuzz-make-seeds saves its resume seeds
// from: Linear(4, 3) trained with SGD and momentum (so a checkpoint holds optimizer state).
#pragma once
#include <memory>

#include "kiln/runtime/program.h"
#include "kiln/nn/layers.h"

namespace kiln::fuzz {

inline std::unique_ptr<Program> resume_program() {
    Graph g(7);
    const Value x = g.input("x", {2, 4}), y = g.input("y", {2}, DType::i64);
    const Value logits = nn::linear(g, "fc", x, 3);
    CompileOptions o;
    o.loss = g.cross_entropy(logits, y);
    o.optimizer = SGD{.lr = 0.1f, .momentum = 0.9f};
    return compile(g, o);
}

}  // namespace kiln::fuzz
