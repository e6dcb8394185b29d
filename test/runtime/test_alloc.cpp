// After compile, training steps and inference calls make no heap allocation: every global
// operator new in this binary is counted, and the count must not move while the program runs.
#define BOOST_TEST_MODULE alloc
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>

#include "alloc_counter.h"
#include "quick.h"
#include "kiln/runtime/program.h"

using kiln::testing::allocations;

using namespace kiln;

BOOST_AUTO_TEST_CASE(counter_sees_allocations) {
    long before = allocations();
    auto* v = new std::vector<int>(100);
    delete v;
    BOOST_TEST(allocations() - before >= 2);
}

BOOST_AUTO_TEST_CASE(training_and_inference_allocate_nothing_after_compile) {
    const int64_t batch = 64;
    Graph g(1);
    auto x = g.input("x", {batch, 784});
    auto y = g.input("y", {batch}, DType::i64);
    std::vector<float> w1(128 * 784, 0.01f), b1(128, 0.0f), w2(10 * 128, 0.01f), b2(10, 0.0f);
    auto h = g.relu(g.add(g.matmul(x, g.param("fc1.weight", {128, 784}, w1), false, true), g.param("fc1.bias", {128}, b1)));
    h = g.dropout(h, 0.2f);
    auto logits = g.add(g.matmul(h, g.param("fc2.weight", {10, 128}, w2), false, true), g.param("fc2.bias", {10}, b2));
    auto probs = g.softmax(logits);
    auto loss = g.cross_entropy(logits, y);

    for (bool adam : {false, true}) {
        CompileOptions o;
        o.loss = loss;
        o.outputs = {logits, probs};
        if (adam) o.optimizer = AdamW{};
        else o.optimizer = SGD{.lr = 0.01f, .momentum = 0.9f, .nesterov = true};
        o.backend_options.threads = 2;
        auto p = compile(g, o);

        std::vector<float> xs(batch * 784);
        std::vector<int64_t> ys(batch);
        for (size_t i = 0; i < xs.size(); ++i) xs[i] = float(i % 255) / 255.0f;
        for (int64_t i = 0; i < batch; ++i) ys[i] = i % 10;
        std::vector<float> out(batch * 10);

        const int steps = kiln::testing::full_or_quick(100, 10, "10 steps and 100 calls, not 100 and 1000");
        const int calls = 10 * steps;
        const long before = allocations();
        float total = 0;
        for (int step = 0; step < steps; ++step) {
            p->write_input(x, xs.data(), batch - step % 3);  // the last batch of an epoch is smaller
            p->write_input(y, ys.data(), batch - step % 3);
            p->set_lr(0.01f * (1.0f - step / 200.0f));
            total += p->train_step(batch - step % 3);
        }
        for (int call = 0; call < calls; ++call) {  // a call consumes its inputs: write them again
            p->write_input(x, xs.data(), 1 + call % batch);
            p->write_input(y, ys.data(), 1 + call % batch);
            p->input_data<float>(x)[0] = float(call);
            p->forward(1 + call % batch);
            p->read(probs, out.data());
        }
        const long during = allocations() - before;
        BOOST_TEST(during == 0, (adam ? "AdamW" : "SGD") << ": " << during << " allocations in " << steps << " steps + " << calls << " calls");
        BOOST_TEST(std::isfinite(total));
    }
}

BOOST_AUTO_TEST_CASE(cnn_training_and_inference_allocate_nothing_after_compile) {
    // Conv (im2col scratch) → BatchNorm (running statistics) → ReLU → MaxPool → AvgPool →
    // residual add → global pool → Linear: every vision op's forward and backward.
    const int64_t batch = 16;
    Graph g(2);
    auto x = g.input("x", {batch, 1, 12, 12});
    auto y = g.input("y", {batch}, DType::i64);
    auto c1 = g.conv2d(x, g.param("c1.weight", {4, 1, 3, 3}, std::vector<float>(36, 0.1f)), g.param("c1.bias", {4}, {0, 0, 0, 0}),
                       {.pad_h = 1, .pad_w = 1});
    auto count = g.buffer("bn.num_batches_tracked", Shape{}, DType::i64, {});
    auto bn = g.batch_norm(c1, g.param("bn.weight", {4}, {1, 1, 1, 1}), g.param("bn.bias", {4}, {0, 0, 0, 0}),
                           g.buffer("bn.running_mean", {4}, DType::f32, {}), g.buffer("bn.running_var", {4}, DType::f32, {}), count);
    auto h = g.max_pool2d(g.relu(bn), {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2});
    h = g.add(h, g.avg_pool2d(h, {.kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1}));
    auto logits = g.add(g.matmul(g.global_avg_pool2d(h), g.param("fc.weight", {3, 4}, std::vector<float>(12, 0.1f)), false, true),
                        g.param("fc.bias", {3}, {0, 0, 0}));
    CompileOptions o;
    o.loss = g.cross_entropy(logits, y);
    o.outputs = {logits};
    o.optimizer = SGD{.lr = 0.01f, .momentum = 0.9f};
    o.backend_options.threads = 2;
    auto p = compile(g, o);

    std::vector<float> xs(batch * 144), out(batch * 3);
    std::vector<int64_t> ys(batch);
    for (size_t i = 0; i < xs.size(); ++i) xs[i] = float(i % 17) / 17.0f;
    for (int64_t i = 0; i < batch; ++i) ys[i] = i % 3;
    const int steps = kiln::testing::full_or_quick(100, 10, "10 steps and 100 calls, not 100 and 1000");
    const int calls = 10 * steps;
    const long before = allocations();
    float total = 0;
    for (int step = 0; step < steps; ++step) {
        p->write_input(x, xs.data(), batch - step % 3);
        p->write_input(y, ys.data(), batch - step % 3);
        total += p->train_step(batch - step % 3);
    }
    for (int call = 0; call < calls; ++call) {  // a call consumes its inputs: write them again
        p->write_input(x, xs.data(), 1 + call % batch);
        p->write_input(y, ys.data(), 1 + call % batch);
        p->forward(1 + call % batch);
        p->read(logits, out.data());
    }
    const long during = allocations() - before;
    BOOST_TEST(during == 0, during << " allocations in " << steps << " CNN steps + " << calls << " calls");
    BOOST_TEST(std::isfinite(total));
}
