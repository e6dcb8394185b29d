#include "kiln/runtime/program.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "kiln/core/error.h"
#include "kiln/backend/kernel_math.h"
#include "kiln/runtime/passes.h"

namespace kiln {

namespace {

// 2 × the multiply-adds of a convolution (forward or either gradient) or a matmul; 0 otherwise.
double flops_of(const KernelCall& c) {
    switch (c.op) {
    case Op::matmul: {
        const MatmulAttrs& a = c.attrs->matmul;
        return 2.0 * double(c.out.numel()) * double(a.trans_a ? c.in[0].shape[0] : c.in[0].shape[1]);
    }
    case Op::conv2d: return 2.0 * double(c.out.numel()) * double(ConvGeom(c.in[0].shape, c.in[1].shape, c.attrs->conv).k());
    case Op::conv2d_grad_input: return 2.0 * double(c.in[0].numel()) * double(ConvGeom(c.out.shape, c.in[1].shape, c.attrs->conv).k());
    case Op::conv2d_grad_weight: return 2.0 * double(c.in[0].numel()) * double(ConvGeom(c.in[1].shape, c.out.shape, c.attrs->conv).k());
    default: return 0.0;
    }
}

}  // namespace

Program::~Program() {
    if (backend_ && owns_memory_) {
        if (arena_) backend_->release(arena_);
        if (persistent_) backend_->release(persistent_);
    }
}

void Program::run_steps(int begin, int end, int64_t n) {
    for (int s = begin; s < end; ++s) {
        KernelCall call = passes::kernel_call(graph_, schedule_[s], data_, n);
        call.scratch = scratch_[s];
        call.info = &info_;
        if (!profiling_) {
            backend_->run(call);
            continue;
        }
        const auto t0 = std::chrono::steady_clock::now();
        backend_->run(call);
        backend_->synchronize();
        step_seconds_[s] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        step_flops_[s] += flops_of(call);
    }
}

void Program::set_profiling(bool on) {
    profiling_ = on;
    step_seconds_.assign(schedule_.size(), 0.0);
    step_flops_.assign(schedule_.size(), 0.0);
}

std::vector<Program::StepProfile> Program::profile_steps() const {
    std::vector<StepProfile> steps;
    for (size_t s = 0; s < step_seconds_.size(); ++s) {
        const KernelCall call = passes::kernel_call(graph_, schedule_[s], data_, batch_);
        std::string what = call.out.shape.str();
        if (call.op == Op::conv2d || call.op == Op::conv2d_grad_input || call.op == Op::conv2d_grad_weight) {
            const Shape& image = call.op == Op::conv2d ? call.in[0].shape : call.op == Op::conv2d_grad_input ? call.out.shape : call.in[1].shape;
            const Shape& weight = call.op == Op::conv2d_grad_weight ? call.out.shape : call.in[1].shape;
            const ConvGeom g(image, weight, call.attrs->conv);
            char geometry[128];
            std::snprintf(geometry, sizeof geometry, " %lld→%lld %lldx%lld s%d %lldx%lld→%lldx%lld", (long long)g.c, (long long)g.o,
                          (long long)g.kh, (long long)g.kw, g.a.stride_h, (long long)g.h, (long long)g.w, (long long)g.oh, (long long)g.ow);
            what += geometry;
        }
        steps.push_back({call.op, what, step_seconds_[s], step_flops_[s]});
    }
    return steps;
}

std::string Program::profile_report() const {
    std::vector<double> by_op(op_count, 0.0);
    std::vector<int> steps(op_count, 0);
    double total = 0;
    for (size_t s = 0; s < step_seconds_.size(); ++s) {
        const int op = static_cast<int>(graph_.nodes()[schedule_[s]].op);
        by_op[op] += step_seconds_[s];
        ++steps[op];
        total += step_seconds_[s];
    }
    std::vector<int> order;
    for (int op = 0; op < op_count; ++op)
        if (steps[op]) order.push_back(op);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return by_op[a] > by_op[b]; });
    std::string out;
    char line[160];
    for (int op : order) {
        std::snprintf(line, sizeof line, "%-22s %5.1f %%  %10.1f ms  (%d steps)\n", op_name(static_cast<Op>(op)),
                      total > 0 ? 100 * by_op[op] / total : 0.0, 1e3 * by_op[op], steps[op]);
        out += line;
    }
    return out;
}

