// Small helpers for the transforms suite: images written out as lists of numbers, and checks that
// compare a whole image (shape and every value) with a hand-worked one.
#pragma once
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <vector>

#include "transforms/ops.h"

namespace tf = kiln::transforms;

// An H×W×C u8 image from its values in row-major H×W×C order.
inline tf::ImageU8 image(int64_t h, int64_t w, int64_t c, const std::vector<int>& values) {
    std::vector<uint8_t> px(values.begin(), values.end());
    return tf::ImageU8(h, w, c, std::move(px));
}

inline std::vector<int> values_of(const tf::ImageU8& img) { return std::vector<int>(img.px.begin(), img.px.end()); }

// Runs op(in, out) and returns out.
template <class Op>
tf::ImageU8 apply(const tf::ImageU8& in, Op op) {
    tf::ImageU8 out;
    op(in, out);
    return out;
}

#define CHECK_IMAGE(img, H, W, C, ...)                                                     \
    do {                                                                                   \
        const tf::ImageU8& checked_ = (img);                                               \
        BOOST_TEST(checked_.h == (H));                                                     \
        BOOST_TEST(checked_.w == (W));                                                     \
        BOOST_TEST(checked_.c == (C));                                                     \
        BOOST_TEST(values_of(checked_) == (std::vector<int>__VA_ARGS__), boost::test_tools::per_element()); \
    } while (0)
