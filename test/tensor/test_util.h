// Small helpers shared by the tensor tests (defined in test_tensor.cpp). The checks are plain
// functions returning assertion_result, with a message on failure, rather than BOOST_TEST
// expression templates over vectors, which cost compile time at every assertion.
#pragma once
#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln::test {

// True when t holds exactly `expected` in row-major order, or each within `tolerance` if given.
// Elements are compared as doubles (exact for f32 and for integers below 2^53).
boost::test_tools::assertion_result values_are(const Tensor& t, const std::vector<double>& expected,
                                               double tolerance = 0);

// True when t.shape().str() is `expected`, e.g. "[2, 3]".
boost::test_tools::assertion_result shape_is(const Tensor& t, const std::string& expected);

// Checks that fn throws kiln::Error with this code and exactly this message.
void expect_error(const std::function<void()>& fn, Errc code, const std::string& message);

}  // namespace kiln::test
