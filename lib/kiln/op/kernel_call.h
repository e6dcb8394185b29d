// The kernel ABI: everything a kernel call receives, as plain data — the op and its attributes,
// tensor references (address, dtype, shape at this call's batch size), scratch and the per-call
// values. Backends include this, not the graph: a backend can be built, and a kernel run, without
// the graph builder. At compile time the same struct, with null addresses and the compiled batch,
// asks a backend whether it supports a node and how much scratch it needs.
#pragma once
#include <cstdint>

#include "kiln/core/dtype.h"
#include "kiln/core/shape.h"
#include "kiln/op/op.h"

namespace kiln {

// A tensor as a kernel sees it: device memory plus its shape at the current batch size.
struct TensorRef {
    void* data = nullptr;
    DType dtype = DType::f32;
    Shape shape;
    template <class T> T* as() const { return static_cast<T*>(data); }
    int64_t numel() const { return shape.numel(); }
};

// Per-call values that may change between calls without recompiling.
struct RunInfo {
    bool training = false;
    float lr = 0.0f;
    int64_t step = 0;   // optimizer step count, 1 on the first update (bias correction, momentum)
    uint64_t seed = 0;  // dropout key for this call (derived from the program seed and the call count)
};

struct KernelCall {
    Op op;
    const Attrs* attrs;
    TensorRef out;  // data == nullptr for ops without output
    TensorRef in[max_op_inputs];
    int n_in = 0;
    void* scratch = nullptr;  // the backend's scratch_bytes(call) bytes, live for this step only
    const RunInfo* info = nullptr;
};

}  // namespace kiln
