// compile() and plan(): the passes of passes.h chained, then the binding of a program to its memory.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kiln/core/error.h"
#include "kiln/graph/autodiff.h"
#include "kiln/runtime/passes.h"
#include "kiln/runtime/program.h"

namespace kiln {

namespace {

// Appends one update node per parameter, and the optimizer state buffers it needs.
void build_optimizer(Graph& g, const OptimizerConfig& config, const std::vector<int32_t>& grad, int n_forward) {
    if (std::holds_alternative<std::monostate>(config)) return;
    for (int i = 0; i < n_forward; ++i) {
        const Node p = g.nodes()[i];  // a copy: adding state buffers moves the nodes
        if (p.op != Op::param || grad[i] < 0) continue;
        auto state = [&](const char* suffix) { return g.buffer(p.name + "." + suffix, p.shape, DType::f32, {}); };
        Node u;
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

// Program's friend: builds one in the order compile() and plan() share.
struct Compiler {
    std::unique_ptr<Program> p{new Program()};
    int n_forward = 0;
    std::vector<bool> live;
    passes::Schedule sched;
    passes::Lifetimes life;
    passes::Aliasing alias;
    passes::Placement place;
    std::vector<size_t> scratch;

    Compiler(const Graph& source, const CompileOptions& options) {
        // The program keeps the graph's structure, not its initial values (bind() uploads them).
        p->graph_ = source.without_initial_values();
        Graph& g = p->graph_;
        n_forward = g.size();
        for (Value v : options.outputs) g.node(v);

        // Backward pass and optimizer steps, appended to the graph.
        std::vector<int32_t> grad(n_forward, -1);
        if (options.loss) {
            grad = build_backward(g, options.loss);
            build_optimizer(g, options.optimizer, grad, n_forward);
            p->loss_node_ = options.loss.id;
            p->info_.lr = initial_lr(options.optimizer);
        }
        p->grad_of_.assign(g.size(), -1);
        std::vector<int32_t> kept;  // read after a call: the loss, outputs, requested gradients
        if (options.loss) kept.push_back(options.loss.id);
        for (Value v : options.outputs) kept.push_back(v.id);
        for (Value v : options.gradients) {
            if (g.node(v).op != Op::param) fail(Errc::invalid_argument, "compile: gradients must list parameters");
            if (grad[v.id] < 0) fail(Errc::invalid_argument, "compile: no gradient reaches parameter '" + g.node(v).name + "'");
            p->grad_of_[v.id] = grad[v.id];
            kept.push_back(grad[v.id]);
        }
        check_batch(g);

        live = passes::prune(g, kept);
        sched = passes::schedule(g, live, n_forward);
        p->schedule_ = sched.steps;
        p->forward_end_ = sched.forward_end;
        if (options.loss) p->backward_begin_ = sched.forward_end;

        p->backend_ = make_backend(options.backend, options.backend_options);
        Backend& be = *p->backend_;
        for (int32_t id : sched.steps) {
            const KernelCall call = passes::kernel_call(g, id, {}, p->batch_);
            if (!be.supports(call))
                fail(Errc::unsupported, std::string("compile: backend '") + be.name() + "' does not support " + op_name(call.op) +
                                            " " + g.nodes()[id].shape.str());
            scratch.push_back(be.scratch_bytes(call));
        }
        life = passes::lifetimes(g, live, sched, kept);
        alias = passes::aliasing(g, sched, life);
        std::vector<int32_t> fused;  // the buffers that hold the parameters' final gradients, in parameter order
        if (options.fuse_gradients && options.loss)
            for (int32_t i = 0; i < n_forward; ++i)
                if (g.nodes()[i].op == Op::param && grad[i] >= 0 && g.nodes()[grad[i]].dtype == DType::f32 &&
                    std::find(fused.begin(), fused.end(), alias.root[grad[i]]) == fused.end())
                    fused.push_back(alias.root[grad[i]]);
        place = passes::placement(g, sched, life, alias, scratch, be.alignment(), fused);
        p->fused_begin_ = place.fused_begin, p->fused_end_ = place.fused_end;
        for (int step = 0; step < int(sched.steps.size()); ++step)
            if (!op_info(g.nodes()[sched.steps[step]].op).has_output() && p->update_begin_ < 0) p->update_begin_ = step;
        p->plan_ = {place.arena_bytes, place.persistent_bytes, be.alignment(), place.naive_bytes, place.lower_bound};
        p->seed_ = options.seed;
    }

    // The compiled batch: the inputs' dim 0; every batched tensor must have it.
    void check_batch(const Graph& g) {
        int64_t& batch = p->batch_;
        for (const Node& nd : g.nodes())
            if (nd.op == Op::input) batch = std::max(batch, nd.shape[0]);
        if (batch == 0) batch = 1;  // no inputs: nothing is batched
        for (const Node& nd : g.nodes())
            if (nd.batched && nd.shape[0] != batch)
                fail(Errc::shape_mismatch, std::string("compile: ") + op_name(nd.op) + " " + nd.shape.str() +
                                               " has a batch dimension different from the inputs' " + std::to_string(batch));
    }

    // Both regions from the backend, released by ~Program.
    std::unique_ptr<Program> into_own_memory(const Graph& source) {
        Backend& be = *p->backend_;
        p->arena_ = be.allocate(std::max<size_t>(place.arena_bytes, 1));
        p->persistent_ = be.allocate(std::max<size_t>(place.persistent_bytes, 1));
        return bind(source, p->arena_, p->persistent_);
    }

    std::unique_ptr<Program> into_caller_memory(const Graph& source, const CallerMemory& memory) {
        p->owns_memory_ = false;
        const size_t alignment = p->plan_.alignment;
        auto check = [&](const char* what, void* base, size_t bytes, size_t needed) {
            if (!base) fail(Errc::invalid_argument, std::string("compile: the caller's ") + what + " is null");
            if (bytes < needed)
                fail(Errc::invalid_argument, std::string("compile: the caller's ") + what + " has " + std::to_string(bytes) +
                                                 " bytes; the program needs " + std::to_string(needed));
            if (reinterpret_cast<uintptr_t>(base) % alignment != 0)
                fail(Errc::invalid_argument, std::string("compile: the caller's ") + what + " is not aligned to " +
                                                 std::to_string(alignment) + " bytes");
        };
        check("arena", memory.arena, memory.arena_bytes, place.arena_bytes);
        check("persistent region", memory.persistent, memory.persistent_bytes, place.persistent_bytes);
        return bind(source, memory.arena, memory.persistent);
    }

    // Binds the program to its two regions, uploads the initial values from `source`, and sets
    // up what each call needs (staged inputs, label checks, the state list).
    std::unique_ptr<Program> bind(const Graph& source, void* arena, void* persistent) {
        const Graph& g = p->graph_;
        Backend& be = *p->backend_;
        p->arena_ = arena;
        p->persistent_ = persistent;
        passes::Binding b = passes::binding(g, live, life, alias, place, scratch, arena, persistent);
        p->data_ = std::move(b.data);
        p->scratch_ = std::move(b.scratch);
        for (int i = 0; i < g.size(); ++i) {
            const Node& nd = g.nodes()[i];
            if (!nd.is_persistent()) continue;
            const size_t bytes = size_t(nd.shape.numel()) * dtype_size(nd.dtype);
            // The caller's graph holds the model's values; nodes compile added (autodiff's seed of 1,
            // optimizer state: zeros) hold their own.
            const std::vector<uint8_t>& init = (i < source.size() ? source : g).nodes()[i].init;
            if (!init.empty()) be.copy_to_device(p->data_[i], init.data(), bytes);
            else upload_zeros(be, p->data_[i], bytes);
            if (nd.name.rfind("__", 0) == 0) continue;
            const StateEntry::Kind kind = nd.op == Op::param ? StateEntry::param : i >= n_forward ? StateEntry::optimizer : StateEntry::buffer;
            p->state_.push_back({nd.name, nd.dtype, nd.shape, kind, place.offset[i], bytes});
        }
        // Inputs of a device backend are written by the host into staging buffers, uploaded by each call.
        if (!be.host_accessible()) {
            size_t staged = 0;
            for (int i = 0; i < g.size(); ++i)
                if (g.nodes()[i].op == Op::input && p->data_[i]) {
                    p->staged_.push_back({i, staged});
                    staged += align_up(size_t(g.nodes()[i].shape.numel()) * dtype_size(g.nodes()[i].dtype), 64);
                }
            p->staging_.assign(staged, 0);
        }
        // Inputs that hold class labels, checked at every call (labels in a buffer are the caller's own).
        for (int i = 0; i < n_forward; ++i) {
            const Node& nd = g.nodes()[i];
            if (op_info(nd.op).labels() && g.nodes()[nd.in[1]].op == Op::input && p->data_[nd.in[1]])
                p->label_inputs_.push_back({nd.in[1], g.nodes()[nd.in[0]].shape[1]});
        }
        return std::move(p);
    }

    // Zeros for a tensor without initial values, from one static block (no host copy of its size).
    static void upload_zeros(Backend& be, void* dst, size_t bytes) {
        static const uint8_t zeros[4096] = {};
        for (size_t done = 0; done < bytes; done += sizeof zeros)
            be.copy_to_device(static_cast<char*>(dst) + done, zeros, std::min(sizeof zeros, bytes - done));
    }
};

MemoryPlan plan(const Graph& graph, const CompileOptions& options) { return Compiler(graph, options).p->memory_plan(); }

std::unique_ptr<Program> compile(const Graph& graph, const CompileOptions& options) {
    return Compiler(graph, options).into_own_memory(graph);
}

std::unique_ptr<Program> compile(const Graph& graph, const CompileOptions& options, const CallerMemory& memory) {
    return Compiler(graph, options).into_caller_memory(graph, memory);
}

}  // namespace kiln
