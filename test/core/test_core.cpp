#define BOOST_TEST_MODULE core
#include <boost/test/unit_test.hpp>

#include <set>

#include "kiln/core/error.h"
#include "kiln/core/limits.h"
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

BOOST_AUTO_TEST_CASE(numel_saturates_instead_of_overflowing) {
    BOOST_TEST((Shape{1 << 20, 1 << 20, 1 << 20, 1 << 20}.numel()) == INT64_MAX);
    BOOST_TEST((Shape{INT64_MAX, 2}.numel()) == INT64_MAX);
    BOOST_TEST((Shape{3, 0, INT64_MAX}.numel()) == 0);
    BOOST_TEST((Shape{6, 7}.numel()) == 42);
}

BOOST_AUTO_TEST_CASE(checked_numel_refuses_sizes_past_the_limits) {
    BOOST_TEST(limits::checked_numel({2, 3, 4}, "t") == 24);
    BOOST_TEST(limits::checked_numel({0, 5}, "t", limits::tensor_elements, /*allow_empty=*/true) == 0);
    auto message = [](const Shape& s, int64_t max = limits::tensor_elements) {
        try {
            limits::checked_numel(s, "weight 'w'", max);
        } catch (const Error& e) {
            BOOST_TEST(e.code() == Errc::invalid_argument);
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    BOOST_TEST(message({2, 0}) == "weight 'w': dimension 1 of shape [2, 0] is outside 1..2,147,483,647");
    BOOST_TEST(message({4294967297, 1}) == "weight 'w': dimension 0 of shape [4294967297, 1] is outside 1..2,147,483,647");
    BOOST_TEST(message({-3}) == "weight 'w': dimension 0 of shape [-3] is outside 1..2,147,483,647");
    // Each side fits, the product does not (and would overflow int64 unchecked).
    BOOST_TEST(message({2147483647, 2147483647, 2147483647}) ==
               "weight 'w': shape [2147483647, 2147483647, 2147483647] has more than 68,719,476,736 elements, kiln's limit");
    BOOST_TEST(message({10, 11}, 100) == "weight 'w': shape [10, 11] has more than 100 elements, kiln's limit");
    BOOST_TEST(limits::with_commas(0) == "0");
    BOOST_TEST(limits::with_commas(999) == "999");
    BOOST_TEST(limits::with_commas(1000) == "1,000");
    BOOST_TEST(limits::with_commas(-1234567) == "-1,234,567");
    BOOST_TEST(limits::with_commas(INT64_MIN) == "-9,223,372,036,854,775,808");
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
