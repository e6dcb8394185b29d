#include "kiln/runtime/passes.h"

#include <algorithm>

#include "kiln/runtime/planner.h"

namespace kiln::passes {

namespace {

size_t bytes_of(const Node& nd) { return size_t(nd.shape.numel()) * dtype_size(nd.dtype); }

}  // namespace

std::vector<bool> prune(const Graph& g, std::span<const int32_t> kept) {
    const int n = g.size();
    std::vector<bool> live(n, false);
    for (int32_t id : kept) live[id] = true;
    for (int i = 0; i < n; ++i)
        if (!g.nodes()[i].has_output()) live[i] = true;
    for (int i = n - 1; i >= 0; --i)
        if (live[i])
            for (int k = 0; k < g.nodes()[i].n_in; ++k) live[g.nodes()[i].in[k]] = true;
    return live;
}

Schedule schedule(const Graph& g, const std::vector<bool>& live, int n_forward) {
    Schedule s;
    s.step_of.assign(g.size(), -1);
    for (int i = 0; i < g.size(); ++i) {
        if (!live[i] || g.nodes()[i].is_leaf()) continue;
        if (i < n_forward) s.forward_end = static_cast<int>(s.steps.size()) + 1;
        s.step_of[i] = static_cast<int>(s.steps.size());
        s.steps.push_back(i);
    }
    return s;
}

Lifetimes lifetimes(const Graph& g, const std::vector<bool>& live, const Schedule& s, std::span<const int32_t> kept) {
    const int n = g.size(), n_steps = static_cast<int>(s.steps.size());
    Lifetimes life{std::vector<int>(n, -1), std::vector<int>(n, -1)};
    for (int i = 0; i < n; ++i) {
        const Node& nd = g.nodes()[i];
        if (!live[i] || nd.is_persistent() || !nd.has_output()) continue;
        life.first[i] = life.last[i] = nd.op == Op::input ? 0 : s.step_of[i];
    }
    for (int32_t id : kept)
        if (life.first[id] >= 0) life.last[id] = n_steps;
    for (int step = 0; step < n_steps; ++step) {
        const Node& nd = g.nodes()[s.steps[step]];
        for (int k = 0; k < nd.n_in; ++k)
            if (life.first[nd.in[k]] >= 0) life.last[nd.in[k]] = std::max(life.last[nd.in[k]], step);
    }
    return life;
}

Aliasing aliasing(const Graph& g, const Schedule& s, Lifetimes& life) {
    const int n = g.size();
    Aliasing a{std::vector<int32_t>(n), std::vector<size_t>(n, 0)};
    for (int i = 0; i < n; ++i) a.root[i] = i;
    // Walk the schedule: a buffer (with everything already sharing it) can be taken over by an
    // in-place op only at its last use; a view may start inside its root (select).
    for (int step = 0; step < static_cast<int>(s.steps.size()); ++step) {
        const int self = s.steps[step];
        const Node& nd = g.nodes()[self];
        if (!nd.has_output() || nd.n_in == 0) continue;
        const int r = a.root[nd.in[0]];
        if (life.first[r] < 0) continue;  // a persistent input: never shared
        const Node& owner = g.nodes()[r];
        const bool view = op_info(nd.op).view();
        const bool in_place = op_info(nd.op).in_place() && life.last[r] == step && owner.op != Op::input &&
                              bytes_of(owner) == bytes_of(nd) && owner.dtype == nd.dtype;
        if (!view && !in_place) continue;
        a.offset[self] = a.offset[nd.in[0]] + (nd.op == Op::select ? size_t(nd.attrs.select.index) * bytes_of(nd) : 0);
        a.root[self] = r;
        life.last[r] = std::max(life.last[r], life.last[self]);
        life.first[self] = -1;
    }
    return a;
}

Placement placement(const Graph& g, const Schedule& s, const Lifetimes& life, const Aliasing& alias,
                    std::span<const size_t> scratch, size_t alignment, std::span<const int32_t> fused) {
    const int n = g.size(), n_steps = static_cast<int>(s.steps.size());
    Placement p;
    p.offset.assign(n, 0);
    p.fused.assign(n, false);
    for (int32_t id : fused) p.fused[id] = true;
    p.scratch_offset.assign(n_steps, 0);
    std::vector<BufferRequest> requests;
    std::vector<int> owner;  // node id, or -(step + 1) for a step's scratch
    for (int i = 0; i < n; ++i)
        if (life.first[i] >= 0 && alias.root[i] == i && !p.fused[i]) {
            requests.push_back({bytes_of(g.nodes()[i]), life.first[i], life.last[i]});
            owner.push_back(i);
        }
    for (int step = 0; step < n_steps; ++step)
        if (scratch[step] > 0) {
            requests.push_back({scratch[step], step, step});
            owner.push_back(-(step + 1));
        }
    std::vector<size_t> live_at(n_steps + 1, 0);
    for (const BufferRequest& r : requests) {
        const size_t bytes = align_up(std::max<size_t>(r.bytes, 1), alignment);
        p.naive_bytes += bytes;
        for (int step = r.first; step <= r.last; ++step) live_at[step] += bytes;
    }
    p.lower_bound = *std::max_element(live_at.begin(), live_at.end());
    const std::vector<size_t> offset = plan_greedy_by_size(requests, alignment, &p.arena_bytes);
    for (size_t r = 0; r < requests.size(); ++r)
        (owner[r] >= 0 ? p.offset[owner[r]] : p.scratch_offset[-owner[r] - 1]) = offset[r];

    for (int i = 0; i < n; ++i) {
        const Node& nd = g.nodes()[i];
        if (!nd.is_persistent()) continue;
        p.offset[i] = p.persistent_bytes;
        p.persistent_bytes += align_up(std::max<size_t>(bytes_of(nd), 1), alignment);
    }
    p.fused_begin = p.persistent_bytes;
    for (int32_t id : fused) {
        p.offset[id] = p.persistent_bytes;
        p.persistent_bytes += align_up(std::max<size_t>(bytes_of(g.nodes()[id]), 1), alignment);
    }
    p.fused_end = p.persistent_bytes;
    if (!fused.empty()) p.persistent_bytes += align_up(fused_votes * sizeof(float), alignment);
    return p;
}

Binding binding(const Graph& g, const std::vector<bool>& live, const Lifetimes& life, const Aliasing& alias,
                const Placement& place, std::span<const size_t> scratch, void* arena, void* persistent) {
    const int n = g.size();
    Binding b{std::vector<void*>(n, nullptr), std::vector<void*>(scratch.size(), nullptr)};
    for (int i = 0; i < n; ++i) {
        const Node& nd = g.nodes()[i];
        if (nd.is_persistent() || place.fused[i]) b.data[i] = static_cast<char*>(persistent) + place.offset[i];
        else if (life.first[i] >= 0 && alias.root[i] == i) b.data[i] = static_cast<char*>(arena) + place.offset[i];
    }
    for (int i = 0; i < n; ++i)
        if (live[i] && alias.root[i] != i) b.data[i] = static_cast<char*>(b.data[alias.root[i]]) + alias.offset[i];
    for (size_t step = 0; step < scratch.size(); ++step)
        if (scratch[step] > 0) b.scratch[step] = static_cast<char*>(arena) + place.scratch_offset[step];
    return b;
}

KernelCall kernel_call(const Graph& g, int32_t node, std::span<void* const> data, int64_t batch) {
    auto ref = [&](int32_t id) {
        const Node& nd = g.nodes()[id];
        TensorRef t{data.empty() ? nullptr : data[id], nd.dtype, nd.shape};
        if (nd.batched) t.shape[0] = batch;
        return t;
    };
    const Node& nd = g.nodes()[node];
    KernelCall call{nd.op, &nd.attrs, {}, {}, nd.n_in, nullptr, nullptr};
    if (nd.has_output()) call.out = ref(node);
    for (int k = 0; k < nd.n_in; ++k) call.in[k] = ref(nd.in[k]);
    return call;
}

}  // namespace kiln::passes
