// The compiler's passes one by one (runtime/passes.h), on small graphs whose answers can be
// worked out by hand.
#define BOOST_TEST_MODULE runtime
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "kiln/runtime/passes.h"
#include "kiln/runtime/planner.h"

using namespace kiln;
namespace passes = kiln::passes;

namespace {

// x [4, 8] → a = relu(x) → b = scale(a) → r = reshape(b, [4, 2, 4]) → out = tanh(r); plus a
// branch nothing reads (dead = sigmoid(x)) and a parameter w with its own step.
struct Chain {
    Graph g;
    Value x, a, b, r, out, dead, w, wsum;
    Chain() {
        x = g.input("x", {4, 8});
        a = g.relu(x);
        dead = g.sigmoid(x);
        b = g.scale(a, 2.0f);
        r = g.reshape(b, {4, 2, 4});
        out = g.tanh(r);
        w = g.param("w", {3}, {1, 2, 3});
        wsum = g.sum(w);
    }
    int n() const { return g.size(); }
};

std::vector<int32_t> ids(std::initializer_list<Value> vs) {
    std::vector<int32_t> r;
    for (Value v : vs) r.push_back(v.id);
    return r;
}

// The passes before placement, run as compile() runs them (every node a forward node).
struct UpToAliasing {
    std::vector<bool> live;
    passes::Schedule s;
    passes::Lifetimes life;
    passes::Aliasing alias;
    UpToAliasing(const Graph& g, const std::vector<int32_t>& kept)
        : live(passes::prune(g, kept)), s(passes::schedule(g, live, g.size())), life(passes::lifetimes(g, live, s, kept)),
          alias(passes::aliasing(g, s, life)) {}
};

}  // namespace

BOOST_AUTO_TEST_CASE(prune_keeps_what_the_kept_nodes_need) {
    Chain c;
    const auto kept = ids({c.out});
    const std::vector<bool> live = passes::prune(c.g, kept);
    for (Value v : {c.x, c.a, c.b, c.r, c.out}) BOOST_TEST(live[v.id]);
    for (Value v : {c.dead, c.w, c.wsum}) BOOST_TEST(!live[v.id]);
}

BOOST_AUTO_TEST_CASE(schedule_is_creation_order_with_the_forward_pass_first) {
    Chain c;
    const auto kept = ids({c.out, c.wsum});
    const auto live = passes::prune(c.g, kept);
    const int n_forward = c.wsum.id;  // pretend wsum was appended by compile (a backward node)
    const passes::Schedule s = passes::schedule(c.g, live, n_forward);
    BOOST_TEST(s.steps == ids({c.a, c.b, c.r, c.out, c.wsum}));
    BOOST_TEST(s.forward_end == 4);
    BOOST_TEST(s.step_of[c.x.id] == -1);  // leaves are not steps
    BOOST_TEST(s.step_of[c.wsum.id] == 4);
}

BOOST_AUTO_TEST_CASE(lifetimes_run_from_the_write_to_the_last_read) {
    Chain c;
    const auto kept = ids({c.out});
    const auto live = passes::prune(c.g, kept);
    const auto s = passes::schedule(c.g, live, c.n());
    const passes::Lifetimes life = passes::lifetimes(c.g, live, s, kept);
    BOOST_TEST(life.first[c.x.id] == 0);  // an input is written before the call
    BOOST_TEST(life.last[c.x.id] == 0);   // read by relu, step 0
    BOOST_TEST(life.first[c.a.id] == 0);
    BOOST_TEST(life.last[c.a.id] == 1);   // read by scale, step 1
    BOOST_TEST(life.first[c.out.id] == 3);
    BOOST_TEST(life.last[c.out.id] == 4);  // kept: alive past the last step
    BOOST_TEST(life.first[c.w.id] == -1);  // persistent: not in the arena
    BOOST_TEST(life.first[c.dead.id] == -1);
}

BOOST_AUTO_TEST_CASE(views_and_in_place_ops_share_their_input_buffer) {
    Chain c;
    const UpToAliasing one(c.g, ids({c.out}));
    const passes::Aliasing& alias = one.alias;
    const passes::Lifetimes& life = one.life;
    BOOST_TEST(alias.root[c.a.id] == c.a.id);  // relu may not write over an input the caller wrote
    BOOST_TEST(alias.root[c.b.id] == c.a.id);  // scale: a dies there, so b takes its buffer
    BOOST_TEST(alias.root[c.r.id] == c.a.id);  // a view
    BOOST_TEST(alias.root[c.out.id] == c.a.id);
    BOOST_TEST(life.first[c.b.id] == -1);
    BOOST_TEST(life.last[c.a.id] == 4);  // the root now lives as long as its last sharer

    // When the input is still read later, an in-place op gets a buffer of its own.
    Graph g;
    Value x = g.input("x", {4, 8});
    Value a = g.relu(x), b = g.scale(a, 2.0f), both = g.add(a, b);
    const passes::Aliasing alias2 = UpToAliasing(g, ids({both})).alias;
    BOOST_TEST(alias2.root[b.id] == b.id);
    BOOST_TEST(alias2.root[both.id] == a.id);  // add is the last reader of a: it takes a's buffer

    // select is a view at an offset: row 2 of a [4, 3] tensor starts 2 · 3 floats in.
    Graph h;
    Value p = h.param("p", {4, 3}, std::vector<float>(12, 1.0f));
    Value e = h.relu(p), row = h.select(e, 2);
    const passes::Aliasing alias3 = UpToAliasing(h, ids({row})).alias;
    BOOST_TEST(alias3.root[row.id] == e.id);
    BOOST_TEST(alias3.offset[row.id] == 2u * 3 * sizeof(float));
}

