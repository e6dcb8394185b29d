// The memory planner: places every tensor of a schedule at an offset in one arena so that tensors
// alive at the same time never overlap. Greedy by size over lifetimes, as TensorFlow Lite Micro's
// GreedyMemoryPlanner: buffers sorted largest first, each put at the lowest offset where it does not
// collide with an already-placed buffer whose lifetime intersects its own.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace kiln {

// One buffer to place: its size and the steps [first, last] (inclusive) during which it is alive.
struct BufferRequest {
    size_t bytes = 0;
    int first = 0, last = 0;
};

// Returns one offset per request (each a multiple of alignment) and sets *arena_bytes to the total.
std::vector<size_t> plan_greedy_by_size(const std::vector<BufferRequest>& requests, size_t alignment,
                                        size_t* arena_bytes);

// The memory of a compiled program (plan() gives it before anything is allocated).
struct MemoryPlan {
    size_t arena_bytes = 0;       // activations, gradients, inputs, scratch: reused over the schedule
    size_t persistent_bytes = 0;  // parameters, buffers, optimizer state
    size_t alignment = 0;         // of both regions' base addresses (the backend's)
    size_t naive_bytes = 0;       // what the arena would need with no reuse (for the report)
    size_t lower_bound = 0;       // the most arena bytes alive at any one step
};

inline size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

}  // namespace kiln
