// backend/quant_math.h, int8 inference's integer arithmetic, against hand-worked values from
// gemmlowp's and TensorFlow Lite's definitions and against exact arithmetic in double; the integer
// reference kernels (backend/reference/quantized.h) against float arithmetic on their codes.
#define BOOST_TEST_MODULE quant_math
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kiln/backend/quant_math.h"
#include "kiln/backend/reference/quantized.h"

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

// The integer reference kernels (backend/reference/quantized.h) against the float arithmetic of
// the values their codes stand for: each output within one code of that result quantized (the
// multiplier's rounding moves a few across a rounding boundary), and almost all exactly on it.
namespace {

struct Codes {
    std::vector<int8_t> x, w;
    std::vector<int32_t> bias;
    std::vector<float> w_scale;
    Params xp{0.02f, -5};
};

Codes random_codes(int64_t x_count, int64_t o, int64_t per_channel, uint32_t seed) {
    std::mt19937 gen(seed);
    std::uniform_int_distribution<int> x8(-128, 127), w8(-127, 127), b32(-2000, 2000);
    std::uniform_real_distribution<float> scale(0.002f, 0.02f);
    Codes c;
    for (int64_t i = 0; i < x_count; ++i) c.x.push_back(int8_t(x8(gen)));
    for (int64_t i = 0; i < o * per_channel; ++i) c.w.push_back(int8_t(w8(gen)));
    for (int64_t i = 0; i < o; ++i) c.bias.push_back(b32(gen)), c.w_scale.push_back(scale(gen));
    return c;
}

// Quantizes `real` with the encoding its own range gives, compares with `got` (from `relu`'s
// clamp on when set), and returns the share that is exact.
double compare(const std::vector<double>& real, const std::vector<int8_t>& got, const Params& yp, bool relu) {
    BOOST_REQUIRE_EQUAL(real.size(), got.size());
    int64_t exact = 0;
    for (size_t i = 0; i < real.size(); ++i) {
        double want = std::round(real[i] / yp.scale) + yp.zero_point;
        want = std::clamp(want, relu ? double(yp.zero_point) : -128.0, 127.0);
        BOOST_TEST(std::fabs(double(got[i]) - want) <= 1.0, "output " << i << ": " << int(got[i]) << " for " << want);
        exact += double(got[i]) == want;
    }
    BOOST_TEST_MESSAGE(exact << " of " << real.size() << " outputs exactly on the quantized float result");
    return double(exact) / double(real.size());
}

}  // namespace

BOOST_AUTO_TEST_CASE(reference_conv2d_is_the_float_convolution_of_its_codes) {
    const kiln::ConvGeom g(kiln::Shape{2, 3, 7, 6}, kiln::Shape{4, 3, 3, 3}, kiln::Conv2dAttrs{.stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 1});
    const Codes c = random_codes(2 * 3 * 7 * 6, 4, 3 * 3 * 3, 5);
    std::vector<double> real(g.n * g.o * g.p());
    for (int64_t b = 0; b < g.n; ++b)
        for (int64_t o = 0; o < g.o; ++o)
            for (int64_t r = 0; r < g.oh; ++r)
                for (int64_t q = 0; q < g.ow; ++q) {
                    const double unit = double(c.xp.scale) * c.w_scale[o];
                    double s = c.bias[o] * unit;
                    for (int64_t ch = 0; ch < g.c; ++ch)
                        for (int64_t i = 0; i < g.kh; ++i)
                            for (int64_t j = 0; j < g.kw; ++j) {
                                const int64_t yy = g.in_y(r, i), xx = g.in_x(q, j);
                                if (yy < 0 || yy >= g.h || xx < 0 || xx >= g.w) continue;  // padding: the real 0
                                s += (c.x[((b * g.c + ch) * g.h + yy) * g.w + xx] - c.xp.zero_point) * unit *
                                     c.w[((o * g.c + ch) * g.kh + i) * g.kw + j];
                            }
                    real[((b * g.o + o) * g.oh + r) * g.ow + q] = s;
                }
    const auto [lo, hi] = std::minmax_element(real.begin(), real.end());
    const Params yp = activation_params(float(*lo), float(*hi));
    std::vector<int32_t> m;  // (M0, shift) per output channel
    for (int64_t o = 0; o < g.o; ++o) {
        const Multiplier mo = output_multiplier(c.xp.scale, c.w_scale[o], yp.scale);
        m.push_back(mo.m0), m.push_back(mo.shift);
    }
    for (bool relu : {false, true}) {
        std::vector<int8_t> y(real.size());
        conv2d(g, c.x.data(), c.xp.zero_point, c.w.data(), c.bias.data(), Output{m.data(), yp.zero_point, relu ? yp.zero_point : -128, 127}, y.data());
        BOOST_TEST(compare(real, y, yp, relu) >= 0.95);
    }
}

BOOST_AUTO_TEST_CASE(reference_linear_is_the_float_product_of_its_codes) {
    const int64_t n = 5, k = 300, o = 7;
    const Codes c = random_codes(n * k, o, k, 9);
    std::vector<double> real(n * o);
    for (int64_t b = 0; b < n; ++b)
        for (int64_t m = 0; m < o; ++m) {
            const double unit = double(c.xp.scale) * c.w_scale[m];
            double s = c.bias[m] * unit;
            for (int64_t t = 0; t < k; ++t) s += (c.x[b * k + t] - c.xp.zero_point) * unit * c.w[m * k + t];
            real[b * o + m] = s;
        }
    const auto [lo, hi] = std::minmax_element(real.begin(), real.end());
    const Params yp = activation_params(float(*lo), float(*hi));
    std::vector<int32_t> m;  // (M0, shift) per output channel
    for (int64_t i = 0; i < o; ++i) {
        const Multiplier mi = output_multiplier(c.xp.scale, c.w_scale[i], yp.scale);
        m.push_back(mi.m0), m.push_back(mi.shift);
    }
    std::vector<int8_t> y(real.size());
    linear(n, k, o, c.x.data(), c.xp.zero_point, c.w.data(), c.bias.data(), Output{m.data(), yp.zero_point}, y.data());
    BOOST_TEST(compare(real, y, yp, false) >= 0.95);
}