static void check_batch(int64_t n, int64_t batch) {
    if (n < 1 || n > batch)
        fail(Errc::invalid_argument, "batch size " + std::to_string(n) + " is outside 1.." + std::to_string(batch) +
                                         " (the compiled batch size)");
}

size_t Program::input_row_bytes(int node) const {
    const Node& nd = graph_.nodes()[node];
    return size_t(nd.shape.numel() / nd.shape[0]) * dtype_size(nd.dtype);
}

void Program::upload_inputs(int64_t n) {
    for (const StagedInput& s : staged_)
        backend_->copy_to_device(data_[s.node], staging_.data() + s.offset, input_row_bytes(s.node) * size_t(n));
}

// Class indices must be in range: caught here, before any kernel runs (cross-entropy's kernels
// cannot report a bad label). Whether the caller used write_input or wrote input_data itself.
void Program::check_labels(int64_t n) {
    for (const LabelInput& in : label_inputs_) {
        const Node& nd = graph_.nodes()[in.node];
        const void* labels = input_ptr(Value{in.node});
        for (int64_t i = 0; i < n; ++i) {
            const int64_t c = nd.dtype == DType::i64 ? static_cast<const int64_t*>(labels)[i] : static_cast<const int32_t*>(labels)[i];
            if (c < 0 || c >= in.classes)
                fail(Errc::invalid_argument, "input '" + nd.name + "': label " + std::to_string(c) + " at index " +
                                                 std::to_string(i) + " is outside 0.." + std::to_string(in.classes - 1));
        }
    }
}

void Program::forward(int64_t n, bool training) {
    check_batch(n, batch_);
    check_labels(n);
    upload_inputs(n);
    last_n_ = n;
    info_.training = training;
    info_.seed = call_seed();
    run_steps(0, forward_end_, n);
    backend_->synchronize();
}

float Program::train_step(int64_t n) {
    if (!can_train()) fail(Errc::invalid_argument, "train_step: the program was compiled without a loss");
    check_batch(n, batch_);
    check_labels(n);
    upload_inputs(n);
    last_n_ = n;
    info_.training = true;
    ++info_.step;
    info_.seed = call_seed();
    const int end = static_cast<int>(schedule_.size());
    if (comm_ && comm_->size() > 1 && update_begin_ >= 0) {
        // Data-parallel: the ranks' gradients summed, then averaged, before the same update everywhere.
        // The votes ride in the same buffer: averaged, a vote is above 0 when any rank cast it.
        run_steps(0, update_begin_, n);
        const std::span<float> g = fused_gradients();
        float votes[passes::fused_votes] = {float(stop_vote_), float(!std::isfinite(loss()))};
        float* const slots = g.data() + g.size();
        backend_->copy_to_device(slots, votes, sizeof votes);
        backend_->synchronize();  // the gradients and votes in place before another stream (NCCL's) reads them
        if (backend_->host_accessible())
            comm_->allreduce_average(g.data(), g.size() + passes::fused_votes);
        else
            comm_->allreduce_average_device(g.data(), g.size() + passes::fused_votes);
        backend_->copy_to_host(votes, slots, sizeof votes);
        agreement_ = {votes[0] > 0, votes[1] > 0};
        run_steps(update_begin_, end, n);
        backend_->synchronize();
        return loss();
    }
    run_steps(0, end, n);
    backend_->synchronize();
    const float l = loss();
    agreement_ = {stop_vote_, !std::isfinite(l)};
    return l;
}

std::span<float> Program::fused_gradients() const {
    return {reinterpret_cast<float*>(static_cast<char*>(persistent_) + fused_begin_), (fused_end_ - fused_begin_) / sizeof(float)};
}

