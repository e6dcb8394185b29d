#include "kiln/graph/program.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "kiln/core/error.h"
#include "kiln/graph/autodiff.h"

namespace kiln {

namespace {

constexpr const char* loss_seed_name = "__loss_grad_seed";

// Ops whose kernel may write its output over its first input (each output element depends only
// on the input elements at the same index).
bool elementwise(Op op) {
    switch (op) {
    case Op::add: case Op::sub: case Op::mul: case Op::div: case Op::scale:
    case Op::relu: case Op::sigmoid: case Op::tanh: case Op::dropout:
    case Op::relu_grad: case Op::sigmoid_grad: case Op::tanh_grad: case Op::bn_apply:
        return true;
    default:
        return false;
    }
}

// Appends one update node per parameter, and the optimizer state buffers it needs.
void build_optimizer(Graph& g, const OptimizerConfig& config, const std::vector<int32_t>& grad, int n_forward) {
    if (std::holds_alternative<std::monostate>(config)) return;
    for (int i = 0; i < n_forward; ++i) {
        const Node p = g.nodes()[i];
        if (p.op != Op::param || grad[i] < 0) continue;
        auto state = [&](const char* suffix) { return g.buffer(p.name + "." + suffix, p.shape, DType::f32, {}); };
        Node u;
        u.has_output = false;
        u.shape = p.shape;
        u.in[0] = i;
        u.in[1] = grad[i];
        u.n_in = 2;
        if (auto* s = std::get_if<SGD>(&config)) {
            if (s->nesterov && (s->momentum <= 0 || s->dampening != 0))
                fail(Errc::invalid_argument, "SGD: nesterov momentum requires a momentum and zero dampening");
            u.op = Op::sgd_update;
            u.attrs.sgd = {s->momentum, s->dampening, s->weight_decay, s->nesterov, s->maximize};
            if (s->momentum != 0) u.in[u.n_in++] = state("momentum_buffer").id;
        } else {
            u.op = Op::adam_update;
            if (auto* a = std::get_if<Adam>(&config))
                u.attrs.adam = {a->beta1, a->beta2, a->eps, a->weight_decay, false, a->maximize};
            else if (auto* w = std::get_if<AdamW>(&config))
                u.attrs.adam = {w->beta1, w->beta2, w->eps, w->weight_decay, true, w->maximize};
            u.in[u.n_in++] = state("exp_avg").id;
            u.in[u.n_in++] = state("exp_avg_sq").id;
        }
        g.add_node(std::move(u));
    }
}

float initial_lr(const OptimizerConfig& config) {
    if (auto* s = std::get_if<SGD>(&config)) return s->lr;
    if (auto* a = std::get_if<Adam>(&config)) return a->lr;
    if (auto* w = std::get_if<AdamW>(&config)) return w->lr;
    return 0.0f;
}

}  // namespace

std::unique_ptr<Program> compile(const Graph& source, const CompileOptions& options) {
    std::unique_ptr<Program> p(new Program());
    p->graph_ = source;
    Graph& g = p->graph_;
    const int n_forward = g.size();
    for (Value v : options.outputs) g.node(v);

    // 1. Backward pass and optimizer steps, appended to the graph.
    std::vector<int32_t> grad(n_forward, -1);
    if (options.loss) {
        grad = build_backward(g, options.loss);
        build_optimizer(g, options.optimizer, grad, n_forward);
        p->loss_node_ = options.loss.id;
        p->info_.lr = initial_lr(options.optimizer);
    }
    p->grad_of_.assign(g.size(), -1);
    for (Value v : options.gradients) {
        if (g.node(v).op != Op::param) fail(Errc::invalid_argument, "compile: gradients must list parameters");
        if (grad[v.id] < 0) fail(Errc::invalid_argument, "compile: no gradient reaches parameter '" + g.node(v).name + "'");
        p->grad_of_[v.id] = grad[v.id];
    }

    // 2. Keep only what the roots need: loss, outputs, requested gradients, optimizer steps.
    const int n = g.size();
    std::vector<bool> live(n, false), kept_to_end(n, false);
    auto root = [&](int id) { live[id] = kept_to_end[id] = true; };
    if (options.loss) root(options.loss.id);
    for (Value v : options.outputs) root(v.id);
    for (Value v : options.gradients) root(grad[v.id]);
    for (int i = n_forward; i < n; ++i)
        if (!g.nodes()[i].has_output) live[i] = true;
    for (int i = n - 1; i >= 0; --i)
        if (live[i])
            for (int k = 0; k < g.nodes()[i].n_in; ++k) live[g.nodes()[i].in[k]] = true;

    p->batch_ = 0;
    for (const Node& nd : g.nodes())
        if (nd.op == Op::input) p->batch_ = std::max(p->batch_, nd.shape[0]);
    if (p->batch_ == 0) p->batch_ = 1;  // no inputs: nothing is batched
    for (const Node& nd : g.nodes())
        if (nd.batched && nd.shape[0] != p->batch_)
            fail(Errc::shape_mismatch, std::string("compile: ") + op_name(nd.op) + " " + nd.shape.str() +
                                           " has a batch dimension different from the inputs' " + std::to_string(p->batch_));

    // 3. The schedule: ops in creation order, which is topological. Backward nodes come after
    // every forward node, so the forward pass is a prefix.
    p->backend_ = make_backend(options.backend, options.backend_options);
    Backend& be = *p->backend_;
    std::vector<int> step_of(n, -1);
    for (int i = 0; i < n; ++i) {
        const Node& nd = g.nodes()[i];
        if (!live[i] || nd.is_leaf()) continue;
        if (!be.supports(nd, g))
            fail(Errc::unsupported, std::string("compile: backend '") + be.name() + "' does not support " + op_name(nd.op) +
                                        " " + nd.shape.str());
        if (i >= n_forward && p->forward_end_ == 0) p->forward_end_ = static_cast<int>(p->schedule_.size());
        step_of[i] = static_cast<int>(p->schedule_.size());
        p->schedule_.push_back(i);
    }
    const int n_steps = static_cast<int>(p->schedule_.size());
    if (p->forward_end_ == 0) p->forward_end_ = n_steps;
    if (options.loss) p->backward_begin_ = p->forward_end_;

    // 4. Lifetimes. Leaves that are fed (inputs) live from the start; everything the user reads
    // lives to the end. Views and in-place ops share their input's buffer (alias → root).
    std::vector<int> first(n, -1), last(n, -1), root_of(n);
    for (int i = 0; i < n; ++i) root_of[i] = i;
    auto root_id = [&](int i) {
        while (root_of[i] != i) i = root_of[i];
        return i;
    };
    auto bytes_of = [&](int i) { return size_t(g.nodes()[i].shape.numel()) * dtype_size(g.nodes()[i].dtype); };
    for (int i = 0; i < n; ++i) {
        const Node& nd = g.nodes()[i];
        if (!live[i] || nd.is_persistent() || !nd.has_output) continue;
        first[i] = last[i] = nd.op == Op::input ? 0 : step_of[i];
        if (kept_to_end[i]) last[i] = n_steps;
    }
    for (int s = 0; s < n_steps; ++s) {
        const Node& nd = g.nodes()[p->schedule_[s]];
        for (int k = 0; k < nd.n_in; ++k)
            if (first[nd.in[k]] >= 0) last[nd.in[k]] = std::max(last[nd.in[k]], s);
    }
    // Walk the schedule, letting a view or an in-place op take over its input's buffer when that
    // buffer (with everything already sharing it) is not used after this step. A view may start
    // inside its root (select): view_offset is its byte offset there.
    std::vector<size_t> view_offset(n, 0);
    for (int s = 0; s < n_steps; ++s) {
        const int self = p->schedule_[s];
        const Node& nd = g.nodes()[self];
        if (!nd.has_output || nd.n_in == 0) continue;
        const int r = root_id(nd.in[0]);
        if (first[r] < 0) continue;
        bool view = nd.op == Op::reshape || nd.op == Op::select;
        bool in_place = elementwise(nd.op) && last[r] == s && g.nodes()[r].op != Op::input &&
                        bytes_of(r) == bytes_of(self) && g.nodes()[r].dtype == nd.dtype;
        if (view || in_place) {
            view_offset[self] = view_offset[nd.in[0]] + (nd.op == Op::select ? size_t(nd.attrs.select.index) * bytes_of(self) : 0);
            root_of[self] = r;
            last[r] = std::max(last[r], last[self]);
            first[self] = -1;
        }
    }

    // 5. Place arena buffers: one per root tensor plus per-step scratch.
    std::vector<BufferRequest> requests;
    std::vector<int> request_node;  // node id, or -(step+1) for scratch
    for (int i = 0; i < n; ++i)
        if (first[i] >= 0 && root_id(i) == i) {
            requests.push_back({bytes_of(i), first[i], last[i]});
            request_node.push_back(i);
            p->plan_.naive_bytes += align_up(bytes_of(i), be.alignment());
        }
    std::vector<size_t> scratch_size(n_steps, 0);
    for (int s = 0; s < n_steps; ++s) {
        scratch_size[s] = be.scratch_bytes(g.nodes()[p->schedule_[s]], g);
        if (scratch_size[s] > 0) {
            requests.push_back({scratch_size[s], s, s});
            request_node.push_back(-(s + 1));
            p->plan_.naive_bytes += align_up(scratch_size[s], be.alignment());
        }
    }
    std::vector<size_t> offset = plan_greedy_by_size(requests, be.alignment(), &p->plan_.arena_bytes);

    // 6. Persistent region: parameters, buffers, optimizer state, laid out in graph order.
    std::vector<size_t> persistent_offset(n, 0);
    size_t persistent = 0;
    for (int i = 0; i < n; ++i) {
        const Node& nd = g.nodes()[i];
        if (!nd.is_persistent()) continue;
        persistent_offset[i] = persistent;
        persistent += align_up(std::max<size_t>(bytes_of(i), 1), be.alignment());
        if (nd.name.rfind("__", 0) == 0) continue;
        StateEntry::Kind kind = nd.op == Op::param ? StateEntry::param : i >= n_forward ? StateEntry::optimizer : StateEntry::buffer;
        p->state_.push_back({nd.name, nd.dtype, nd.shape, kind, persistent_offset[i], bytes_of(i)});
    }
    p->plan_.persistent_bytes = persistent;

    // 7. Allocate both arenas once, copy initial values, and resolve every tensor's address.
    p->arena_ = be.allocate(std::max<size_t>(p->plan_.arena_bytes, 1));
    p->persistent_ = be.allocate(std::max<size_t>(persistent, 1));
    p->data_.assign(n, nullptr);
    p->scratch_.assign(n_steps, nullptr);
    for (size_t r = 0; r < requests.size(); ++r) {
        void* addr = static_cast<char*>(p->arena_) + offset[r];
        if (request_node[r] >= 0) p->data_[request_node[r]] = addr;
        else p->scratch_[-request_node[r] - 1] = addr;
    }
    for (int i = 0; i < n; ++i) {
        const Node& nd = g.nodes()[i];
        if (nd.is_persistent()) {
            p->data_[i] = static_cast<char*>(p->persistent_) + persistent_offset[i];
            be.copy_to_device(p->data_[i], nd.init.data(), bytes_of(i));
        } else if (first[i] < 0 && live[i] && nd.has_output) {
            p->data_[i] = static_cast<char*>(p->data_[root_id(i)]) + view_offset[i];
        }
    }
    // Inputs of a device backend are written by the host into staging buffers, uploaded by each call.
    if (!be.host_accessible()) {
        size_t staged = 0;
        for (int i = 0; i < n; ++i)
            if (g.nodes()[i].op == Op::input && p->data_[i]) {
                p->staged_.push_back({i, staged});
                staged += align_up(bytes_of(i), 64);
            }
        p->staging_.assign(staged, 0);
    }
    // The inputs that feed cross_entropy its labels, checked at every call (labels in a buffer are
    // the caller's own).
    for (int i = 0; i < n_forward; ++i) {
        const Node& nd = g.nodes()[i];
        if (nd.op == Op::cross_entropy && g.nodes()[nd.in[1]].op == Op::input && p->data_[nd.in[1]])
            p->label_inputs_.push_back({nd.in[1], g.nodes()[nd.in[0]].shape[1]});
    }
    p->seed_ = options.seed;
    return p;
}

Program::~Program() {
    if (backend_) {
        if (arena_) backend_->release(arena_);
        if (persistent_) backend_->release(persistent_);
    }
}

TensorRef Program::ref(int node, int64_t n) const {
    const Node& nd = graph_.nodes()[node];
    TensorRef t;
    t.data = data_[node];
    t.dtype = nd.dtype;
    t.shape = nd.shape;
    if (nd.batched) t.shape[0] = n;
    return t;
}

void Program::run_steps(int begin, int end, int64_t n) {
    for (int s = begin; s < end; ++s) {
        const int id = schedule_[s];
        const Node& nd = graph_.nodes()[id];
        KernelCall call{nd.op, &nd.attrs, {}, {}, nd.n_in, scratch_[s], &info_};
        if (nd.has_output) call.out = ref(id, n);
        for (int k = 0; k < nd.n_in; ++k) call.in[k] = ref(nd.in[k], n);
        if (!profiling_) {
            backend_->run(call);
            continue;
        }
        const auto t0 = std::chrono::steady_clock::now();
        backend_->run(call);
        backend_->synchronize();
        step_seconds_[s] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
}

void Program::set_profiling(bool on) {
    profiling_ = on;
    step_seconds_.assign(schedule_.size(), 0.0);
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
    run_steps(0, static_cast<int>(schedule_.size()), n);
    backend_->synchronize();
    return loss();
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
    if (!data_[v.id] || !nd.has_output)
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