BOOST_AUTO_TEST_CASE(reference_pooling_keeps_the_encoding) {
    const Params p{0.05f, 7};
    std::mt19937 gen(13);
    std::uniform_int_distribution<int> x8(-128, 127);
    const int64_t planes = 3, h = 7, w = 9;
    std::vector<int8_t> x(planes * h * w);
    for (int8_t& v : x) v = int8_t(x8(gen));
    std::vector<float> real(x.size());
    for (size_t i = 0; i < x.size(); ++i) real[i] = dequantize(x[i], p);
    const kiln::Pool2dAttrs cases[] = {
        {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2},
        {.kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1},
        {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .ceil_mode = true, .count_include_pad = false},
    };
    for (const kiln::Pool2dAttrs& a : cases) {
        const int64_t oh = kiln::window_out_size(h, a.kernel_h, a.stride_h, a.pad_h, 1, a.ceil_mode);
        const int64_t ow = kiln::window_out_size(w, a.kernel_w, a.stride_w, a.pad_w, 1, a.ceil_mode);
        std::vector<int8_t> mx(planes * oh * ow), avg(mx.size());
        std::vector<float> mx_real(mx.size()), avg_real(mx.size());
        max_pool2d(a, x.data(), planes, h, w, oh, ow, mx.data());
        avg_pool2d(a, x.data(), p.zero_point, planes, h, w, oh, ow, avg.data());
        for (int64_t k = 0; k < planes; ++k) {
            kiln::max_pool_plane(a, real.data() + k * h * w, h, w, mx_real.data() + k * oh * ow, oh, ow);
            kiln::avg_pool_plane(a, real.data() + k * h * w, h, w, avg_real.data() + k * oh * ow, oh, ow);
        }
        for (size_t i = 0; i < mx.size(); ++i) {
            BOOST_TEST(int(mx[i]) == int(quantize(mx_real[i], p)));  // the largest code is the largest value's
            // The average's code is the float average's, rounded once: within half a code.
            BOOST_TEST(std::fabs(double(avg[i]) - (double(avg_real[i]) / p.scale + p.zero_point)) <= 0.5 + 1e-4);
        }
    }
}

BOOST_AUTO_TEST_CASE(reference_add_is_the_float_sum_requantized) {
    const Params a{0.03f, -20}, b{0.011f, 40}, y{0.05f, 3};
    std::mt19937 gen(17);
    std::uniform_int_distribution<int> x8(-128, 127);
    std::vector<int8_t> xa(4000), xb(4000), out(4000);
    for (size_t i = 0; i < xa.size(); ++i) xa[i] = int8_t(x8(gen)), xb[i] = int8_t(x8(gen));
    for (bool relu : {false, true}) {
        add(add_params(a, b, y, relu), xa.data(), xb.data(), int64_t(xa.size()), out.data());
        std::vector<double> real(xa.size());
        for (size_t i = 0; i < xa.size(); ++i) real[i] = double(dequantize(xa[i], a)) + double(dequantize(xb[i], b));
        BOOST_TEST(compare(real, out, y, relu) >= 0.95);
    }
}

BOOST_AUTO_TEST_CASE(reference_mean_is_the_float_mean_requantized) {
    const Params x{0.04f, 9}, y{0.01f, -4};
    const int64_t planes = 6, p = 49;  // resnet_mini's last feature maps: 7 × 7
    std::mt19937 gen(19);
    std::uniform_int_distribution<int> x8(-128, 127);
    std::vector<int8_t> codes(planes * p), out(planes);
    for (int8_t& v : codes) v = int8_t(x8(gen));
    mean(codes.data(), x.zero_point, planes, p, mean_multiplier(x.scale, p, y.scale), y.zero_point, out.data());
    std::vector<double> real(planes, 0.0);
    for (int64_t k = 0; k < planes; ++k) {
        for (int64_t i = 0; i < p; ++i) real[k] += dequantize(codes[k * p + i], x);
        real[k] /= double(p);
    }
    BOOST_TEST(compare(real, out, y, false) >= 0.95);
}

BOOST_AUTO_TEST_CASE(tables_give_the_function_of_each_code) {
    const Params x{0.05f, 2};
    int8_t table[256];
    make_table([](float v) { return 1.0f / (1.0f + std::exp(-v)); }, x, sigmoid_output, table);
    std::vector<int8_t> codes(256), out(256);
    for (int i = 0; i < 256; ++i) codes[i] = int8_t(i - 128);
    lookup(table, codes.data(), 256, out.data());
    for (int i = 0; i < 256; ++i) {
        const double s = 1.0 / (1.0 + std::exp(-double(dequantize(codes[i], x))));
        // Half a step, but at the top, where the encoding ends at 255/256 (it holds no 1.0).
        const double bound = out[i] == 127 ? 1.0 / 256 : 0.5 / 256;
        BOOST_TEST(std::fabs(dequantize(out[i], sigmoid_output) - s) <= bound + 1e-6, "code " << i - 128);
    }
    BOOST_TEST(int(out[128 + 2]) == 0);  // code 2, the zero point, is 0.0: sigmoid 0.5 → −128 + 128
}
