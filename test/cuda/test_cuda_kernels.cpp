// The CUDA backend's code (lib/kiln/backend/cuda/ops.h + kernels.h) compiled with the host
// compiler and run on the CPU through the host executor: its launch geometry, its long sums, and
// whole training runs against the CPU reference. Runs in every CI run; no GPU needed. The op-by-op
// comparison of the same code is in test/backend (test_backend_ops.cpp, "cuda-on-host").
#define BOOST_TEST_MODULE cuda_kernels
#include <boost/test/unit_test.hpp>

#include <vector>

#include "alloc_counter.h"
#include "kiln/core/error.h"
#include "cuda/host_executor.h"
#include "cuda/program_runs.h"
#include "data/precondition.h"
#include "quick.h"

using namespace kiln;
using kiln::testing::CudaOnHostBackend;
using kiln::testing::HostExecutor;

namespace {

struct Count {
    int* hits;
    KILN_HD void operator()(int64_t i) const { ++hits[i]; }
};

struct RegisterCudaOnHost {
    RegisterCudaOnHost() { register_backend("cuda-on-host", kiln::testing::make_cuda_on_host); }
};
BOOST_TEST_GLOBAL_FIXTURE(RegisterCudaOnHost);

}  // namespace

// Every index is visited exactly once, with at most max_blocks blocks (past that, the
// grid-stride loop takes over).
BOOST_AUTO_TEST_CASE(grid_covers_every_index_once) {
    const int64_t big = cuda::Grid::max_blocks * cuda::Grid::threads * 2 + 7;
    for (int64_t n : {int64_t(0), int64_t(1), int64_t(255), int64_t(256), int64_t(257), int64_t(100000), big}) {
        std::vector<int> hits(size_t(n), 0);
        HostExecutor ex;
        ex.each(n, Count{hits.data()});
        const cuda::Grid grid(n);
        BOOST_TEST(grid.blocks <= cuda::Grid::max_blocks);
        BOOST_TEST(grid.blocks * cuda::Grid::threads >= std::min(n, cuda::Grid::max_blocks * cuda::Grid::threads));
        int64_t wrong = 0;
        for (int h : hits) wrong += h != 1;
        BOOST_TEST(wrong == 0, "n = " << n << ": " << wrong << " indices not visited exactly once");
    }
}

// A long sum in chunks: every chunk boundary case, against the same sum in double.
BOOST_AUTO_TEST_CASE(chunked_sums_match_a_double_sum) {
    for (int64_t len : {int64_t(1), cuda::sum_chunk - 1, cuda::sum_chunk, cuda::sum_chunk + 1, int64_t(3 * cuda::sum_chunk + 5)}) {
        const int64_t lanes = 3;
        std::vector<float> x(size_t(lanes * len));
        Generator rng(len);
        for (float& v : x) v = rng.uniform(-1.0f, 1.0f);
        const BnGeom g(Shape{1, lanes, len});
        std::vector<double> partial(size_t(lanes * cuda::chunking(lanes, len).chunks));
        std::vector<float> out(static_cast<size_t>(lanes));
        HostExecutor ex;
        cuda::detail::sum_lanes(ex, lanes, len, cuda::ChannelTerm{g, x.data()}, cuda::StoreScaled{out.data(), 1.0}, partial.data());
        BOOST_TEST(ex.launches == 2);
        for (int64_t c = 0; c < lanes; ++c) {
            double ref = 0;
            for (int64_t t = 0; t < len; ++t) ref += x[size_t(c * len + t)];
            BOOST_TEST(out[size_t(c)] == float(ref), "len " << len << " lane " << c);
        }
    }
}

// The scratch asked for at the compiled batch covers every smaller batch (chunk counts only grow).
BOOST_AUTO_TEST_CASE(scratch_at_the_compiled_batch_bounds_smaller_batches) {
    Attrs a;
    a.conv = {.stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1};
    for (Op op : {Op::conv2d, Op::bn_stats, Op::channel_sum, Op::cross_entropy}) {
        size_t prev = 0;
        for (int64_t n = 1; n <= 64; ++n) {
            KernelCall call{op, &a, {nullptr, DType::f32, Shape{n, 6, 9, 9}}, {}, 2};
            call.in[0].shape = Shape{n, 4, 9, 9};
            call.in[1].shape = Shape{6, 4, 3, 3};
            const size_t s = cuda::scratch_bytes(call);
            BOOST_TEST(s >= prev, op_name(op) << " needs less scratch at batch " << n << " than at " << n - 1);
            prev = s;
        }
    }
}

