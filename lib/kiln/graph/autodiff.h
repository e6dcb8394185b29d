// Reverse-mode autodiff over a static graph: appends the backward pass to the graph as ordinary
// nodes (so it is scheduled and memory-planned like the forward pass) and returns, for every node,
// the node holding d(loss)/d(node), or -1 where no gradient flows. Each op's rule lives in
// autodiff.cpp's switch; most rules use backward helper ops (op.h) that reuse the forward *output*
// rather than its input, so inputs can die early and be overwritten in place.
#pragma once
#include <cstdint>
#include <vector>

#include "kiln/graph/graph.h"

namespace kiln {

// Gradients flow to every param (and only to what depends on one). The loss must have shape [].
std::vector<int32_t> build_backward(Graph& graph, Value loss);

}  // namespace kiln
