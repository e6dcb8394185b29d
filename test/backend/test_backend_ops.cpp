// Backend comparison harness (after ggml's test-backend-ops). For every op case of
// test/graph/op_cases.h, at its small and large shapes, the case's graph is built with its backward
// pass and an optimizer step per parameter; every non-leaf node (no deduplication across cases: two
// nodes of one op and shapes may differ in attributes) is then run on its own through
// Backend::run — on buffers this test allocates, each surrounded by sentinel bytes — once on the
// reference CPU backend (the oracle) and once on each backend under test. A node passes when:
// - NMSE = Σ(test − ref)² / Σ ref² ≤ 1e-7 (ggml's default) over its output (and, for in-place
//   ops — sgd_update, adam_update, bn_stats in training — over the inputs it updates);
// - no output element is NaN/Inf (outputs start as NaN, so an element never written shows up);
// - every sentinel byte is untouched (no out-of-bounds write) and read-only inputs are unchanged.
// Then the CUDA backend's code run on the CPU by a host executor (test/cuda/host_executor.h), and
// the CUDA backend itself where make_backend("cuda") gives one; otherwise the test says why not.
#define BOOST_TEST_MODULE backend_ops
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <set>

#include "../graph/op_cases.h"
#include "cuda/host_executor.h"
#include "kiln/backend/reference/kernels.h"
#include "kiln/backend/registry.h"
#include "kiln/graph/autodiff.h"
#include "kiln/runtime/passes.h"

using namespace kiln;
using kiln::testing::OpCase;
using kiln::testing::QuantCase;

