#define BOOST_TEST_MODULE core
#include <boost/test/unit_test.hpp>

#include <set>

#include "kiln/core/error.h"
#include "kiln/core/rng.h"
#include "kiln/core/shape.h"
#include "kiln/core/thread_pool.h"

using namespace kiln;

BOOST_AUTO_TEST_CASE(broadcast_follows_numpy_rules) {
    BOOST_TEST(broadcast_shapes({8, 1, 6, 1}, {7, 1, 5}, "t").str() == "[8, 7, 6, 5]");
    BOOST_TEST(broadcast_shapes({5, 4}, {1}, "t").str() == "[5, 4]");
    try {
        broadcast_shapes({3, 4}, {5, 4}, "add");
        BOOST_FAIL("expected an error");
    } catch (const Error& e) {
        BOOST_TEST(e.code() == Errc::shape_mismatch);
        BOOST_TEST(std::string(e.what()) == "add: shapes [3, 4] and [5, 4] cannot be broadcast together");
    }
}

BOOST_AUTO_TEST_CASE(shape_rejects_too_many_dims_and_bad_axes) {
    BOOST_CHECK_THROW((Shape{1, 2, 3, 4, 5, 6, 7}), Error);
    Shape s{2, 3};
    BOOST_TEST(s.axis(-1, "sum") == 1);
    BOOST_CHECK_THROW(s.axis(2, "sum"), Error);
}

BOOST_AUTO_TEST_CASE(generator_is_seeded_and_restorable) {
    Generator a(42), b(42), c(43);
    float fa = a.uniform();
    BOOST_TEST(fa == b.uniform());
    BOOST_TEST(fa != c.uniform());
    auto st = a.get_state();
    float next = a.uniform();
    a.set_state(st);
    BOOST_TEST(a.uniform() == next);
    // Uniform mean and normal moments within loose statistical bounds (n = 100000).
    double sum = 0, sq = 0;
    for (int i = 0; i < 100000; ++i) {
        double z = a.normal();
        sum += z, sq += z * z;
    }
    BOOST_TEST(std::abs(sum / 1e5) < 0.02);
    BOOST_TEST(std::abs(sq / 1e5 - 1.0) < 0.02);
}

BOOST_AUTO_TEST_CASE(thread_pool_covers_range_once) {
    ThreadPool pool(3);
    std::vector<int> hits(1000, 0);
    pool.parallel_for(1000, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[i]++;
    });
    for (int h : hits) BOOST_TEST(h == 1);
    std::set<int> seen;
    std::mutex m;
    pool.run([&](int t) { std::lock_guard<std::mutex> l(m); seen.insert(t); });
    BOOST_TEST(seen.size() == 3u);
}
