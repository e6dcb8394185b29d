// backend/quant_math.h, int8 inference's integer arithmetic, against hand-worked values from
// gemmlowp's and TensorFlow Lite's definitions and against exact arithmetic in double.
#define BOOST_TEST_MODULE quant_math
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <random>

#include "kiln/backend/quant_math.h"

using namespace kiln::quant;

BOOST_AUTO_TEST_CASE(multipliers_are_q31_fractions_times_a_power_of_two) {
    BOOST_TEST(quantize_multiplier(1.0).m0 == (1 << 30));
    BOOST_TEST(quantize_multiplier(1.0).shift == 1);
    BOOST_TEST(quantize_multiplier(0.5).m0 == (1 << 30));
    BOOST_TEST(quantize_multiplier(0.5).shift == 0);
    BOOST_TEST(quantize_multiplier(0.0).m0 == 0);
    BOOST_TEST(quantize_multiplier(1e-12).m0 == 0);  // below 2^−32: every product rounds to 0
    // Just under 1: q rounds up to 2^31, which becomes 2^30 one power higher.
    const Multiplier near_one = quantize_multiplier(1.0 - 1e-12);
    BOOST_TEST(near_one.m0 == (1 << 30));
    BOOST_TEST(near_one.shift == 1);
    std::mt19937 gen(7);
    std::uniform_real_distribution<double> exponent(-20.0, 4.0);
    for (int i = 0; i < 1000; ++i) {
        const double m = std::pow(2.0, exponent(gen));
        const Multiplier q = quantize_multiplier(m);
        BOOST_TEST(q.m0 >= (1 << 30));
        BOOST_TEST(std::ldexp(double(q.m0), q.shift - 31) == m, boost::test_tools::tolerance(std::ldexp(1.0, -31)));
    }
}

BOOST_AUTO_TEST_CASE(doubling_high_mul_rounds_ties_up_and_saturates) {
    BOOST_TEST(rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX);
    BOOST_TEST(rounding_doubling_high_mul(1 << 30, 1 << 30) == (1 << 29));  // 2·2^60 / 2^32
    BOOST_TEST(rounding_doubling_high_mul(1, 1 << 30) == 1);                 // 0.5 → 1
    BOOST_TEST(rounding_doubling_high_mul(-1, 1 << 30) == 0);                // −0.5 → 0
    BOOST_TEST(rounding_doubling_high_mul(-3, 1 << 30) == -1);               // −1.5 → −1
    BOOST_TEST(rounding_doubling_high_mul(INT32_MAX, INT32_MAX) == INT32_MAX - 1);
}

BOOST_AUTO_TEST_CASE(divide_by_power_of_two_rounds_ties_away_from_zero) {
    BOOST_TEST(rounding_divide_by_pot(3, 1) == 2);    // 1.5
    BOOST_TEST(rounding_divide_by_pot(-3, 1) == -2);  // −1.5
    BOOST_TEST(rounding_divide_by_pot(-1, 1) == -1);  // −0.5
    BOOST_TEST(rounding_divide_by_pot(5, 2) == 1);    // 1.25
    BOOST_TEST(rounding_divide_by_pot(-5, 2) == -1);
    BOOST_TEST(rounding_divide_by_pot(7, 0) == 7);
    BOOST_TEST(rounding_divide_by_pot(INT32_MIN, 31) == -1);
}

// The fixed-point product is the exact product rounded, give or take one: the multiplier itself
// is within 2^−31 relative and each of the two roundings is at most a half.
BOOST_AUTO_TEST_CASE(multiply_is_the_exact_product_within_one) {
    std::mt19937 gen(11);
    std::uniform_int_distribution<int32_t> acc(-(1 << 22), 1 << 22);
    std::uniform_real_distribution<double> exponent(-24.0, 3.0);
    for (int i = 0; i < 20000; ++i) {
        const int32_t x = acc(gen);
        const double m = std::pow(2.0, exponent(gen));
        const double exact = double(x) * m;
        const int32_t got = multiply(x, quantize_multiplier(m));
        BOOST_TEST(std::fabs(got - exact) <= 1.0, x << " · " << m << " = " << exact << ", got " << got);
    }
    BOOST_TEST(multiply(100, quantize_multiplier(0.25)) == 25);
    BOOST_TEST(multiply(-102, quantize_multiplier(0.25)) == -26);  // −25.5, away from zero
    BOOST_TEST(multiply(7, quantize_multiplier(2.0)) == 14);
}

BOOST_AUTO_TEST_CASE(requantize_adds_the_zero_point_and_clamps) {
    const Multiplier half = quantize_multiplier(0.5);
    BOOST_TEST(int(requantize(100, half, 3)) == 53);
    BOOST_TEST(int(requantize(1000, half, 0)) == 127);
    BOOST_TEST(int(requantize(-1000, half, 0)) == -128);
    BOOST_TEST(int(requantize(-40, half, -10, -10, 127)) == -10);  // a fused ReLU: nothing below zero's code
}

BOOST_AUTO_TEST_CASE(activation_params_hold_zero_exactly) {
    const Params sym = activation_params(-1.0f, 1.0f);
    BOOST_TEST(sym.scale == 2.0f / 255.0f, boost::test_tools::tolerance(1e-7f));
    BOOST_TEST(sym.zero_point == -1);  // −128 + 127.5, rounded away from zero
    const Params relu6 = activation_params(0.0f, 6.0f);
    BOOST_TEST(relu6.zero_point == -128);
    const Params negative = activation_params(-5.0f, -1.0f);  // widened to [−5, 0]
    BOOST_TEST(negative.zero_point == 127);
    BOOST_TEST(negative.scale == 5.0f / 255.0f, boost::test_tools::tolerance(1e-7f));
    const Params empty = activation_params(0.0f, 0.0f);
    BOOST_TEST(empty.scale == 1.0f);
    for (const Params& p : {sym, relu6, negative, activation_params(-0.3f, 2.9f), activation_params(-7.1f, 0.2f)}) {
        BOOST_TEST(int(quantize(0.0f, p)) == p.zero_point);
        BOOST_TEST(dequantize(quantize(0.0f, p), p) == 0.0f);
    }
}

BOOST_AUTO_TEST_CASE(quantize_rounds_to_the_nearest_code_and_clamps) {
    const Params p = activation_params(-0.3f, 2.9f);
    std::mt19937 gen(3);
    std::uniform_real_distribution<float> r(-0.3f, 2.9f);
    for (int i = 0; i < 1000; ++i) {
        const float v = r(gen);
        BOOST_TEST(std::fabs(dequantize(quantize(v, p), p) - v) <= p.scale / 2 * 1.0001f);
    }
    BOOST_TEST(int(quantize(100.0f, p)) == 127);
    BOOST_TEST(int(quantize(-100.0f, p)) == -128);
    const Params w{0.5f, 0};
    BOOST_TEST(int(quantize(1.25f, w)) == 3);    // 2.5 → 3
    BOOST_TEST(int(quantize(-1.25f, w)) == -3);  // −2.5 → −3
    BOOST_TEST(int(quantize(-100.0f, w, -127, 127)) == -127);
}

BOOST_AUTO_TEST_CASE(weight_scale_is_the_largest_magnitude_over_127) {
    const float w[] = {0.5f, -2.54f, 1.0f};
    BOOST_TEST(weight_scale(w, 3) == 2.54f / 127.0f);
    const float zeros[] = {0.0f, 0.0f};
    BOOST_TEST(weight_scale(zeros, 2) == 1.0f);
    const Params p{weight_scale(w, 3), 0};
    BOOST_TEST(int(quantize(-2.54f, p, -127, 127)) == -127);
}