namespace {

constexpr size_t guard = 64;          // sentinel bytes on each side of every buffer
constexpr uint8_t sentinel = 0xA5;
constexpr double max_nmse = 1e-7;
const RunInfo run_info{.training = true, .lr = 0.01f, .step = 3, .seed = 7};

// y = op(params); loss = sum(y * w), as test_ops.cpp builds it; then backward and optimizer steps.
Graph build(const OpCase& c, const std::vector<Shape>& shapes) {
    Graph g(5);
    std::vector<Value> params;
    for (size_t i = 0; i < shapes.size(); ++i) {
        std::vector<float> init(shapes[i].numel());
        for (float& v : init) v = c.shape_value(g.rng().uniform(-1.0f, 1.0f));
        params.push_back(g.param(std::string("p").append(std::to_string(i)), shapes[i], init));
    }
    Value y = c.build(g, params);
    std::vector<uint8_t> w(g.shape(y).numel() * sizeof(float));
    for (size_t i = 0; i < w.size() / 4; ++i) reinterpret_cast<float*>(w.data())[i] = g.rng().uniform(0.5f, 1.5f);
    std::vector<int32_t> grads = build_backward(g, g.sum(g.mul(y, g.buffer("w", g.shape(y), DType::f32, w))));
    for (size_t k = 0; k < params.size(); ++k) {
        if (grads[params[k].id] < 0) continue;
        const Shape s = g.shape(params[k]);
        Value m = g.buffer(std::string("m").append(std::to_string(k)), s, DType::f32, {});
        Value v = g.buffer(std::string("v").append(std::to_string(k)), s, DType::f32, {});
        Node u;
        u.in[0] = params[k].id;
        u.in[1] = grads[params[k].id];
        if (k % 2 == 0) {  // SGD with momentum and weight decay; Adam(W) on the odd ones
            u.op = Op::sgd_update, u.n_in = 3, u.in[2] = m.id;
            u.attrs.sgd = {.momentum = 0.9f, .dampening = 0, .weight_decay = 0.01f, .nesterov = k % 4 == 2};
        } else {
            u.op = Op::adam_update, u.n_in = 4, u.in[2] = m.id, u.in[3] = v.id;
            u.attrs.adam = {.weight_decay = 0.01f, .decoupled = k % 4 == 3};
        }
        g.add_node(u);
    }
    return g;
}

// Inputs a node updates in place (compared between backends instead of checked unchanged).
bool updated_in_place(const Node& n, int i) {
    if (n.op == Op::sgd_update || n.op == Op::adam_update) return i != 1;
    return n.op == Op::bn_stats && n.n_in > 1 && run_info.training && i > 0;
}

// One buffer of the backend, with sentinels around it.
struct Buffer {
    Backend* be;
    uint8_t* base;
    size_t bytes;
    Buffer(Backend& b, size_t n) : be(&b), base(static_cast<uint8_t*>(b.allocate(n + 2 * guard))), bytes(n) {
        const std::vector<uint8_t> pattern(n + 2 * guard, sentinel);
        b.copy_to_device(base, pattern.data(), pattern.size());
    }
    ~Buffer() { be->release(base); }
    Buffer(const Buffer&) = delete;
    void* data() { return base + guard; }
    bool sentinels_intact() const {
        std::vector<uint8_t> now(bytes + 2 * guard);
        be->copy_to_host(now.data(), base, now.size());
        for (size_t i = 0; i < guard; ++i)
            if (now[i] != sentinel || now[guard + bytes + i] != sentinel) return false;
        return true;
    }
};

struct Result {
    std::vector<std::vector<uint8_t>> compared;  // output, then the in-place inputs
    std::vector<DType> dtypes;                   // of each compared buffer
    bool sentinels = true, inputs_unchanged = true;
};

// The node as a backend is asked about it at compile time (shapes, no addresses). Nothing in these
// graphs is batched.
KernelCall describe(const Graph& g, const Node& n) { return passes::kernel_call(g, int32_t(&n - g.nodes().data()), {}, 1); }

Result run_node(Backend& be, const Graph& g, const Node& n, const std::vector<std::vector<uint8_t>>& inputs) {
    std::vector<std::unique_ptr<Buffer>> in;
    KernelCall call = describe(g, n);
    call.info = &run_info;
    for (int i = 0; i < n.n_in; ++i) {
        const Node& src = g.nodes()[n.in[i]];
        in.push_back(std::make_unique<Buffer>(be, inputs[i].size()));
        be.copy_to_device(in.back()->data(), inputs[i].data(), inputs[i].size());
        call.in[i] = {in.back()->data(), src.dtype, src.shape};
    }
    std::unique_ptr<Buffer> out, scratch;
    const size_t out_bytes = size_t(n.shape.numel()) * dtype_size(n.dtype);
    if (n.has_output()) {
        out = std::make_unique<Buffer>(be, out_bytes);
        const std::vector<float> nan((out_bytes + 3) / 4, std::numeric_limits<float>::quiet_NaN());  // i8 outputs: any byte count
        be.copy_to_device(out->data(), nan.data(), out_bytes);
        call.out = {out->data(), n.dtype, n.shape};
    }
    if (size_t s = be.scratch_bytes(call)) {
        scratch = std::make_unique<Buffer>(be, s);
        call.scratch = scratch->data();
    }
    be.run(call);
    be.synchronize();
    Result r;
    auto take = [&](Buffer& b, DType dt) {
        r.dtypes.push_back(dt);
        r.compared.emplace_back(b.bytes);
        be.copy_to_host(r.compared.back().data(), b.data(), b.bytes);
        r.sentinels = r.sentinels && b.sentinels_intact();
    };
    if (out) take(*out, n.dtype);
    for (int i = 0; i < n.n_in; ++i) {
        if (updated_in_place(n, i)) { take(*in[i], call.in[i].dtype); continue; }
        std::vector<uint8_t> now(inputs[i].size());
        be.copy_to_host(now.data(), in[i]->data(), now.size());
        r.inputs_unchanged = r.inputs_unchanged && now == inputs[i];
        r.sentinels = r.sentinels && in[i]->sentinels_intact();
    }
    if (scratch) r.sentinels = r.sentinels && scratch->sentinels_intact();
    return r;
}

// Seeded inputs: leaves keep their initial contents (parameters passed through the case's
// shape_value, labels in range, running variances of 1); computed values are uniform in [-1, 1]
// through shape_value, and positive where an op needs it (batch statistics, Adam's second moment).
std::vector<std::vector<uint8_t>> make_inputs(const OpCase& c, const Graph& g, const Node& n, Generator& rng) {
    const bool positive = n.op == Op::bn_stats || n.op == Op::bn_apply || n.op == Op::bn_param_grad ||
                          n.op == Op::bn_input_grad || n.op == Op::adam_update;
    std::vector<std::vector<uint8_t>> inputs;
    for (int i = 0; i < n.n_in; ++i) {
        const Node& src = g.nodes()[n.in[i]];
        std::vector<uint8_t> b(size_t(src.shape.numel()) * dtype_size(src.dtype), 0);
        if (src.is_leaf() && src.op != Op::input) {
            if (!src.init.empty()) b = src.init;  // empty: zeros
        } else if (src.dtype == DType::i8) {  // int8 cases: every code
            for (uint8_t& v : b) v = uint8_t(rng.below(256));
        } else if (src.dtype == DType::f32) {
            float* p = reinterpret_cast<float*>(b.data());
            for (size_t k = 0; k < b.size() / 4; ++k)
                p[k] = positive && i > 0 ? rng.uniform(0.5f, 1.5f) : c.shape_value(rng.uniform(-1.0f, 1.0f));
        }
        inputs.push_back(std::move(b));
    }
    return inputs;
}

std::string shape_str(const Shape& s) {
    std::string r = "[";
    for (int i = 0; i < s.rank; ++i) r.append(i ? "," : "").append(std::to_string(s[i]));
    return r.append("]");
}

double nmse(const std::vector<uint8_t>& ref, const std::vector<uint8_t>& got, DType dt, bool& finite) {
    double num = 0, den = 0;
    const size_t n = ref.size() / dtype_size(dt);
    for (size_t i = 0; i < n; ++i) {
        double a, b;
        if (dt == DType::f32) a = reinterpret_cast<const float*>(ref.data())[i], b = reinterpret_cast<const float*>(got.data())[i];
        else a = double(reinterpret_cast<const int64_t*>(ref.data())[i]), b = double(reinterpret_cast<const int64_t*>(got.data())[i]);
        if (!std::isfinite(a) || !std::isfinite(b)) finite = false;
        num += (a - b) * (a - b);
        den += a * a;
    }
    return den > 0 ? num / den : num;
}

// Runs every distinct (op, shapes) node of every case on `test` and on the reference backend.
void compare_backends(Backend& test, const char* label) {
    auto ref = make_backend("cpu", {.reference = true});
    int checked = 0, failed = 0;
    double worst = 0;
    std::string worst_at;
    // int8 ops must give the reference's bits (NMSE 0); the float ones NMSE ≤ max_nmse.
    auto check_graph = [&](const OpCase& c, const Graph& g, bool exact) {
            Generator rng(11);
            for (const Node& n : g.nodes()) {
                if (n.is_leaf()) continue;
                std::string key = std::string(op_name(n.op)).append(" ");
                for (int i = 0; i < n.n_in; ++i) key += shape_str(g.nodes()[n.in[i]].shape);
                key.append("->").append(n.has_output() ? shape_str(n.shape) : std::string("()"));
                const KernelCall call = describe(g, n);
                BOOST_TEST(ref->supports(call), "the reference backend does not support " << key);
                if (!test.supports(call)) {
                    const auto missing = test.missing_ops();
                    const bool declared = std::find(missing.begin(), missing.end(), n.op) != missing.end();
                    std::printf("%-6s %-70s %s\n", label, key.c_str(), declared ? "skipped: the backend declares the op missing" : "FAIL undeclared gap");
                    BOOST_TEST(declared, label << " refuses " << key << " without declaring " << op_name(n.op) << " in missing_ops()");
                    continue;
                }
                const auto inputs = make_inputs(c, g, n, rng);
                const Result r = run_node(*ref, g, n, inputs), t = run_node(test, g, n, inputs);
                bool finite = true;
                double e = 0;
                if (exact) e = r.compared == t.compared ? 0.0 : 1.0;  // bit for bit: 0 or 1
                else
                    for (size_t k = 0; k < r.compared.size(); ++k) e = std::max(e, nmse(r.compared[k], t.compared[k], r.dtypes[k], finite));
                const bool ok = finite && (exact ? e == 0.0 : e <= max_nmse) && r.sentinels && t.sentinels &&
                                r.inputs_unchanged && t.inputs_unchanged;
                std::string why = ok ? "OK" : "FAIL";
                if (!finite) why += " nan/inf";
                if (!r.sentinels || !t.sentinels) why += r.sentinels ? " sentinels(test)" : " sentinels(ref)";
                if (!r.inputs_unchanged || !t.inputs_unchanged) why += " input-modified";
                std::printf("%-6s %-70s NMSE %.3e  %s\n", label, key.c_str(), e, why.c_str());
                BOOST_TEST_MESSAGE(label << " " << key << " NMSE " << e << " " << why);
                BOOST_TEST(ok, label << " " << key << " (case " << c.name << "): NMSE " << e << " " << why);
                ++checked, failed += !ok;
                if (e >= worst) worst = e, worst_at = key;
            }
    };
    for (const OpCase& c : kiln::testing::op_cases())
        for (const auto* shapes : {&c.small, &c.large}) check_graph(c, build(c, *shapes), false);
    for (const QuantCase& q : kiln::testing::quant_cases())
        for (bool large : {false, true}) {
            Graph g(5);
            q.build(g, large);
            check_graph(OpCase{.name = q.name}, g, true);
        }
    std::printf("%s: %d op/shape combinations (int8 ones bit for bit), %d failed, worst NMSE %.3e (%s)\n", label, checked, failed, worst, worst_at.c_str());
    std::fflush(stdout);
}

}  // namespace

