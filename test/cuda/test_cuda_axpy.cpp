// The CUDA backend's KILN_HD arithmetic compiled by g++: the kernel in module.cu runs exactly this.
#define BOOST_TEST_MODULE cuda
#include <boost/test/unit_test.hpp>

#include <limits>

#include "kiln/backend/cuda/axpy.h"

using kiln::cuda::axpy;

BOOST_AUTO_TEST_CASE(axpy_matches_hand_computed_values) {
    // Exactly representable operands, so a fused and an unfused a*x + y agree bit for bit.
    BOOST_TEST(axpy(2.0f, 1.5f, 0.25f) == 3.25f);
    BOOST_TEST(axpy(0.5f, -48.0f, 3.0f) == -21.0f);
    BOOST_TEST(axpy(-3.0f, 0.125f, 1.0f) == 0.625f);
    BOOST_TEST(axpy(0.0f, 7.0f, -2.5f) == -2.5f);   // a = 0 leaves y
    BOOST_TEST(axpy(4.0f, 0.0f, 9.0f) == 9.0f);     // x = 0 leaves y
    BOOST_TEST(axpy(1.0f, 1024.0f, 0.0f) == 1024.0f);
}

BOOST_AUTO_TEST_CASE(axpy_propagates_non_finite_values) {
    const float inf = std::numeric_limits<float>::infinity();
    BOOST_TEST(axpy(1.0f, inf, 1.0f) == inf);
    BOOST_TEST(axpy(-1.0f, inf, 1.0f) == -inf);
    const float nan = axpy(1.0f, inf, -inf);
    BOOST_TEST(nan != nan);
}
