// Backend: where a compiled program's arena lives and its kernels run. The graph, autodiff and the
// memory planner never look inside a backend; a backend never looks at the graph beyond one node.
//
// A backend is asked, while compiling, whether it supports each node (an unsupported op is an error
// at compile time, never mid-run) and how much scratch a node needs. It then allocates the arena
// once, and each call runs the program's steps through run(), which must not allocate.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "kiln/core/dtype.h"
#include "kiln/core/shape.h"
#include "kiln/graph/graph.h"
#include "kiln/graph/op.h"

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
    TensorRef in[Node::max_inputs];
    int n_in = 0;
    void* scratch = nullptr;  // scratch_bytes(node) bytes in the arena, live for this step only
    const RunInfo* info = nullptr;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual const char* name() const = 0;
    // The name and, for a device, which one: "cuda (NVIDIA H200, sm_90)". Memory reports show it.
    virtual std::string description() const { return name(); }
    // Whether this backend has a kernel for the node (its op, dtypes and attributes).
    virtual bool supports(const Node& node, const Graph& graph) const = 0;
    // Scratch bytes the node's kernel needs at the compiled batch size.
    virtual size_t scratch_bytes(const Node&, const Graph&) const { return 0; }
    virtual size_t alignment() const { return 64; }
    // Device memory, requested once per arena when a program is compiled.
    virtual void* allocate(size_t bytes) = 0;
    virtual void release(void* ptr) = 0;
    virtual void copy_to_device(void* dst, const void* src, size_t bytes) = 0;
    virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
    // Whether device pointers can be read and written by the host directly (true on the CPU).
    virtual bool host_accessible() const = 0;
    virtual void run(const KernelCall& call) = 0;
    virtual void synchronize() {}
};

struct BackendOptions {
    int threads = 0;          // CPU: worker threads in total, 0 = all cores
    bool reference = false;   // CPU: the portable reference kernels only (the test oracle)
};

// "cpu" (SIMD kernels, falling back to the reference per op), "cuda" (libkiln-cuda.so, loaded on
// first use; an Error says why when it is not built, not found, or no GPU is visible), or a name
// given to register_backend.
std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options = {});

// Makes `name` a backend make_backend (and so compile) can create — how tests run whole programs on
// the CUDA backend's code with a host executor. A later registration of a name replaces it.
using BackendFactory = std::unique_ptr<Backend> (*)(const BackendOptions&);
void register_backend(const std::string& name, BackendFactory factory);

}  // namespace kiln
