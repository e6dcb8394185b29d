// The course's synthetic data sets (data/synthetic.h).
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cmath>

#include "kiln/core/error.h"
#include "kiln/data/synthetic.h"

using namespace kiln;

BOOST_AUTO_TEST_CASE(line_is_the_courses_fifty_points) {
    data::Regression d = data::make_line();
    BOOST_TEST(d.size() == 50);
    BOOST_TEST(d.n_features == 1);
    BOOST_TEST(d.x[0] == 0.0f);
    BOOST_TEST(d.x[49] == 0.98f);
    // Two roundings, as torch's weight * X + bias (volatile: never fused into one FMA).
    for (int64_t i = 0; i < d.size(); ++i) {
        const volatile float product = 0.7f * d.x[i];
        BOOST_TEST(d.y[i] == product + 0.3f);
    }

    // Unshuffled 80/20: the first 40 train, the last 10 test.
    auto [train, test] = data::train_test_split(d, 0.2, 0, /*shuffle=*/false);
    BOOST_TEST(train.size() == 40);
    BOOST_TEST(test.size() == 10);
    BOOST_TEST(test.x.front() == d.x[40]);
    BOOST_TEST(train.y.back() == d.y[39]);
}

BOOST_AUTO_TEST_CASE(circles_have_two_radii_balanced_labels_and_noise) {
    data::Classification d = data::make_circles(1000, 0.03f, 0.8f, 42);
    BOOST_TEST(d.size() == 1000);
    BOOST_TEST(d.n_features == 2);
    double sum_r[2] = {}, sum_r2[2] = {};
    int64_t count[2] = {};
    for (int64_t i = 0; i < d.size(); ++i) {
        int64_t c = d.y[i];
        BOOST_REQUIRE((c == 0 || c == 1));
        double r = std::hypot(d.x[2 * i], d.x[2 * i + 1]);
        sum_r[c] += r, sum_r2[c] += r * r, count[c]++;
    }
    BOOST_TEST(count[0] == 500);
    BOOST_TEST(count[1] == 500);
    // Outer circle radius 1, inner 0.8; noise 0.03 per coordinate spreads the radius by ~0.03.
    for (int c = 0; c < 2; ++c) {
        double mean = sum_r[c] / count[c], sd = std::sqrt(sum_r2[c] / count[c] - mean * mean);
        BOOST_TEST(mean == (c == 0 ? 1.0 : 0.8), boost::test_tools::tolerance(0.01));
        BOOST_TEST(sd > 0.02);
        BOOST_TEST(sd < 0.04);
    }
    // Shuffled: the labels are not in two runs.
    BOOST_TEST(!std::is_sorted(d.y.begin(), d.y.end()));
    // Seeded: same seed, same data; another seed, other data.
    BOOST_TEST(data::make_circles(1000, 0.03f, 0.8f, 42).x == d.x);
    BOOST_TEST(data::make_circles(1000, 0.03f, 0.8f, 43).x != d.x);
    // An odd count puts the extra point on the inner circle, as scikit-learn does.
    auto odd = data::make_circles(5, 0.0f);
    BOOST_TEST(std::count(odd.y.begin(), odd.y.end(), 1) == 3);
    BOOST_CHECK_THROW(data::make_circles(10, 0.03f, 1.0f), Error);
}

BOOST_AUTO_TEST_CASE(blobs_are_gaussian_clusters_of_the_given_spread) {
    data::Classification d = data::make_blobs(1000, 2, 4, 1.5f, {-10.0f, 10.0f}, 42);
    BOOST_TEST(d.size() == 1000);
    double sum[4][2] = {}, sq[4][2] = {};
    int64_t count[4] = {};
    for (int64_t i = 0; i < d.size(); ++i) {
        int64_t c = d.y[i];
        BOOST_REQUIRE((c >= 0 && c < 4));
        count[c]++;
        for (int f = 0; f < 2; ++f) sum[c][f] += d.x[2 * i + f], sq[c][f] += d.x[2 * i + f] * d.x[2 * i + f];
    }
    for (int c = 0; c < 4; ++c) {
        BOOST_TEST(count[c] == 250);
        for (int f = 0; f < 2; ++f) {
            double mean = sum[c][f] / 250, sd = std::sqrt(sq[c][f] / 250 - mean * mean);
            BOOST_TEST(std::abs(mean) < 10.5);  // centres lie in the box
            BOOST_TEST(sd == 1.5, boost::test_tools::tolerance(0.15));
        }
    }
    BOOST_TEST(!std::is_sorted(d.y.begin(), d.y.end()));
    BOOST_TEST(data::make_blobs(1000, 2, 4, 1.5f, {-10.0f, 10.0f}, 42).x == d.x);
    // 10 samples over 4 centres: 3, 3, 2, 2.
    auto uneven = data::make_blobs(10, 3, 4);
    BOOST_TEST(uneven.x.size() == 30u);
    BOOST_TEST(std::count(uneven.y.begin(), uneven.y.end(), 0) == 3);
    BOOST_TEST(std::count(uneven.y.begin(), uneven.y.end(), 3) == 2);
    BOOST_CHECK_THROW(data::make_blobs(10, 2, 0), Error);
}

BOOST_AUTO_TEST_CASE(split_is_seeded_and_partitions_the_samples) {
    data::Classification d;
    d.n_features = 2;
    for (int64_t i = 0; i < 101; ++i) d.x.push_back(float(i)), d.x.push_back(float(-i)), d.y.push_back(i);
    auto [train, test] = data::train_test_split(d, 0.2, 7);
    BOOST_TEST(test.size() == 21);  // ceil(0.2 · 101), as scikit-learn
    BOOST_TEST(train.size() == 80);
    // Every sample lands in exactly one part, its features still beside its target.
    std::vector<int64_t> all = train.y;
    all.insert(all.end(), test.y.begin(), test.y.end());
    std::sort(all.begin(), all.end());
    for (int64_t i = 0; i < 101; ++i) BOOST_TEST(all[i] == i);
    for (int64_t i = 0; i < test.size(); ++i) BOOST_TEST(test.x[2 * i] == float(test.y[i]));
    BOOST_TEST(!std::is_sorted(train.y.begin(), train.y.end()));
    BOOST_TEST(data::train_test_split(d, 0.2, 7).second.y == test.y);
    BOOST_TEST(data::train_test_split(d, 0.2, 8).second.y != test.y);
    BOOST_CHECK_THROW(data::train_test_split(d, 1.0), Error);
    data::Classification one{2, {1, 2}, {0}};
    BOOST_CHECK_THROW(data::train_test_split(one, 0.2), Error);  // nothing left to train on
}