void Program::set_communicator(Communicator* comm) {
    if (comm && fused_end_ == fused_begin_)
        fail(Errc::invalid_argument, "set_communicator: the program was compiled without fuse_gradients (or trains nothing)");
    if (comm && !backend_->host_accessible() && !comm->reduces_device_memory())
        fail(Errc::unsupported, std::string("set_communicator: the ") + backend_->name() + " backend's gradients are in device memory, which " +
                                    comm->description() + " cannot reduce (use the nccl communicator)");
    comm_ = comm;
}

float Program::loss() const {
    if (loss_node_ < 0) fail(Errc::invalid_argument, "loss: the program was compiled without a loss");
    backend_->copy_to_host(&loss_value_, data_[loss_node_], sizeof(float));
    return loss_value_;
}

void* Program::input_ptr(Value v) {
    if (v.id < 0 || v.id >= graph_.size() || graph_.nodes()[v.id].op != Op::input)
        fail(Errc::invalid_argument, "input_data: not an input of this program");
    if (!data_[v.id]) fail(Errc::invalid_argument, "input '" + graph_.nodes()[v.id].name + "' is not used by the program");
    for (const StagedInput& s : staged_)
        if (s.node == v.id) return staging_.data() + s.offset;
    return data_[v.id];
}

void Program::write_input(Value v, const void* src, int64_t n) {
    if (v.id < 0 || v.id >= graph_.size() || graph_.nodes()[v.id].op != Op::input)
        fail(Errc::invalid_argument, "write_input: not an input of this program");
    check_batch(n, batch_);
    if (!data_[v.id]) return;  // an input nothing reads
    const size_t bytes = input_row_bytes(v.id) * size_t(n);
    if (staged_.empty()) return backend_->copy_to_device(data_[v.id], src, bytes);
    std::memcpy(input_ptr(v), src, bytes);
}

Shape Program::shape(Value v) const {
    const Node& nd = graph_.node(v);
    Shape s = nd.shape;
    if (nd.batched && last_n_ > 0) s[0] = last_n_;
    return s;
}

void Program::read(Value v, void* dst) const {
    const Node& nd = graph_.node(v);
    if (!data_[v.id] || !nd.has_output())
        fail(Errc::invalid_argument, std::string("read: ") + op_name(nd.op) + " " + nd.shape.str() + " is not kept by the program (list it in CompileOptions::outputs)");
    backend_->copy_to_host(dst, data_[v.id], size_t(shape(v).numel()) * dtype_size(nd.dtype));
}

std::vector<float> Program::read(Value v) const {
    if (graph_.node(v).dtype != DType::f32) fail(Errc::invalid_argument, "read: the value is not f32");
    std::vector<float> out(size_t(shape(v).numel()));
    read(v, out.data());
    return out;
}

Value Program::grad(Value param) const {
    if (param.id < 0 || param.id >= static_cast<int>(grad_of_.size()) || grad_of_[param.id] < 0)
        fail(Errc::invalid_argument, "grad: the parameter was not listed in CompileOptions::gradients");
    return Value{grad_of_[param.id]};
}

const StateEntry* Program::find_state(const std::string& name) const {
    for (const StateEntry& e : state_)
        if (e.name == name) return &e;
    return nullptr;
}

void Program::read_state(const StateEntry& e, void* dst) const {
    backend_->copy_to_host(dst, static_cast<const char*>(persistent_) + e.offset, e.bytes);
}

void Program::write_state(const StateEntry& e, const void* src) {
    backend_->copy_to_device(static_cast<char*>(persistent_) + e.offset, src, e.bytes);
}

std::string Program::memory_report() const {
    size_t params = 0, buffers = 0, optim = 0;
    for (const StateEntry& e : state_)
        (e.kind == StateEntry::param ? params : e.kind == StateEntry::buffer ? buffers : optim) += e.bytes;
    return "arena " + std::to_string(plan_.arena_bytes) + " bytes (" + std::to_string(plan_.naive_bytes) +
           " without reuse), persistent " + std::to_string(plan_.persistent_bytes) + " bytes (parameters " +
           std::to_string(params) + ", buffers " + std::to_string(buffers) + ", optimizer state " + std::to_string(optim) +
           "), batch " + std::to_string(batch_) + ", " + std::to_string(schedule_.size()) + " steps on " + backend_->description() + "\n";
}

}  // namespace kiln