// The course's models trained for three steps on the CUDA code path and on the CPU reference:
// the same losses, parameters and logits within float rounding.
BOOST_AUTO_TEST_CASE(training_matches_the_cpu_reference) {
    const int steps = kiln::testing::full_or_quick(3, 2, "2 steps at batch 4, not 3 at batch 8");
    const int64_t batch = steps == 3 ? 8 : 4, eval_batch = steps == 3 ? 5 : 3;
    for (const auto& mc : kiln::testing::model_cases()) {
        const auto ref = kiln::testing::run_model(mc, "cpu", steps, batch, eval_batch);
        const auto got = kiln::testing::run_model(mc, "cuda-on-host", steps, batch, eval_batch);
        BOOST_TEST_MESSAGE(mc.model << ": " << got.memory_report);
        BOOST_TEST(got.memory_report.find("on cuda-on-host") != std::string::npos);
        BOOST_REQUIRE(got.losses.size() == ref.losses.size());
        for (size_t i = 0; i < ref.losses.size(); ++i)
            BOOST_TEST(std::fabs(got.losses[i] - ref.losses[i]) <= 1e-4f * std::fabs(ref.losses[i]),
                       mc.model << " loss " << i << ": " << got.losses[i] << " vs " << ref.losses[i]);
        BOOST_TEST(kiln::testing::nmse(got.logits, ref.logits) <= 1e-8, mc.model << " logits: NMSE " << kiln::testing::nmse(got.logits, ref.logits));
        BOOST_REQUIRE(got.state.size() == ref.state.size());
        // A gradient that is zero in exact arithmetic (a conv bias before BatchNorm) is rounding
        // noise on both sides: there only the absolute difference is meaningful.
        for (size_t k = 0; k < ref.state.size(); ++k) {
            const double e = kiln::testing::nmse(got.state[k], ref.state[k]), d = kiln::testing::max_abs_diff(got.state[k], ref.state[k]);
            BOOST_TEST((e <= 1e-8 || d <= 1e-6), mc.model << " " << got.names[k] << ": NMSE " << e << ", max |diff| " << d);
        }
    }
}

// Same seed, same results, bit for bit (every sum in a fixed order). Not a question of memory
// safety, and two resnet_mini runs on the host executor are the slowest case: natively only.
BOOST_AUTO_TEST_CASE(training_is_deterministic, *boost::unit_test::precondition([](boost::unit_test::test_unit_id id) {
                         return run_if(!kiln::testing::quick(), id, "KILN_TEST_QUICK: determinism is checked in the native run");
                     })) {
    const auto mc = kiln::testing::model_cases()[2];  // resnet_mini: BatchNorm statistics
    const auto a = kiln::testing::run_model(mc, "cuda-on-host"), b = kiln::testing::run_model(mc, "cuda-on-host");
    BOOST_TEST(a.losses == b.losses);
    BOOST_TEST(a.logits == b.logits);
    BOOST_TEST(a.state == b.state);
}

// Inputs go through the program's staging buffers (the backend's memory is not host-writable),
// and a training step or an eval call still allocates nothing.
BOOST_AUTO_TEST_CASE(steps_stage_inputs_without_allocating) {
    Graph g(3);
    Value x = g.input("x", {4, 1, 8, 8});
    Value y = g.input("y", {4}, DType::i64);
    Value logits = nn::build_model(g, "tinyvgg", x, 10, 4);
    CompileOptions opt;
    opt.loss = g.cross_entropy(logits, y);
    opt.optimizer = SGD{.lr = 0.1f};
    opt.outputs = {logits};
    opt.backend = "cuda-on-host";
    auto p = compile(g, opt);
    BOOST_TEST(!p->backend().host_accessible());
    float* xs = p->input_data<float>(x);
    int64_t* ys = p->input_data<int64_t>(y);
    for (int i = 0; i < 4 * 64; ++i) xs[i] = float(i % 7) / 7.0f;
    for (int i = 0; i < 4; ++i) ys[i] = i;
    p->train_step(4);
    const long before = kiln::testing::allocations();
    for (int s = 0; s < 5; ++s) p->train_step(4 - s % 2);
    p->forward(2);
    BOOST_TEST(kiln::testing::allocations() == before);
    // A label outside the classes is refused by the call, naming the input.
    const int64_t bad[4] = {0, 1, 10, 2};
    try {
        p->write_input(y, bad, 4);
        p->train_step(4);
        BOOST_FAIL("label 10 was accepted");
    } catch (const Error& e) {
        BOOST_TEST(std::string(e.what()).find("input 'y': label 10 at index 2 is outside 0..9") != std::string::npos, e.what());
    }
}
