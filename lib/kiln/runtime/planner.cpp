#include "kiln/runtime/planner.h"

#include <algorithm>
#include <numeric>

namespace kiln {

std::vector<size_t> plan_greedy_by_size(const std::vector<BufferRequest>& requests, size_t alignment,
                                        size_t* arena_bytes) {
    const size_t n = requests.size();
    std::vector<size_t> order(n), offset(n, 0);
    std::iota(order.begin(), order.end(), 0);
    // Largest first; ties by earlier start, then index, so the plan is deterministic.
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        if (requests[a].bytes != requests[b].bytes) return requests[a].bytes > requests[b].bytes;
        return requests[a].first < requests[b].first;
    });

    std::vector<size_t> placed;  // indices already placed, kept sorted by offset
    size_t total = 0;
    for (size_t i : order) {
        const BufferRequest& r = requests[i];
        size_t need = align_up(std::max<size_t>(r.bytes, 1), alignment);
        // Walk the placed buffers that are alive at the same time, in offset order, and take the
        // first gap large enough.
        size_t candidate = 0;
        for (size_t j : placed) {
            const BufferRequest& p = requests[j];
            if (p.last < r.first || r.last < p.first) continue;  // lifetimes do not intersect
            if (offset[j] >= candidate + need) break;            // the gap before j fits
            candidate = std::max(candidate, align_up(offset[j] + p.bytes, alignment));
        }
        offset[i] = candidate;
        total = std::max(total, candidate + need);
        placed.insert(std::upper_bound(placed.begin(), placed.end(), i,
                                       [&](size_t a, size_t b) { return offset[a] < offset[b]; }),
                      i);
    }
    *arena_bytes = total;
    return offset;
}

}  // namespace kiln
