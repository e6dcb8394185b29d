// The compiler's passes, in the order compile() runs them. Each is a function of plain data with
// its own tests (test/runtime/test_passes.cpp); compile.cpp only chains them.
//
//   prune      which nodes the roots (loss, outputs, gradients, optimizer steps) need
//   schedule   the steps: live non-leaf nodes in creation order, the forward pass a prefix
//   lifetimes  the steps between which each arena tensor must keep its value
//   aliasing   views and in-place ops take over their input's buffer
//   placement  arena offsets (greedy by size, planner.h) and the persistent region's layout
//   binding    every node's address, given the two regions' base addresses
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kiln/graph/graph.h"
#include "kiln/op/kernel_call.h"

namespace kiln::passes {

// Nodes reachable backwards from the kept nodes and from every node without output (the
// optimizer steps, which write persistent state).
std::vector<bool> prune(const Graph& g, std::span<const int32_t> kept);

struct Schedule {
    std::vector<int32_t> steps;  // node ids in execution order
    int forward_end = 0;         // steps [0, forward_end) come from the first n_forward nodes
    std::vector<int> step_of;    // node id → its step, -1 for leaves and pruned nodes
};
// Creation order is topological (a node's inputs exist before it), and the backward and optimizer
// nodes are created after every forward node, so the forward pass is a prefix.
Schedule schedule(const Graph& g, const std::vector<bool>& live, int n_forward);

// For every node whose tensor lives in the arena, the first and last step (inclusive) it is
// alive; -1 for persistent tensors, ops without output and pruned nodes. Inputs are alive from
// step 0 (they are written before the call); kept nodes to the end (step = steps.size()).
struct Lifetimes {
    std::vector<int> first, last;
};
Lifetimes lifetimes(const Graph& g, const std::vector<bool>& live, const Schedule& s, std::span<const int32_t> kept);

// A view (reshape, select) always, and an in-place op when its input's buffer dies at that step,
// shares its input's buffer: root[i] is the node that owns i's buffer (i itself when it owns one)
// and offset[i] i's byte offset in it. Sharers get first = -1; the root's lifetime grows to cover
// theirs.
struct Aliasing {
    std::vector<int32_t> root;
    std::vector<size_t> offset;
};
Aliasing aliasing(const Graph& g, const Schedule& s, Lifetimes& life);

// Byte offsets of every buffer-owning arena tensor and of every step's scratch (scratch[s] bytes,
// alive during step s only), and of every persistent tensor in the persistent region (graph order).
struct Placement {
    std::vector<size_t> offset;          // per node: in the arena (roots) or the persistent region
    std::vector<bool> fused;             // per node: one of the fused gradients (in the persistent region)
    size_t fused_begin = 0, fused_end = 0;  // the fused gradients' bytes in the persistent region,
                                            // then (with any) fused_votes floats: see Program::agreement
    std::vector<size_t> scratch_offset;  // per step, valid where its scratch is > 0
    size_t arena_bytes = 0, persistent_bytes = 0;
    size_t naive_bytes = 0;  // the arena with no reuse (for reports)
    size_t lower_bound = 0;  // the most bytes alive at any one step: no plan can be smaller
};
// `fused`: buffers (aliasing roots) placed one after another at the end of the persistent region
// instead of the arena — the parameters' gradients, which a distributed step allreduces at once,
// together with the fused_votes floats that follow them.
inline constexpr size_t fused_votes = 2;
Placement placement(const Graph& g, const Schedule& s, const Lifetimes& life, const Aliasing& alias,
                    std::span<const size_t> scratch, size_t alignment, std::span<const int32_t> fused = {});

// Every node's address (nullptr where it has no tensor) and every step's scratch address.
struct Binding {
    std::vector<void*> data;
    std::vector<void*> scratch;
};
Binding binding(const Graph& g, const std::vector<bool>& live, const Lifetimes& life, const Aliasing& alias,
                const Placement& place, std::span<const size_t> scratch, void* arena, void* persistent);

// The kernel call of a node: its op, attributes and tensors with dim 0 of batched tensors set to
// `batch`. Without addresses (data empty) it describes the node to a backend at compile time.
KernelCall kernel_call(const Graph& g, int32_t node, std::span<void* const> data, int64_t batch);

}  // namespace kiln::passes
