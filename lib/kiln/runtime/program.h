// compile() turns a Graph into a Program: the schedule of kernel calls for one backend, every
// tensor placed at an offset in fixed arenas. After compile, train_step() and forward() make no
// heap allocation. Only the batch dimension may shrink at run time, up to the compiled size.
//
//   kiln::CompileOptions opt;
//   opt.loss = loss;                          // training: autodiff builds the backward pass
//   opt.optimizer = kiln::SGD{.lr = 0.1f};
//   opt.outputs = {logits};                   // values read after a call
//   auto prog = kiln::compile(g, opt);
//   std::printf("%s", prog->memory_report().c_str());
//   prog->write_input(x, batch_x, n);         // or fill prog->input_data<float>(x) on the CPU
//   float l = prog->train_step(n);
//
// Or in memory the caller owns: size it with plan(), then hand it in.
//   kiln::MemoryPlan need = kiln::plan(g, opt);
//   auto prog = kiln::compile(g, opt, {arena, need.arena_bytes, persistent, need.persistent_bytes});
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kiln/backend/registry.h"
#include "kiln/dist/communicator.h"
#include "kiln/graph/graph.h"
#include "kiln/optim/optimizer.h"
#include "kiln/runtime/planner.h"

namespace kiln {

struct CompileOptions {
    Value loss;                   // set → the program can train (forward + backward + optimizer)
    OptimizerConfig optimizer;    // ignored without loss; monostate computes gradients only
    std::vector<Value> outputs;   // values readable after a call (kept alive to the end)
    std::vector<Value> gradients; // parameters whose gradient is readable after train_step()
    // The parameters' gradients in one block at the end of the persistent region
    // (Program::fused_gradients), which a data-parallel step sums over the ranks at once.
    bool fuse_gradients = false;
    std::string backend = "cpu";
    BackendOptions backend_options;
    uint64_t seed = 0;            // dropout randomness
};

// Memory the caller owns, the TensorFlow Lite Micro way: both regions at least plan()'s sizes,
// their base addresses aligned to MemoryPlan::alignment, in the backend's memory (host memory on
// the CPU). The program uses them from compile() to its destruction and never frees them.
struct CallerMemory {
    void* arena = nullptr;
    size_t arena_bytes = 0;
    void* persistent = nullptr;
    size_t persistent_bytes = 0;
};

// One entry of the program's persistent state (PyTorch state_dict names; optimizer state is
// named "<param>.momentum_buffer", "<param>.exp_avg", "<param>.exp_avg_sq").
struct StateEntry {
    std::string name;
    DType dtype;
    Shape shape;
    enum Kind { param, buffer, optimizer } kind;
    size_t offset, bytes;  // in the persistent arena
};

class Program {
public:
    ~Program();
    Program(const Program&) = delete;
    Program& operator=(const Program&) = delete;

    // --- running ---
    // Copies n rows (n ≤ compiled batch) of an input into the arena. A call consumes its inputs
    // (the arena reuses their memory after their last use): write them again before the next.
    // Class labels outside the classes are refused by the call, before any kernel runs.
    void write_input(Value input, const void* data, int64_t n);
    // Where to write an input's rows before a call: its arena slot on the CPU; on a device
    // backend a host staging buffer (allocated at compile), copied to the device by each call.
    template <class T> T* input_data(Value input) { return static_cast<T*>(input_ptr(input)); }
    // Forward (and loss, if any) in eval mode, or train mode when training is true (dropout on,
    // BatchNorm updates its running statistics) — no backward, no update.
    void forward(int64_t n, bool training = false);
    // Forward, backward and optimizer step in train mode; returns the loss.
    float train_step(int64_t n);
    float loss() const;  // loss of the last call
    // Copies an output's value (or a gradient's, via grad()) from the last call to the host
    // (numel × dtype bytes at that call's batch size). Values are valid until the next call.
    void read(Value v, void* dst) const;
    std::vector<float> read(Value v) const;  // convenience (allocates)
    // The gradient node of a parameter listed in CompileOptions::gradients.
    Value grad(Value param) const;
    // Shape of a value at the batch size of the last call.
    Shape shape(Value v) const;

    // --- data-parallel training (issue 16) ---
    // The parameters' gradients of the last train_step as one block of floats, in the backend's
    // memory (compiled with fuse_gradients; empty otherwise). Padding between them reads as zeros.
    std::span<float> fused_gradients() const;
    // From now on each train_step sums the fused gradients over comm's ranks and divides them by
    // the rank count between the backward pass and the optimizer's update (nullptr: no more; a
    // one-rank group changes nothing). Needs fuse_gradients, and on a device backend (CUDA) a
    // communicator that reduces device memory (nccl).
    void set_communicator(Communicator* comm);
    Communicator* communicator() const { return comm_; }
    // What the ranks agree on after a train_step, carried by the gradients' own allreduce (two
    // floats after them): whether any rank asked to stop (vote_stop before the step) and whether
    // any rank's loss was not finite — the same answer on every rank, so that all stop after the
    // same step. Without a communicator, this process's own vote and loss.
    struct Agreement {
        bool stop = false, loss_not_finite = false;
    };
    void vote_stop(bool stop) { stop_vote_ = stop; }
    const Agreement& agreement() const { return agreement_; }

