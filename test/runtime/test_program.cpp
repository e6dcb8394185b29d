// Program and compile(): the planner, plan() and compile() into the backend's or the caller's
// memory, batch sizes, determinism, the memory report.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "error_of.h"
#include "kiln/core/error.h"
#include "kiln/runtime/program.h"
#include "runtime/mlp.h"

using namespace kiln;
using kiln::testing::error_of;
using kiln::testing::Mlp;
using kiln::testing::random_vec;

namespace {

CompileOptions training(const Mlp& m) {
    CompileOptions o;
    o.loss = m.loss;
    o.outputs = {m.logits};
    o.optimizer = Adam{.lr = 0.01f};
    return o;
}

// Five Adam steps on fixed data: the losses, then the logits of a forward pass.
std::vector<float> five_steps(Program& p, const Mlp& m) {
    Generator r(9);
    const auto xs = random_vec(r, 8 * 6);
    const std::vector<int64_t> ys = {0, 1, 2, 0, 1, 2, 0, 1};
    std::vector<float> out;
    for (int i = 0; i < 5; ++i) {
        p.write_input(m.x, xs.data(), 8);
        p.write_input(m.y, ys.data(), 8);
        out.push_back(p.train_step(8));
    }
    p.write_input(m.x, xs.data(), 8);
    p.write_input(m.y, ys.data(), 8);
    p.forward(8);
    for (float v : p.read(m.logits)) out.push_back(v);
    return out;
}

struct Aligned {
    void* p;
    explicit Aligned(size_t bytes, size_t alignment) : p(std::aligned_alloc(alignment, (bytes + alignment - 1) / alignment * alignment)) {}
    ~Aligned() { std::free(p); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(plan_never_overlaps_live_tensors_and_reuses_in_place) {
    // A long chain of elementwise ops: in place, the whole chain fits in two buffers' worth.
    Graph g;
    auto x = g.input("x", {64, 256});
    Value h = g.scale(x, 2.0f);
    for (int i = 0; i < 10; ++i) h = g.tanh(g.relu(g.scale(h, 0.5f, 0.1f)));
    CompileOptions o;
    o.outputs = {h};
    auto p = compile(g, o);
    const size_t one = 64 * 256 * 4;
    BOOST_TEST(p->arena_bytes() <= 2 * one);
    // Results are still right: compare with the same chain computed here.
    std::vector<float> in(64 * 256);
    for (size_t i = 0; i < in.size(); ++i) in[i] = std::sin(float(i));
    p->write_input(x, in.data(), 64);
    p->forward(64);
    auto out = p->read(h);
    for (size_t i = 0; i < in.size(); i += 97) {
        float v = in[i] * 2.0f;
        for (int k = 0; k < 10; ++k) v = std::tanh(std::max(v * 0.5f + 0.1f, 0.0f));
        BOOST_TEST(std::abs(out[i] - v) < 1e-5f);
    }
}

BOOST_AUTO_TEST_CASE(batch_may_shrink_at_run_time) {
    Mlp big(8), small(5);
    CompileOptions o;
    o.outputs = {big.logits};
    o.loss = big.loss;
    o.optimizer = SGD{.lr = 0.1f};
    auto pb = compile(big.g, o);
    o.outputs = {small.logits};
    o.loss = small.loss;
    auto ps = compile(small.g, o);
    Generator r(5);
    auto xs = random_vec(r, 5 * 6);
    std::vector<int64_t> ys = {0, 2, 1, 1, 0};
    // Inputs are written before every call: the arena reuses their memory once they are read.
    auto write = [&] {
        pb->write_input(big.x, xs.data(), 5);
        pb->write_input(big.y, ys.data(), 5);
        ps->write_input(small.x, xs.data(), 5);
        ps->write_input(small.y, ys.data(), 5);
    };
    for (int step = 0; step < 3; ++step) {
        write();
        BOOST_TEST(pb->train_step(5) == ps->train_step(5));
    }
    write();
    pb->forward(5);
    ps->forward(5);
    BOOST_TEST(pb->shape(big.logits).str() == "[5, 3]");
    BOOST_TEST(pb->read(big.logits) == ps->read(small.logits));
    BOOST_TEST(error_of([&] { pb->forward(9); }) == "batch size 9 is outside 1..8 (the compiled batch size)");
}

BOOST_AUTO_TEST_CASE(same_seed_and_threads_give_identical_training) {
    auto run = [](int threads) {
        Mlp m(16);
        CompileOptions o;
        o.loss = m.loss;
        o.optimizer = Adam{.lr = 0.01f};
        o.backend_options.threads = threads;
        auto p = compile(m.g, o);
        Generator r(9);
        auto xs = random_vec(r, 16 * 6);
        std::vector<int64_t> ys(16);
        for (auto& y : ys) y = int64_t(r.below(3));
        std::vector<float> losses;
        for (int i = 0; i < 20; ++i) {
            p->write_input(m.x, xs.data(), 16);
            p->write_input(m.y, ys.data(), 16);
            losses.push_back(p->train_step(16));
        }
        return losses;
    };
    auto a = run(2), b = run(2);
    BOOST_TEST(a == b);
    BOOST_TEST(a.back() < a.front());
}

BOOST_AUTO_TEST_CASE(memory_report_is_available_before_running) {
    Mlp m(32);
    CompileOptions o;
    o.loss = m.loss;
    o.optimizer = SGD{.lr = 0.1f, .momentum = 0.9f};
    auto p = compile(m.g, o);
    // Parameters 30 + 5 + 15 floats, each padded to 64 bytes, plus the momentum buffers.
    BOOST_TEST(p->persistent_bytes() >= 2 * (30 + 5 + 15) * 4u);
    BOOST_TEST(p->arena_bytes() > 0u);
    BOOST_TEST(p->arena_bytes() < 64u * 1024);
    BOOST_TEST(p->memory_report().find("arena ") == 0u);
    BOOST_TEST(p->find_state("w1.momentum_buffer") != nullptr);
    BOOST_TEST(p->find_state("__loss_grad_seed") == nullptr);
}

BOOST_AUTO_TEST_CASE(plan_gives_the_sizes_compile_uses) {
    Mlp m(8);
    const MemoryPlan planned = plan(m.g, training(m));
    const auto p = compile(m.g, training(m));
    BOOST_TEST(planned.arena_bytes == p->arena_bytes());
    BOOST_TEST(planned.persistent_bytes == p->persistent_bytes());
    BOOST_TEST(planned.alignment == 64u);
    BOOST_TEST(planned.naive_bytes >= planned.arena_bytes);
    BOOST_TEST(planned.lower_bound <= planned.arena_bytes);
    BOOST_TEST(planned.lower_bound > 0u);
}

// The TensorFlow Lite Micro way: the caller sizes its buffers from plan() and hands them in; the
// program trains to the same bits as one in memory the backend allocated, in the caller's memory.
BOOST_AUTO_TEST_CASE(compile_into_caller_memory_trains_to_the_same_bits) {
    Mlp m(8);
    const MemoryPlan need = plan(m.g, training(m));
    Aligned arena(need.arena_bytes, need.alignment), persistent(need.persistent_bytes, need.alignment);
    const CallerMemory memory{arena.p, need.arena_bytes, persistent.p, need.persistent_bytes};
    std::vector<float> theirs, ours;
    {
        const auto p = compile(m.g, training(m), memory);
        theirs = five_steps(*p, m);
        const StateEntry& w1 = *p->find_state("w1");
        std::vector<float> w(30), in_caller(30);
        p->read_state(w1, w.data());
        std::memcpy(in_caller.data(), static_cast<char*>(persistent.p) + w1.offset, w1.bytes);
        BOOST_TEST(w == in_caller);
    }  // the program is gone; the caller's buffers are still the caller's (freed by ~Aligned)
    const auto own = compile(m.g, training(m));
    ours = five_steps(*own, m);
    BOOST_TEST(theirs == ours);
}

BOOST_AUTO_TEST_CASE(caller_memory_that_does_not_fit_is_refused) {
    Mlp m(8);
    const MemoryPlan need = plan(m.g, training(m));
    Aligned arena(need.arena_bytes + 64, need.alignment), persistent(need.persistent_bytes, need.alignment);
    const std::string small = error_of([&] {
        compile(m.g, training(m), {arena.p, need.arena_bytes - 1, persistent.p, need.persistent_bytes});
    });
    BOOST_TEST(small == "compile: the caller's arena has " + std::to_string(need.arena_bytes - 1) +
                            " bytes; the program needs " + std::to_string(need.arena_bytes));
    BOOST_TEST(error_of([&] {
                   compile(m.g, training(m), {static_cast<char*>(arena.p) + 4, need.arena_bytes, persistent.p, need.persistent_bytes});
               }) == "compile: the caller's arena is not aligned to 64 bytes");
    BOOST_TEST(error_of([&] { compile(m.g, training(m), {arena.p, need.arena_bytes, nullptr, need.persistent_bytes}); }) ==
               "compile: the caller's persistent region is null");
}

// A compiled program keeps no host copy of initial values: they live on the backend only.
BOOST_AUTO_TEST_CASE(no_initial_values_survive_compile) {
    Mlp m(8);
    const auto p = compile(m.g, training(m));
    for (const Node& nd : p->graph().nodes()) BOOST_TEST((nd.init.empty() || nd.name == "__loss_grad_seed"), nd.name);
    std::vector<float> w1(30);
    p->read_state(*p->find_state("w1"), w1.data());
    std::vector<float> expect(30);
    std::memcpy(expect.data(), m.g.node(m.g.find("w1")).init.data(), sizeof(float) * 30);
    BOOST_TEST(w1 == expect);
    std::vector<float> moment(30, 1.0f);
    p->read_state(*p->find_state("w1.exp_avg"), moment.data());
    BOOST_TEST(moment == std::vector<float>(30, 0.0f));
}