BOOST_AUTO_TEST_CASE(placement_separates_live_buffers_and_reports_the_lower_bound) {
    Graph g;
    Value x = g.input("x", {16, 16});
    Value a = g.matmul(x, x), b = g.matmul(a, x), c = g.matmul(b, a);
    Value w = g.param("w", {5}, std::vector<float>(5, 0.0f)), v = g.param("v", {100}, std::vector<float>(100, 0.0f));
    const UpToAliasing up(g, ids({c}));
    const passes::Lifetimes& life = up.life;
    const std::vector<size_t> scratch = {0, 4096, 0};  // step 1 needs scratch
    const passes::Placement place = passes::placement(g, up.s, life, up.alias, scratch, 64);
    // Every pair of buffers alive at a common step is disjoint.
    struct Span { size_t begin, end; int first, last; };
    std::vector<Span> spans;
    for (Value t : {x, a, b, c}) spans.push_back({place.offset[t.id], place.offset[t.id] + 1024, life.first[t.id], life.last[t.id]});
    spans.push_back({place.scratch_offset[1], place.scratch_offset[1] + 4096, 1, 1});
    for (size_t i = 0; i < spans.size(); ++i)
        for (size_t j = i + 1; j < spans.size(); ++j) {
            const bool together = spans[i].first <= spans[j].last && spans[j].first <= spans[i].last;
            const bool apart = spans[i].end <= spans[j].begin || spans[j].end <= spans[i].begin;
            BOOST_TEST((!together || apart), "buffers " << i << " and " << j << " overlap");
        }
    // Step 1 (b = a·x) has x, a, b and the scratch alive: the most at any step.
    BOOST_TEST(place.lower_bound == 3 * 1024u + 4096);
    BOOST_TEST(place.arena_bytes >= place.lower_bound);
    BOOST_TEST(place.naive_bytes == 4 * 1024u + 4096);
    // Persistent tensors in graph order, each padded to the alignment.
    BOOST_TEST(place.offset[w.id] == 0u);
    BOOST_TEST(place.offset[v.id] == 64u);
    BOOST_TEST(place.persistent_bytes == 64u + 448);
}

BOOST_AUTO_TEST_CASE(binding_and_kernel_calls_resolve_addresses_and_the_batch) {
    Chain c;
    const UpToAliasing up(c.g, ids({c.out}));
    const std::vector<size_t> scratch(up.s.steps.size(), 0);
    const auto place = passes::placement(c.g, up.s, up.life, up.alias, scratch, 64);
    alignas(64) static char arena[4096], persistent[256];
    const passes::Binding b = passes::binding(c.g, up.live, up.life, up.alias, place, scratch, arena, persistent);
    BOOST_TEST(b.data[c.x.id] == static_cast<void*>(arena + place.offset[c.x.id]));
    BOOST_TEST(b.data[c.r.id] == b.data[c.a.id]);  // a view shares its root's address
    BOOST_TEST(b.data[c.w.id] == static_cast<void*>(persistent));
    BOOST_TEST(b.data[c.dead.id] == nullptr);

    // A kernel call at batch 3: batched tensors get dim 0 = 3, the rest keep their shapes.
    const KernelCall call = passes::kernel_call(c.g, c.r.id, b.data, 3);
    BOOST_TEST((call.op == Op::reshape));
    BOOST_TEST(call.n_in == 1);
    BOOST_TEST(call.out.shape.str() == "[3, 2, 4]");
    BOOST_TEST(call.in[0].shape.str() == "[3, 8]");
    BOOST_TEST(call.in[0].data == b.data[c.b.id]);
    const KernelCall at_compile = passes::kernel_call(c.g, c.wsum.id, {}, 4);
    BOOST_TEST(at_compile.in[0].data == nullptr);
    BOOST_TEST(at_compile.in[0].shape.str() == "[3]");
}

BOOST_AUTO_TEST_CASE(greedy_planner_reuses_memory_of_disjoint_lifetimes) {
    // A [0,1] 100 B, B [1,2] 50 B, C [2,3] 100 B: A and C share offset 0, B sits above them.
    size_t total = 0;
    auto off = plan_greedy_by_size({{100, 0, 1}, {50, 1, 2}, {100, 2, 3}}, 1, &total);
    BOOST_TEST(off[0] == 0u);
    BOOST_TEST(off[2] == 0u);
    BOOST_TEST(off[1] == 100u);
    BOOST_TEST(total == 150u);
    // Alignment rounds every offset and the total up.
    off = plan_greedy_by_size({{10, 0, 0}, {10, 0, 0}}, 64, &total);
    BOOST_TEST(off[0] % 64 == 0u);
    BOOST_TEST(off[1] % 64 == 0u);
    BOOST_TEST(off[0] != off[1]);
    BOOST_TEST(total == 128u);
}