    void set_lr(float lr) { info_.lr = lr; }
    float lr() const { return info_.lr; }
    int64_t step_count() const { return info_.step; }
    void set_step_count(int64_t step) { info_.step = step; }
    int64_t compiled_batch() const { return batch_; }
    bool can_train() const { return backward_begin_ >= 0; }

    // --- persistent state (parameters, buffers, optimizer state) ---
    const std::vector<StateEntry>& state() const { return state_; }
    const StateEntry* find_state(const std::string& name) const;
    void read_state(const StateEntry& e, void* dst) const;
    void write_state(const StateEntry& e, const void* src);

    // --- profiling ---
    // When on, every kernel call is timed (a clock read before and after; nothing allocated).
    void set_profiling(bool on);
    // Time per op kind since profiling was turned on, largest first: "conv2d  41.2 %  1234.5 ms  (4 steps)".
    std::string profile_report() const;
    // Each step since profiling was turned on, in schedule order: its op, what it computed (the
    // output's shape, and a convolution's geometry), its time and its arithmetic — 2 × the
    // multiply-adds of a convolution (either gradient too) or a matmul, 0 for other ops —
    // summed over the calls, at each call's batch size.
    struct StepProfile {
        Op op;
        std::string what;
        double seconds, flops;
    };
    std::vector<StepProfile> profile_steps() const;

    // --- memory ---
    const MemoryPlan& memory_plan() const { return plan_; }
    size_t arena_bytes() const { return plan_.arena_bytes; }          // activations, planned
    size_t persistent_bytes() const { return plan_.persistent_bytes; } // params, grads-free state
    std::string memory_report() const;
    const Graph& graph() const { return graph_; }
    Backend& backend() { return *backend_; }

private:
    friend struct Compiler;
    friend struct Exporter;
    Program() = default;
    void* input_ptr(Value v);
    void run_steps(int begin, int end, int64_t n);
    void upload_inputs(int64_t n);
    void check_labels(int64_t n);
    size_t input_row_bytes(int node) const;
    // Dropout masks depend on the seed and the optimizer step only, so a resumed run and a
    // forward(training) after a step see the same masks as the step itself.
    uint64_t call_seed() const { return splitmix64(seed_ ^ splitmix64(uint64_t(info_.step))); }

    Graph graph_;                    // the forward graph plus backward and optimizer nodes
    std::unique_ptr<Backend> backend_;
    MemoryPlan plan_;
    std::vector<int32_t> schedule_;  // node ids in execution order (passes::schedule)
    int forward_end_ = 0;            // steps [0, forward_end_) are the forward pass (+ loss)
    int backward_begin_ = -1;        // -1: inference only
    int update_begin_ = -1;          // the first optimizer step (they end the schedule)
    size_t fused_begin_ = 0, fused_end_ = 0;  // the fused gradients in the persistent region
    Communicator* comm_ = nullptr;
    bool stop_vote_ = false;
    Agreement agreement_;
    std::vector<void*> data_;        // device address of every node's tensor (nullptr if none)
    std::vector<void*> scratch_;     // per step: its scratch in the arena (nullptr if none)
    std::vector<int32_t> grad_of_;   // param node → its gradient node
    struct LabelInput {
        int32_t node;     // an input that holds class indices (op_flags::labels)
        int64_t classes;  // the logits' class count
    };
    std::vector<LabelInput> label_inputs_;
    std::vector<StateEntry> state_;
    struct StagedInput {
        int32_t node;
        size_t offset;  // in staging_
    };
    std::vector<StagedInput> staged_;  // inputs of a backend whose memory the host cannot write
    std::vector<uint8_t> staging_;
    void* arena_ = nullptr;
    void* persistent_ = nullptr;
    bool owns_memory_ = true;  // false: CallerMemory
    int32_t loss_node_ = -1;
    int64_t batch_ = 0, last_n_ = 0;
    uint64_t seed_ = 0;
    RunInfo info_;
    mutable float loss_value_ = 0;
    bool profiling_ = false;
    std::vector<double> step_seconds_, step_flops_;  // per step of the schedule, while profiling
};

// The arena and persistent sizes (and the alignment) compile() would use, allocating no arena.
MemoryPlan plan(const Graph& graph, const CompileOptions& options);
// Compiles into arenas the backend allocates, or into the caller's memory.
std::unique_ptr<Program> compile(const Graph& graph, const CompileOptions& options);
std::unique_ptr<Program> compile(const Graph& graph, const CompileOptions& options, const CallerMemory& memory);

}  // namespace kiln
