// The integer reference kernels of int8 inference: the oracle that issue 15's fast paths (VNNI,
// AVX2, NEON sdot, the Cortex-M runtime) must match bit for bit. Written as plain loops over
// int32 sums, which are exact in any order, then one requantization per output (quant_math.h).
// An input's zero point stands for the real 0, so a tap in the padding adds nothing and is skipped.
// A sum has |terms| ≤ 255 · 127, so up to 65,536 of them (C·kh·kw, or K) cannot overflow int32;
// an exporter refuses more.
#pragma once
#include <cstdint>

#include "kiln/backend/kernel_math.h"
#include "kiln/backend/quant_math.h"

namespace kiln::quant {

// Where an int32 sum goes: per output channel o, y = clamp(multiply(sum, at(o)) + zero_point,
// lo, hi); lo = the zero point fuses a ReLU. multipliers holds (M0, shift) pairs, [o, 2], as the
// mult input of qconv2d and qlinear.
struct Output {
    const int32_t* multipliers;
    int32_t zero_point = 0, lo = -128, hi = 127;
    KILN_HD Multiplier at(int64_t o) const { return {multipliers[2 * o], int(multipliers[2 * o + 1])}; }
};

// y [n, o, oh, ow] from x [n, c, h, w] (zero point x_zero) and w [o, c, kh, kw] (symmetric, per
// output channel), with bias [o] in the sum's scale (x_scale · w_scale[o]) or null.
KILN_HD void conv2d(const ConvGeom& g, const int8_t* x, int32_t x_zero, const int8_t* w, const int32_t* bias, const Output& out,
                    int8_t* y) {
    for (int64_t b = 0; b < g.n; ++b)
        for (int64_t o = 0; o < g.o; ++o)
            for (int64_t r = 0; r < g.oh; ++r)
                for (int64_t q = 0; q < g.ow; ++q) {
                    int32_t sum = bias ? bias[o] : 0;
                    for (int64_t c = 0; c < g.c; ++c)
                        for (int64_t i = 0; i < g.kh; ++i) {
                            const int64_t yy = g.in_y(r, i);
                            if (yy < 0 || yy >= g.h) continue;
                            for (int64_t j = 0; j < g.kw; ++j) {
                                const int64_t xx = g.in_x(q, j);
                                if (xx < 0 || xx >= g.w) continue;
                                sum += (int32_t(x[((b * g.c + c) * g.h + yy) * g.w + xx]) - x_zero) * int32_t(w[((o * g.c + c) * g.kh + i) * g.kw + j]);
                            }
                        }
                    y[((b * g.o + o) * g.oh + r) * g.ow + q] = requantize(sum, out.at(o), out.zero_point, out.lo, out.hi);
                }
}

// y [n, o] = x [n, k] · w [o, k]ᵀ (+ bias [o]): PyTorch's Linear.
KILN_HD void linear(int64_t n, int64_t k, int64_t o, const int8_t* x, int32_t x_zero, const int8_t* w, const int32_t* bias,
                    const Output& out, int8_t* y) {
    for (int64_t b = 0; b < n; ++b)
        for (int64_t m = 0; m < o; ++m) {
            int32_t sum = bias ? bias[m] : 0;
            for (int64_t t = 0; t < k; ++t) sum += (int32_t(x[b * k + t]) - x_zero) * int32_t(w[m * k + t]);
            y[b * o + m] = requantize(sum, out.at(m), out.zero_point, out.lo, out.hi);
        }
}

// Pooling keeps its input's encoding. Max pooling compares codes (the encoding is monotonic);
// average pooling divides the window's sum of codes by its divisor (PoolWindow's, as the float
// kernel's) rounding half away from zero, as TensorFlow Lite's int8 AveragePool. A padded tap of
// AvgPool2d with count_include_pad counts in the divisor and adds the zero point's code.
KILN_HD void max_pool2d(const Pool2dAttrs& a, const int8_t* x, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, int8_t* y) {
    for (int64_t k = 0; k < planes; ++k)
        for (int64_t r = 0; r < oh; ++r)
            for (int64_t q = 0; q < ow; ++q) {
                const PoolWindow win(a, h, w, r, q);
                int8_t top = -128;
                for (int64_t yy = win.y0 < 0 ? 0 : win.y0; yy < (win.y1 < h ? win.y1 : h); ++yy)
                    for (int64_t xx = win.x0 < 0 ? 0 : win.x0; xx < (win.x1 < w ? win.x1 : w); ++xx)
                        top = x[(k * h + yy) * w + xx] > top ? x[(k * h + yy) * w + xx] : top;
                y[(k * oh + r) * ow + q] = top;
            }
}
KILN_HD void avg_pool2d(const Pool2dAttrs& a, const int8_t* x, int32_t zero_point, int64_t planes, int64_t h, int64_t w, int64_t oh,
                        int64_t ow, int8_t* y) {
    for (int64_t k = 0; k < planes; ++k)
        for (int64_t r = 0; r < oh; ++r)
            for (int64_t q = 0; q < ow; ++q) {
                const PoolWindow win(a, h, w, r, q);
                int32_t sum = 0, inside = 0;
                for (int64_t yy = win.y0 < 0 ? 0 : win.y0; yy < (win.y1 < h ? win.y1 : h); ++yy)
                    for (int64_t xx = win.x0 < 0 ? 0 : win.x0; xx < (win.x1 < w ? win.x1 : w); ++xx, ++inside)
                        sum += x[(k * h + yy) * w + xx];
                const int32_t count = int32_t(win.divisor);
                sum += (count - inside) * zero_point;  // padded taps counted in the divisor hold the real 0
                const int32_t mean = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
                y[(k * oh + r) * ow + q] = int8_t(mean < -128 ? -128 : mean > 127 ? 127 : mean);
            }
}

// a + b elementwise with three encodings, as TensorFlow Lite's int8 Add: both inputs' offsets from
// their zero points are shifted up 20 bits and brought to a common scale (twice the larger input
// scale), summed, then brought to the output's scale.
struct AddParams {
    int32_t a_zero, b_zero, y_zero, lo = -128, hi = 127;
    Multiplier a, b, y;
};
constexpr int add_left_shift = 20;
inline AddParams add_params(Params a, Params b, Params y, bool relu = false) {
    const double twice = 2.0 * (a.scale > b.scale ? a.scale : b.scale);
    return {a.zero_point, b.zero_point, y.zero_point, relu ? y.zero_point : -128, 127, quantize_multiplier(a.scale / twice),
            quantize_multiplier(b.scale / twice), quantize_multiplier(twice / (double(int64_t(1) << add_left_shift) * y.scale))};
}
KILN_HD void add(const AddParams& p, const int8_t* a, const int8_t* b, int64_t n, int8_t* y) {
    for (int64_t i = 0; i < n; ++i) {
        const int32_t sa = multiply((int32_t(a[i]) - p.a_zero) * (1 << add_left_shift), p.a);
        const int32_t sb = multiply((int32_t(b[i]) - p.b_zero) * (1 << add_left_shift), p.b);
        y[i] = requantize(sa + sb, p.y, p.y_zero, p.lo, p.hi);
    }
}

// The mean of each of `planes` runs of p codes (global average pooling, resnet_mini's): the sum of
// offsets from the input's zero point, requantized by x_scale / (p · y_scale) (mean_params).
KILN_HD void mean(const int8_t* x, int32_t x_zero, int64_t planes, int64_t p, Multiplier m, int32_t y_zero, int8_t* y) {
    for (int64_t k = 0; k < planes; ++k) {
        int32_t sum = 0;
        for (int64_t i = 0; i < p; ++i) sum += int32_t(x[k * p + i]) - x_zero;
        y[k] = requantize(sum, m, y_zero);
    }
}
inline Multiplier mean_multiplier(float x_scale, int64_t p, float y_scale) {
    return quantize_multiplier(double(x_scale) / (double(p) * double(y_scale)));
}

// An elementwise function as a table of its 256 outputs, made once on the host (LeNet-5's sigmoid):
// table[code + 128] = f(the code's value), quantized. Looking it up is the same on every target.
template <class F> void make_table(F f, Params x, Params y, int8_t table[256]) {
    for (int code = -128; code < 128; ++code) table[code + 128] = quantize(f(dequantize(int8_t(code), x)), y);
}
KILN_HD void lookup(const int8_t table[256], const int8_t* x, int64_t n, int8_t* y) {
    for (int64_t i = 0; i < n; ++i) y[i] = table[int32_t(x[i]) + 128];
}
// TensorFlow Lite's fixed encoding of a sigmoid's output: [0, 1) in steps of 1/256.
constexpr Params sigmoid_output{1.0f / 256.0f, -128};

// The multiplier that takes a sum in x_scale · w_scale to the output's scale.
inline Multiplier output_multiplier(float x_scale, float w_scale, float y_scale) {
    return quantize_multiplier(double(x_scale) * double(w_scale) / double(y_scale));
}

}  // namespace kiln::quant
