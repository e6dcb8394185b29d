// Integer arithmetic of int8 inference (issue 15), written once for every path that must give the
// same bits: the integer reference kernels, the SIMD ones, the micro runtime on a Cortex-M.
// Real values are r = scale · (q − zero_point); a layer's int32 accumulator is brought to its
// output's int8 by a fixed-point multiplier M0·2^shift ≈ input_scale · weight_scale / output_scale,
// as gemmlowp and TensorFlow Lite do (their rounding, bit for bit): integers only, no float, so
// that every CPU computes the same result. Only plain data here: no allocation, no exceptions.
#pragma once
#include <cmath>
#include <cstdint>

#include "kiln/core/hostdevice.h"

namespace kiln::quant {

// A real multiplier m ≥ 0 as M0·2^shift with M0 in [2^30, 2^31) a Q31 fraction in [0.5, 1), or
// 0 for m = 0 (and for m < 2^−32, whose products all round to 0). shift > 0 multiplies.
struct Multiplier {
    int32_t m0 = 0;
    int shift = 0;
};
KILN_HD Multiplier quantize_multiplier(double m) {
    if (!(m > 0)) return {};
    int shift = 0;
    const double q = std::frexp(m, &shift);  // m = q·2^shift, q in [0.5, 1)
    int64_t fixed = std::llround(q * double(int64_t(1) << 31));
    if (fixed == (int64_t(1) << 31)) fixed /= 2, ++shift;  // q rounded up to 1
    if (shift < -31) return {};
    return {int32_t(fixed), shift};
}

// gemmlowp's SaturatingRoundingDoublingHighMul: the high 32 bits of 2·a·b, rounded to nearest
// with ties toward +∞ (0.5 → 1, −0.5 → 0); the one overflowing case, INT32_MIN², saturates.
KILN_HD int32_t rounding_doubling_high_mul(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    const int64_t ab = int64_t(a) * int64_t(b);
    const int64_t nudge = ab >= 0 ? (int64_t(1) << 30) : 1 - (int64_t(1) << 30);
    return int32_t((ab + nudge) / (int64_t(1) << 31));  // division truncates toward zero, as gemmlowp's
}

// gemmlowp's RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero.
KILN_HD int32_t rounding_divide_by_pot(int32_t x, int exponent) {
    const int32_t mask = int32_t((int64_t(1) << exponent) - 1);
    const int32_t remainder = x & mask, threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

// x · M0·2^shift, as TensorFlow Lite's MultiplyByQuantizedMultiplier (a left shift before the
// multiply, a rounding right shift after). Left shifts must not overflow: |x|·2^shift < 2^31.
KILN_HD int32_t multiply(int32_t x, Multiplier m) {
    const int left = m.shift > 0 ? m.shift : 0, right = m.shift > 0 ? 0 : -m.shift;
    return rounding_divide_by_pot(rounding_doubling_high_mul(int32_t(uint32_t(x) << left), m.m0), right);
}

// An int32 accumulator to int8: scaled, offset by the output's zero point, clamped to
// [lo, hi] (−128…127, or from the zero point up for a fused ReLU).
KILN_HD int8_t requantize(int32_t acc, Multiplier m, int32_t zero_point, int32_t lo = -128, int32_t hi = 127) {
    // Clamped before the zero point is added (the same result), so that a product near INT32_MAX
    // cannot overflow: every path (SIMD ones too) computes it this way.
    int32_t v = multiply(acc, m);
    v = v < lo - zero_point ? lo - zero_point : v;
    v = v > hi - zero_point ? hi - zero_point : v;
    return int8_t(v + zero_point);
}

// An affine int8 encoding of reals: r = scale · (q − zero_point).
struct Params {
    float scale = 1.0f;
    int32_t zero_point = 0;
};

// Activations, per tensor and asymmetric, from an observed range [lo, hi]: the range is widened to
// hold 0 (so that zero padding and ReLU's zeros are exact), scale = (hi − lo) / 255, and the zero
// point is the nudged integer that maps 0 exactly (TensorFlow Lite's ChooseQuantizationParams).
KILN_HD Params activation_params(float lo, float hi) {
    lo = lo < 0.0f ? lo : 0.0f;
    hi = hi > 0.0f ? hi : 0.0f;
    if (hi == lo) return {1.0f, 0};
    const double scale = (double(hi) - double(lo)) / 255.0;
    const double zero = -128.0 - double(lo) / scale;  // where 0 falls
    const int32_t z = zero <= -128.0 ? -128 : zero >= 127.0 ? 127 : int32_t(std::lround(zero));
    return {float(scale), z};
}

// Weights, per output channel and symmetric (zero point 0, −127…127 so that −q is representable):
// scale = max |w| / 127 over the channel's n values.
KILN_HD float weight_scale(const float* w, int64_t n) {
    float top = 0.0f;
    for (int64_t i = 0; i < n; ++i) top = std::fabs(w[i]) > top ? std::fabs(w[i]) : top;
    return top > 0.0f ? top / 127.0f : 1.0f;
}

// A real to its int8 code under p: round to nearest (ties away from zero), clamped to [lo, hi]; NaN → 0.
KILN_HD int8_t quantize(float r, Params p, int32_t lo = -128, int32_t hi = 127) {
    const double q = std::round(double(r) / double(p.scale)) + p.zero_point;
    if (q != q) return 0;  // NaN: code 0 on every path (converting it would be undefined)
    return int8_t(q < lo ? lo : q > hi ? hi : q);
}
KILN_HD float dequantize(int8_t q, Params p) { return p.scale * float(int32_t(q) - p.zero_point); }

}  // namespace kiln::quant
