// Backend: where a compiled program's arenas live and its kernels run. A backend sees kernel calls
// (op/kernel_call.h: plain data), never the graph; the graph, autodiff and the planner never look
// inside a backend. Which backends exist and how one is made: registry.h.
//
// While a program is compiled, the backend is asked, for each step, whether it supports the call
// (an unsupported op is an error at compile time, never mid-run) and how much scratch it needs —
// the call then holds the shapes at the compiled batch size and no addresses. Arenas are allocated
// once (or handed in by the caller), and each call runs the program's steps through run(), which
// must not allocate.
#pragma once
#include <cstddef>
#include <span>
#include <string>

#include "kiln/op/kernel_call.h"

namespace kiln {

class Backend {
public:
    virtual ~Backend() = default;
    virtual const char* name() const = 0;
    // The name and, for a device, which one: "cuda (NVIDIA H200, sm_90)". Memory reports show it.
    virtual std::string description() const { return name(); }
    // Whether this backend has a kernel for the call (its op, dtypes, shapes and attributes).
    virtual bool supports(const KernelCall& call) const = 0;
    // Ops this backend has no kernel for at all. A backend that lacks an op declares it here; the
    // backend-ops harness fails on any other op it refuses.
    virtual std::span<const Op> missing_ops() const { return {}; }
    // Scratch bytes the call's kernel needs at the compiled batch size.
    virtual size_t scratch_bytes(const KernelCall&) const { return 0; }
    virtual size_t alignment() const { return 64; }
    // Device memory, requested once per arena when a program is compiled (unless the caller owns it).
    virtual void* allocate(size_t bytes) = 0;
    virtual void release(void* ptr) = 0;
    virtual void copy_to_device(void* dst, const void* src, size_t bytes) = 0;
    virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
    // Whether device pointers can be read and written by the host directly (true on the CPU).
    virtual bool host_accessible() const = 0;
    virtual void run(const KernelCall& call) = 0;
    virtual void synchronize() {}
};

// What a backend is made with (registry.h: make_backend).
struct BackendOptions {
    int threads = 0;          // CPU: worker threads in total, 0 = all cores
    bool reference = false;   // CPU: the portable reference kernels only (the test oracle)
    int device = 0;           // CUDA: which GPU
};

}  // namespace kiln