// The op table is the authority: every op with a kernel has a reference kernel (and a leaf none),
// and op_cases exercises every one of them (directly, or in a backward pass or optimizer step).
BOOST_AUTO_TEST_CASE(every_op_has_a_reference_kernel_and_a_case) {
    std::set<Op> exercised;
    for (const OpCase& c : kiln::testing::op_cases())
        for (const auto* shapes : {&c.small, &c.large}) {
            const Graph g = build(c, *shapes);
            for (const Node& n : g.nodes()) exercised.insert(n.op);
        }
    for (const QuantCase& q : kiln::testing::quant_cases()) {
        Graph g(5);
        q.build(g, false);
        for (const Node& n : g.nodes()) exercised.insert(n.op);
    }
    for (int i = 0; i < op_count; ++i) {
        const Op op = static_cast<Op>(i);
        if (op_info(op).leaf()) {
            BOOST_TEST(!reference::kernels[i], op_name(op) << " is a leaf but has a reference kernel");
            continue;
        }
        BOOST_TEST(reference::kernels[i], op_name(op) << " has no reference kernel (backend/reference/kernels.cpp)");
        BOOST_TEST(exercised.count(op), op_name(op) << " has no case in test/graph/op_cases.h");
    }
}

BOOST_AUTO_TEST_CASE(cpu_simd_matches_reference) {
    auto fast = make_backend("cpu", {.threads = 2});
    compare_backends(*fast, "cpu");
}

// The CUDA backend's own code (ops.h, kernels.h) run on the CPU by the host executor: what the
// GPU would compute, checked in every CI run.
BOOST_AUTO_TEST_CASE(cuda_code_on_host_matches_reference) {
    kiln::testing::CudaOnHostBackend host;
    compare_backends(host, "cuda-on-host");
}

// On a GPU: the backend's own kernels, then its convolutions through cuDNN (KILN_CUDA_CONV).
BOOST_AUTO_TEST_CASE(cuda_matches_reference) {
    for (const char* conv : {"gemm", "cudnn"}) {
        ::setenv("KILN_CUDA_CONV", conv, 1);
        std::unique_ptr<Backend> cuda;
        try {
            cuda = make_backend("cuda");
        } catch (const std::exception& e) {
            std::printf("skipped the CUDA backend (KILN_CUDA_CONV=%s): %s\n", conv, e.what());
            BOOST_TEST_MESSAGE("skipped the CUDA backend (KILN_CUDA_CONV=" << conv << "): " << e.what());
            continue;
        }
        compare_backends(*cuda, std::string("cuda-").append(conv).c_str());
    }
    ::unsetenv("KILN_CUDA_CONV");
}
