// DataLoader: coverage of every index per epoch, order and bits independent of the worker count,
// drop_last, shapes, skipping, prefetch bound, random_split, and no heap allocation once running
// (every global operator new in this binary is counted, as test/graph/test_alloc.cpp does).
#define BOOST_TEST_MODULE data_loader
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <numeric>
#include <thread>

#include "alloc_counter.h"
#include "data/test_plugins.h"
#include "kiln/data/dataloader.h"
#include "kiln/data/plugin_registry.h"
#include "error_of.h"

using kiln::testing::allocations;

using namespace kiln;
using kiln::testing::error_of;
using namespace kiln::data;
using test_plugins::pattern_pixel;

namespace {

PluginRegistry& plugins() {
    static PluginRegistry r(std::vector<std::string>{KILN_TEST_PLUGIN_DIR});
    static const bool added = (r.add(test_plugins::plugin, "test"), true);
    (void)added;
    return r;
}

DataLoaderOptions options(int64_t batch, int workers, bool shuffle = false, uint64_t seed = 0) {
    DataLoaderOptions o;
    o.batch_size = batch, o.workers = workers, o.shuffle = shuffle, o.seed = seed;
    return o;
}

// Everything one epoch delivers, concatenated.
struct Epoch {
    std::vector<float> x;
    std::vector<int64_t> labels, indices, sizes;
};

Epoch read_epoch(DataLoader& loader) {
    Epoch e;
    while (const Batch* b = loader.next()) {
        e.x.insert(e.x.end(), b->x, b->x + b->size * loader.sample_shape().numel());
        e.labels.insert(e.labels.end(), b->labels, b->labels + b->size);
        e.indices.insert(e.indices.end(), b->indices, b->indices + b->size);
        e.sizes.push_back(b->size);
    }
    return e;
}

bool same_bits(const Epoch& a, const Epoch& b) {
    return a.x.size() == b.x.size() && std::memcmp(a.x.data(), b.x.data(), a.x.size() * sizeof(float)) == 0 &&
           a.labels == b.labels && a.indices == b.indices && a.sizes == b.sizes;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_index_once_per_epoch_with_exact_values) {
    for (int workers : {0, 1, 2}) {
        DataLoader loader(plugins().open_dataset("pattern:n=103,h=2,w=3,c=1"), {}, options(10, workers, true, 7));
        BOOST_TEST(loader.num_batches() == 11);
        BOOST_TEST(loader.batch_shape().str() == "[10, 1, 2, 3]");
        for (int64_t epoch = 0; epoch < 2; ++epoch) {
            loader.set_epoch(epoch);
            Epoch e = read_epoch(loader);
            BOOST_TEST(e.sizes.size() == 11u);
            BOOST_TEST(e.sizes.back() == 3);  // the last batch is smaller
            std::vector<int64_t> sorted = e.indices, all(103);
            std::sort(sorted.begin(), sorted.end());
            std::iota(all.begin(), all.end(), 0);
            BOOST_TEST(sorted == all, boost::test_tools::per_element());
            BOOST_TEST(e.indices != all);  // shuffled
            for (size_t k = 0; k < e.indices.size(); ++k) {
                const int64_t i = e.indices[k];
                BOOST_TEST(e.labels[k] == i % 10);
                for (int64_t y = 0; y < 2; ++y)
                    for (int64_t x = 0; x < 3; ++x)
                        BOOST_TEST(e.x[k * 6 + size_t(y * 3 + x)] == float(pattern_pixel(i, y, x, 0)) / 255.0f);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(rgb_images_become_chw) {
    DataLoader loader(plugins().open_dataset("pattern:n=4,h=2,w=2,c=3"), {}, options(4, 1));
    BOOST_TEST(loader.sample_shape().str() == "[3, 2, 2]");
    const Batch* b = loader.next();
    BOOST_TEST_REQUIRE(b != nullptr);
    // sample 2, channel 1, y 1, x 0
    BOOST_TEST(b->x[2 * 12 + 1 * 4 + 1 * 2 + 0] == float(pattern_pixel(2, 1, 0, 1)) / 255.0f);
}

BOOST_AUTO_TEST_CASE(same_batches_whatever_the_workers_and_across_runs) {
    auto epochs = [](int workers, int prefetch) {
        DataLoaderOptions o = options(16, workers, true, 42);
        o.prefetch = prefetch;
        DataLoader loader(plugins().open_dataset("pattern:n=200,h=3,w=3,c=1"), plugins().pipeline("seed_byte;add=3"), o);
        std::vector<Epoch> out;
        for (int64_t e : {0, 1, 2}) {
            loader.set_epoch(e);
            out.push_back(read_epoch(loader));
        }
        loader.set_epoch(1);  // back to an earlier epoch: the same batches again
        out.push_back(read_epoch(loader));
        return out;
    };
    const auto ref = epochs(0, 1);
    BOOST_TEST(same_bits(ref[3], ref[1]));
    BOOST_TEST(ref[0].indices != ref[1].indices);  // each epoch has its own order
    for (auto [workers, prefetch] : std::vector<std::pair<int, int>>{{1, 1}, {2, 3}, {2, 1}, {3, 4}, {0, 1}}) {
        const auto got = epochs(workers, prefetch);
        for (size_t e = 0; e < ref.size(); ++e) BOOST_TEST(same_bits(got[e], ref[e]), "workers " << workers << " epoch " << e);
    }
    // Augmentation draws from (seed, epoch, index): sample 5's pixel (0, 0) in epoch 1.
    const Epoch& e1 = ref[1];
    const size_t at = size_t(std::find(e1.indices.begin(), e1.indices.end(), 5) - e1.indices.begin());
    const uint64_t s = sample_seed(42, 1, 5);
    const int want = int((pattern_pixel(5, 0, 0, 0) + (step_seed(s, 0) & 0xFF) + 3) & 0xFF);
    BOOST_TEST(e1.x[at * 9] == float(want) / 255.0f);
}

BOOST_AUTO_TEST_CASE(without_shuffle_the_order_is_the_dataset_order) {
    DataLoader loader(plugins().open_dataset("pattern:n=25"), {}, options(10, 2));
    Epoch e = read_epoch(loader);
    std::vector<int64_t> all(25);
    std::iota(all.begin(), all.end(), 0);
    BOOST_TEST(e.indices == all, boost::test_tools::per_element());
    BOOST_TEST(e.sizes == (std::vector<int64_t>{10, 10, 5}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(drop_last) {
    DataLoaderOptions o = options(10, 2, true, 1);
    o.drop_last = true;
    DataLoader loader(plugins().open_dataset("pattern:n=103"), {}, o);
    BOOST_TEST(loader.num_batches() == 10);
    Epoch e = read_epoch(loader);
    BOOST_TEST(e.sizes == std::vector<int64_t>(10, 10), boost::test_tools::per_element());
    BOOST_TEST(e.indices.size() == 100u);
    o.batch_size = 200;  // more than the data: no batch at all
    DataLoader none(plugins().open_dataset("pattern:n=103"), {}, o);
    BOOST_TEST(none.num_batches() == 0);
    BOOST_TEST(none.next() == nullptr);
}

BOOST_AUTO_TEST_CASE(epoch_boundaries_and_set_epoch) {
    DataLoader loader(plugins().open_dataset("pattern:n=6"), {}, options(4, 2, true, 3));
    BOOST_TEST(loader.epoch() == 0);
    // Reading on past the end: one nullptr, then the next epoch (prefetched across the boundary).
    BOOST_TEST(loader.next() != nullptr);
    BOOST_TEST(loader.next() != nullptr);
    BOOST_TEST(loader.next() == nullptr);
    BOOST_TEST(loader.epoch() == 1);
    const Batch* b = loader.next();
    BOOST_TEST_REQUIRE(b != nullptr);
    BOOST_TEST(b->epoch == 1);
    BOOST_TEST(b->number == 0);
    std::vector<int64_t> first(b->indices, b->indices + b->size);
    // Jumping back in the middle of an epoch drops the prefetched work.
    loader.set_epoch(1);
    b = loader.next();
    BOOST_TEST(std::vector<int64_t>(b->indices, b->indices + b->size) == first, boost::test_tools::per_element());
    BOOST_TEST(loader.next()->number == 1);
    loader.set_epoch(2);  // at the end of epoch 1 without having seen the nullptr: straight on
    BOOST_TEST(loader.next()->epoch == 2);
}

BOOST_AUTO_TEST_CASE(subset_of_indices) {
    DataLoaderOptions o = options(4, 2);
    o.indices = {9, 3, 5};
    DataLoader loader(plugins().open_dataset("pattern:n=10"), {}, o);
    BOOST_TEST(loader.size() == 3);
    Epoch e = read_epoch(loader);
    BOOST_TEST(e.indices == (std::vector<int64_t>{9, 3, 5}), boost::test_tools::per_element());
    o.indices = {10};
    BOOST_TEST(error_of([&] { DataLoader(plugins().open_dataset("pattern:n=10"), {}, o); }) ==
               "DataLoader: index 10 is outside pattern:n=10's 10 samples");
}

BOOST_AUTO_TEST_CASE(a_sample_of_another_shape_is_named) {
    for (int workers : {0, 2}) {
        DataLoader loader(plugins().open_dataset("pattern:n=40,h=4,w=4,wide=17"), {}, options(8, workers));
        BOOST_TEST(loader.next() != nullptr);
        BOOST_TEST(loader.next() != nullptr);
        std::string msg = error_of([&] { loader.next(); });
        BOOST_TEST(msg == "sample 17 of pattern:n=40,h=4,w=4,wide=17 has shape [1, 4, 5] after the pipeline, the batch "
                          "needs [1, 4, 4] (the first sample's); add resize/center_crop to the pipeline");
        BOOST_TEST(loader.next()->number == 3);  // the loader goes on with the next batch
    }
}

BOOST_AUTO_TEST_CASE(bad_samples_stop_or_are_skipped_and_counted) {
    // Stop (the default without on_error=skip): the error names the sample's file.
    DataLoader stop(plugins().open_dataset("pattern:n=20,bad=5"), {}, options(8, 2));
    std::string msg = error_of([&] { stop.next(); });
    BOOST_TEST(msg == "pattern: /data/sample5.png: corrupt data (sample 5)");

    for (int workers : {0, 2}) {
        std::vector<std::string> warnings;
        DataLoaderOptions o = options(8, workers);
        o.warn = [&](const std::string& m) { warnings.push_back(m); };
        DataLoader skip(plugins().open_dataset("pattern:n=20,bad=5:17:6,on_error=skip"), {}, o);
        Epoch e = read_epoch(skip);
        BOOST_TEST(e.sizes == (std::vector<int64_t>{6, 8, 3}), boost::test_tools::per_element());
        BOOST_TEST(e.indices.size() == 17u);
        BOOST_TEST(std::count(e.indices.begin(), e.indices.end(), 5) == 0);
        BOOST_TEST(e.labels[5] == 7);  // the batch closes up: index 7 moved to position 5
        BOOST_TEST(skip.skipped() == 3);
        BOOST_TEST_REQUIRE(warnings.size() == 3u);
        BOOST_TEST(warnings[0] == "skipped sample 5: pattern: /data/sample5.png: corrupt data");
        BOOST_TEST(warnings[1] == "skipped sample 6: pattern: /data/sample6.png: corrupt data");
    }
    // An i/o error is never skipped.
    DataLoaderOptions o = options(8, 2);
    o.on_bad_sample = OnBadSample::skip;
    DataLoader io(plugins().open_dataset("pattern:n=20,io=3"), {}, o);
    BOOST_TEST(error_of([&] { io.next(); }) == "pattern: /data/sample3.png: cannot open (sample 3)");
    // A batch of only bad samples is passed over.
    o.warn = [](const std::string&) {};
    o.batch_size = 2;
    DataLoader all_bad(plugins().open_dataset("pattern:n=6,bad=2:3"), {}, o);
    Epoch e = read_epoch(all_bad);
    BOOST_TEST(e.indices == (std::vector<int64_t>{0, 1, 4, 5}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(pipeline_errors_surface_at_construction) {
    std::string msg = error_of([&] { DataLoader(plugins().open_dataset("pattern:n=5"), plugins().pipeline("fail"), {}); });
    BOOST_TEST(msg == "sample 0 of pattern:n=5: fail: asked to fail");
    DataLoaderOptions o;
    o.batch_size = 0;
    BOOST_TEST(error_of([&] { DataLoader(plugins().open_dataset("pattern:n=5"), {}, o); }) ==
               "DataLoader: batch_size must be at least 1, not 0");
}

BOOST_AUTO_TEST_CASE(regression_targets) {
    DataLoader loader(plugins().open_dataset("pattern:n=5,classes=0"), {}, options(5, 2));
    const Batch* b = loader.next();
    BOOST_TEST_REQUIRE(b->targets != nullptr);
    for (int64_t k = 0; k < 5; ++k) BOOST_TEST(b->targets[k] == float(k) / 2.0f);
    DataLoader classes(plugins().open_dataset("pattern:n=5"), {}, options(5, 2));
    BOOST_TEST(classes.next()->targets == nullptr);
}

BOOST_AUTO_TEST_CASE(next_into_caller_memory) {
    for (int workers : {0, 2}) {
        DataLoaderOptions o = options(8, workers, true, 9);
        o.warn = [](const std::string&) {};
        DataLoader a(plugins().open_dataset("pattern:n=30,bad=4,on_error=skip"), plugins().pipeline("seed_byte"), o);
        DataLoader b(plugins().open_dataset("pattern:n=30,bad=4,on_error=skip"), plugins().pipeline("seed_byte"), o);
        std::vector<float> x(size_t(a.batch_shape().numel()), -1.0f);
        std::vector<int64_t> y(8, -1);
        int64_t total = 0;
        while (const Batch* want = a.next()) {
            const int64_t n = b.next_into(x.data(), y.data());
            BOOST_TEST_REQUIRE(n == want->size);
            BOOST_TEST(std::memcmp(x.data(), want->x, size_t(n * 16) * sizeof(float)) == 0);
            BOOST_TEST(std::equal(y.begin(), y.begin() + n, want->labels));
            total += n;
        }
        BOOST_TEST(b.next_into(x.data(), y.data()) == 0);  // the end of the epoch for both
        BOOST_TEST(total == 29);
    }
}

BOOST_AUTO_TEST_CASE(prefetch_stays_bounded) {
    DataLoaderOptions o = options(4, 2);
    o.prefetch = 3;
    const int64_t start = test_plugins::pattern_gets.load() + 1;  // + the constructor's shape probe
    DataLoader loader(plugins().open_dataset("pattern:n=400"), {}, o);
    auto wait_for = [&](int64_t gets) {
        for (int i = 0; i < 2000 && test_plugins::pattern_gets.load() - start < gets; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // would it go further?
        return test_plugins::pattern_gets.load() - start;
    };
    BOOST_TEST(wait_for(12) == 12);  // 3 batches of 4 ahead, nothing more
    loader.next();
    BOOST_TEST(wait_for(16) == 16);  // one handed out: one more batch
    loader.next();
    loader.next();
    BOOST_TEST(wait_for(24) == 24);
}

BOOST_AUTO_TEST_CASE(steady_state_iteration_allocates_nothing) {
    BOOST_TEST(allocations() > 0);  // the counter sees this binary's allocations
    for (int workers : {0, 2}) {
        DataLoaderOptions o = options(16, workers, true, 5);
        DataLoader loader(plugins().open_dataset("pattern:n=250,h=8,w=8,c=3"), plugins().pipeline("seed_byte;widen;add=1"), o);
        std::vector<float> x(size_t(loader.batch_shape().numel()));
        std::vector<int64_t> y(16);
        loader.set_epoch(0);
        read_epoch(loader);  // warm-up: scratch buffers reach their size
        const long before = allocations();
        float sum = 0;
        for (int64_t epoch = 1; epoch <= 3; ++epoch) {
            loader.set_epoch(epoch);
            while (const Batch* b = loader.next()) sum += b->x[0];
        }
        loader.set_epoch(1);  // a reset mid-stream
        while (int64_t n = loader.next_into(x.data(), y.data())) sum += x[size_t(n - 1)];
        BOOST_TEST(allocations() - before == 0, "workers " << workers << ": " << allocations() - before
                                                               << " allocations");
        BOOST_TEST(sum > 0);
    }
}

BOOST_AUTO_TEST_CASE(random_split_sizes_and_reproducibility) {
    auto parts = random_split(100, {0.8, 0.2}, 42);
    BOOST_TEST_REQUIRE(parts.size() == 2u);
    BOOST_TEST(parts[0].size() == 80u);
    BOOST_TEST(parts[1].size() == 20u);
    std::vector<int64_t> all = parts[0];
    all.insert(all.end(), parts[1].begin(), parts[1].end());
    std::sort(all.begin(), all.end());
    std::vector<int64_t> want(100);
    std::iota(want.begin(), want.end(), 0);
    BOOST_TEST(all == want, boost::test_tools::per_element());
    BOOST_TEST(random_split(100, {0.8, 0.2}, 42) == parts);  // the same split every run
    BOOST_TEST(random_split(100, {0.8, 0.2}, 43) != parts);
    // The first parts of the same permutation whether given as fractions or lengths.
    BOOST_TEST(random_split(100, {80, 20}, 42) == parts);
    const std::vector<int64_t> perm = random_permutation(100, 42);
    BOOST_TEST(perm != want);
    BOOST_TEST(std::vector<int64_t>(perm.begin(), perm.begin() + 80) == parts[0]);
    // torch's rounding: floor(n·f), the remainder one by one to the first parts.
    auto thirds = random_split(10, {0.33, 0.33, 0.34}, 0);
    BOOST_TEST(thirds[0].size() == 4u);
    BOOST_TEST(thirds[1].size() == 3u);
    BOOST_TEST(thirds[2].size() == 3u);
    BOOST_TEST(error_of([] { random_split(10, {7, 2}, 0); }) ==
               "random_split: the lengths sum to 9, not to the 10 samples (or give fractions summing to 1)");
    BOOST_TEST(error_of([] { random_split(10, {2.5, 7.5}, 0); }) ==
               "random_split: 2.500000 is neither a whole length nor part of fractions summing to 1");
}
