// The op test table: one short entry per differentiable op. Each entry builds the op on
// parameters (so gradients flow to every operand) at a small shape for finite differences and a
// larger, awkward shape (odd sizes, vector tails, several threads' worth) for fast-vs-reference.
// Adding an op's gradient check and SIMD-vs-reference check means adding one entry here.
#pragma once
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kiln/graph/graph.h"

namespace kiln::testing {

struct OpCase {
    std::string name;
    std::vector<Shape> small, large;  // operand shapes
    // Builds the op from its operands (params named p0, p1, …).
    std::function<Value(Graph&, const std::vector<Value>&)> build;
    // Keeps values away from kinks: every operand element is drawn, then passed through this.
    std::function<float(float)> shape_value = [](float x) { return x; };
};

// Labels [n] for cross_entropy, held in a buffer so they take no gradient.
inline Value labels(Graph& g, int64_t n, int64_t classes) {
    std::vector<uint8_t> bytes(n * sizeof(int64_t));
    auto* p = reinterpret_cast<int64_t*>(bytes.data());
    for (int64_t i = 0; i < n; ++i) p[i] = int64_t(g.rng().below(classes));
    return g.buffer("labels", Shape{n}, DType::i64, bytes);
}
inline Value targets01(Graph& g, const Shape& s) {  // BCE targets in [0, 1]
    std::vector<uint8_t> bytes(s.numel() * sizeof(float));
    auto* p = reinterpret_cast<float*>(bytes.data());
    for (int64_t i = 0; i < s.numel(); ++i) p[i] = g.rng().uniform();
    return g.buffer("targets", s, DType::f32, bytes);
}

// BatchNorm with running statistics (updated by every training-mode call; unused by it).
inline Value batch_norm_tracked(Graph& g, Value x, Value weight, Value bias) {
    const int64_t c = g.shape(x)[1];
    std::vector<float> ones(c, 1.0f);
    std::vector<uint8_t> var(c * sizeof(float));
    std::memcpy(var.data(), ones.data(), var.size());
    return g.batch_norm(x, weight, bias, g.buffer("running_mean", Shape{c}, DType::f32, {}),
                        g.buffer("running_var", Shape{c}, DType::f32, var), g.buffer("num_batches_tracked", Shape{}, DType::i64, {}));
}

inline float away_from_zero(float x) { return x + (x >= 0 ? 0.1f : -0.1f); }

inline std::vector<OpCase> op_cases() {
    using V = const std::vector<Value>&;
    return {
        {"matmul", {{3, 4}, {4, 5}}, {{67, 129}, {129, 33}}, [](Graph& g, V p) { return g.matmul(p[0], p[1]); }},
        {"matmul_ta", {{4, 3}, {4, 5}}, {{129, 67}, {129, 33}}, [](Graph& g, V p) { return g.matmul(p[0], p[1], true, false); }},
        {"matmul_tb", {{3, 4}, {5, 4}}, {{67, 129}, {33, 129}}, [](Graph& g, V p) { return g.matmul(p[0], p[1], false, true); }},
        {"matmul_tatb", {{4, 3}, {5, 4}}, {{129, 67}, {33, 129}}, [](Graph& g, V p) { return g.matmul(p[0], p[1], true, true); }},
        {"add", {{3, 4}, {3, 4}}, {{301, 257}, {301, 257}}, [](Graph& g, V p) { return g.add(p[0], p[1]); }},
        {"add_bias", {{3, 4}, {4}}, {{301, 257}, {257}}, [](Graph& g, V p) { return g.add(p[0], p[1]); }},
        {"add_broadcast", {{2, 1, 4}, {3, 1}}, {{5, 1, 129}, {67, 1}}, [](Graph& g, V p) { return g.add(p[0], p[1]); }},
        {"sub", {{3, 4}, {1, 4}}, {{301, 257}, {1, 257}}, [](Graph& g, V p) { return g.sub(p[0], p[1]); }},
        {"mul", {{3, 4}, {3, 4}}, {{301, 257}, {301, 257}}, [](Graph& g, V p) { return g.mul(p[0], p[1]); }},
        {"mul_col", {{3, 4}, {3, 1}}, {{301, 257}, {301, 1}}, [](Graph& g, V p) { return g.mul(p[0], p[1]); }},
        {"div", {{3, 4}, {4}}, {{301, 257}, {257}}, [](Graph& g, V p) { return g.div(p[0], p[1]); }, [](float x) { return x + (x >= 0 ? 1.0f : -1.0f); }},
        {"scale", {{3, 4}}, {{301, 257}}, [](Graph& g, V p) { return g.scale(p[0], -1.5f, 0.25f); }},
        {"relu", {{3, 4}}, {{301, 257}}, [](Graph& g, V p) { return g.relu(p[0]); }, away_from_zero},
        {"sigmoid", {{3, 4}}, {{301, 257}}, [](Graph& g, V p) { return g.sigmoid(p[0]); }},
        {"tanh", {{3, 4}}, {{301, 257}}, [](Graph& g, V p) { return g.tanh(p[0]); }},
        {"softmax", {{3, 5}}, {{301, 37}}, [](Graph& g, V p) { return g.softmax(p[0]); }},
        {"softmax_axis0", {{3, 5}}, {{37, 30}}, [](Graph& g, V p) { return g.softmax(p[0], 0); }},
        {"log_softmax", {{3, 5}}, {{301, 37}}, [](Graph& g, V p) { return g.log_softmax(p[0]); }},
        {"log_softmax_mid", {{2, 3, 4}}, {{7, 9, 11}}, [](Graph& g, V p) { return g.log_softmax(p[0], 1); }},
        {"reshape", {{3, 4}}, {{30, 40}}, [](Graph& g, V p) { return g.reshape(g.scale(p[0], 2.0f), {4, -1}); }},
        {"flatten", {{2, 3, 4}}, {{20, 3, 40}}, [](Graph& g, V p) { return g.flatten(g.scale(p[0], 2.0f)); }},
        {"sum_all", {{3, 4}}, {{301, 257}}, [](Graph& g, V p) { return g.sum(p[0]); }},
        {"sum_axis", {{3, 4}}, {{301, 257}}, [](Graph& g, V p) { return g.sum(p[0], 1); }},
        {"sum_keepdim", {{3, 4}}, {{301, 257}}, [](Graph& g, V p) { return g.sum(p[0], 0, true); }},
        {"mean_all", {{3, 4}}, {{301, 257}}, [](Graph& g, V p) { return g.mean(p[0]); }},
        {"mean_axis", {{2, 3, 4}}, {{7, 30, 11}}, [](Graph& g, V p) { return g.mean(p[0], 1); }},
        {"dropout", {{3, 4}}, {{301, 257}}, [](Graph& g, V p) { return g.dropout(p[0], 0.3f); }},
        {"l1_loss", {{3, 4}, {3, 4}}, {{301, 257}, {301, 257}}, [](Graph& g, V p) { return g.l1_loss(p[0], p[1]); }},
        {"mse_loss", {{3, 4}, {3, 4}}, {{301, 257}, {301, 257}}, [](Graph& g, V p) { return g.mse_loss(p[0], p[1]); }},
        {"bce_with_logits", {{3, 4}}, {{301, 257}}, [](Graph& g, V p) { return g.bce_with_logits(p[0], targets01(g, g.shape(p[0]))); }},
        {"cross_entropy", {{4, 5}}, {{301, 37}}, [](Graph& g, V p) { return g.cross_entropy(p[0], labels(g, g.shape(p[0])[0], g.shape(p[0])[1])); }},
        {"conv2d", {{2, 2, 5, 5}, {3, 2, 3, 3}, {3}}, {{3, 5, 17, 19}, {7, 5, 3, 3}, {7}},
         [](Graph& g, V p) { return g.conv2d(p[0], p[1], p[2], {.pad_h = 1, .pad_w = 1}); }},
        {"conv2d_stride_nobias", {{2, 2, 7, 6}, {3, 2, 3, 2}}, {{3, 6, 21, 16}, {9, 6, 5, 3}},
         [](Graph& g, V p) { return g.conv2d(p[0], p[1], Value{}, {.stride_h = 2, .stride_w = 3, .pad_h = 1, .pad_w = 0}); }},
        {"conv2d_dilation", {{1, 2, 7, 7}, {2, 2, 3, 3}, {2}}, {{2, 4, 19, 17}, {5, 4, 3, 3}, {5}},
         [](Graph& g, V p) { return g.conv2d(p[0], p[1], p[2], {.pad_h = 2, .pad_w = 1, .dil_h = 2, .dil_w = 2}); }},
        // Many images per thread, each thread summing its own weight-gradient partial. (Sums of
        // ~3,600 terms: far longer ones drift past the 1e-4 tolerance in float, e.g. under NEON.)
        {"conv2d_many_images", {{1, 1, 3, 3}, {1, 1, 3, 3}}, {{9, 8, 20, 20}, {8, 8, 3, 3}, {8}},
         [](Graph& g, V p) { return g.conv2d(p[0], p[1], p.size() > 2 ? p[2] : Value{}, {.pad_h = 1, .pad_w = 1}); }},
        // One image: the fast forward pass is a direct convolution (backend/direct/conv2d.h), its
        // channels in blocks (12 = 2 × 6 in 16 lanes, 3 × 4 in 8).
        {"conv2d_one_image", {{1, 2, 5, 4}, {3, 2, 3, 3}, {3}}, {{1, 8, 15, 15}, {12, 8, 3, 3}, {12}},
         [](Graph& g, V p) { return g.conv2d(p[0], p[1], p[2], {.stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 1}); }},
        // Direct, strided and dilated along the rows (the input segment copied in stride phases),
        // 19 channels in uneven blocks, a partly filled last vector.
        {"conv2d_one_image_strided", {{1, 2, 5, 9}, {3, 2, 3, 3}, {3}}, {{1, 3, 9, 61}, {19, 3, 3, 3}, {19}},
         [](Graph& g, V p) { return g.conv2d(p[0], p[1], p[2], {.stride_h = 1, .stride_w = 2, .pad_h = 1, .pad_w = 1, .dil_h = 1, .dil_w = 2}); }},
        // Direct, rows wider than a tile of vectors (100 = 48 + 48 + 4 columns in 16 lanes), a 3×5 kernel.
        {"conv2d_one_image_wide", {{1, 2, 3, 8}, {3, 2, 3, 5}}, {{1, 4, 6, 100}, {5, 4, 3, 5}},
         [](Graph& g, V p) { return g.conv2d(p[0], p[1], Value{}, {.pad_h = 1, .pad_w = 2}); }},
        // Direct, more input channels than the buffer holds at once: three passes, the later ones
        // adding to the output.
        {"conv2d_one_image_many_channels", {{1, 3, 4, 5}, {2, 3, 3, 3}, {2}}, {{1, 64, 5, 40}, {6, 64, 3, 3}, {6}},
         [](Graph& g, V p) { return g.conv2d(p[0], p[1], p[2], {.pad_h = 1, .pad_w = 1}); }},
        // One image whose rows are too narrow for any vector (one column: a quarter of 4 lanes) goes
        // in bands of output rows, several per thread.
        {"conv2d_one_image_bands", {{1, 2, 5, 1}, {3, 2, 3, 3}, {3}}, {{1, 512, 30, 1}, {8, 512, 3, 3}, {8}},
         [](Graph& g, V p) { return g.conv2d(p[0], p[1], p[2], {.pad_h = 1, .pad_w = 1}); }},
        // 'Same' size (stride 1, output = input): the fast im2col copies shifted planes.
        // LeNet-5's second convolution: 'valid' 5×5 at stride 1, whose input gradient the CPU
        // backend computes as the transposed (padded, flipped) direct convolution.
        {"conv2d_valid_5x5", {{2, 2, 8, 8}, {3, 2, 5, 5}, {3}}, {{4, 6, 14, 14}, {16, 6, 5, 5}, {16}},
         [](Graph& g, V p) { return g.conv2d(p[0], p[1], p[2], {}); }},
        {"conv2d_same_3x5", {{2, 2, 4, 6}, {3, 2, 3, 5}, {3}}, {{3, 3, 6, 9}, {4, 3, 3, 5}, {4}},
         [](Graph& g, V p) { return g.conv2d(p[0], p[1], p[2], {.pad_h = 1, .pad_w = 2}); }},
        {"conv2d_same_dilated", {{1, 2, 5, 5}, {2, 2, 3, 3}}, {{2, 3, 11, 10}, {5, 3, 3, 3}},
         [](Graph& g, V p) { return g.conv2d(p[0], p[1], Value{}, {.pad_h = 2, .pad_w = 2, .dil_h = 2, .dil_w = 2}); }},
        {"conv2d_1x1", {{2, 3, 4, 4}, {2, 3, 1, 1}}, {{4, 16, 7, 7}, {32, 16, 1, 1}},
         [](Graph& g, V p) { return g.conv2d(p[0], p[1], Value{}); }},
        {"max_pool2d", {{2, 2, 6, 6}}, {{3, 5, 28, 28}}, [](Graph& g, V p) { return g.max_pool2d(p[0], {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2}); }},
        {"max_pool2d_pad_ceil", {{1, 2, 7, 6}}, {{3, 5, 15, 14}},
         [](Graph& g, V p) { return g.max_pool2d(p[0], {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .ceil_mode = true}); }},
        {"max_pool2d_overlap", {{1, 2, 5, 5}}, {{2, 16, 28, 28}},
         [](Graph& g, V p) { return g.max_pool2d(p[0], {.kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1}); }},
        // Rows at stride 2, columns at stride 1 with ceil_mode (windows past the right edge); a
        // plane too wide for the CPU backend's padded-row buffer (its other stride-1 path).
        {"max_pool2d_rows_strided", {{1, 2, 7, 6}}, {{3, 5, 15, 33}},
         [](Graph& g, V p) { return g.max_pool2d(p[0], {.kernel_h = 3, .kernel_w = 2, .stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 1, .ceil_mode = true}); }},
        {"max_pool2d_ceil_odd", {{1, 2, 5, 7}}, {{2, 3, 15, 29}},
         [](Graph& g, V p) { return g.max_pool2d(p[0], {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2, .ceil_mode = true}); }},
        {"max_pool2d_wide", {{1, 1, 3, 40}}, {{1, 2, 4, 1500}},
         [](Graph& g, V p) { return g.max_pool2d(p[0], {.kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1}); }},
        {"avg_pool2d", {{2, 2, 6, 6}}, {{3, 5, 28, 28}}, [](Graph& g, V p) { return g.avg_pool2d(p[0], {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2}); }},
        {"avg_pool2d_pad_ceil", {{1, 2, 7, 6}}, {{3, 5, 15, 14}},
         [](Graph& g, V p) { return g.avg_pool2d(p[0], {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .ceil_mode = true, .count_include_pad = false}); }},
        {"avg_pool2d_ceil_odd", {{1, 2, 5, 7}}, {{2, 3, 15, 29}},
         [](Graph& g, V p) { return g.avg_pool2d(p[0], {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2, .ceil_mode = true}); }},
        {"avg_pool2d_include_pad", {{1, 2, 7, 6}}, {{3, 5, 15, 14}},
         [](Graph& g, V p) { return g.avg_pool2d(p[0], {.kernel_h = 3, .kernel_w = 2, .stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 1, .ceil_mode = true}); }},
        {"global_avg_pool2d", {{2, 3, 3, 4}}, {{5, 17, 7, 9}}, [](Graph& g, V p) { return g.global_avg_pool2d(p[0]); }},
        {"batch_norm2d", {{4, 3, 2, 2}, {3}, {3}}, {{8, 13, 9, 11}, {13}, {13}},
         [](Graph& g, V p) { return batch_norm_tracked(g, p[0], p[1], p[2]); }},
        {"batch_norm1d_no_affine", {{6, 4}}, {{301, 37}},
         [](Graph& g, V p) { return g.batch_norm(p[0], Value{}, Value{}, Value{}, Value{}, Value{}); }},
    };
}

// int8 ops (issue 15) have no gradient: each case builds its op on i8 (or f32) inputs named x, y
// and on persistent weights, tables and multipliers drawn from the graph's generator, at the small
// or the large shape. Every backend must give the reference's bits.
struct QuantCase {
    std::string name;
    std::function<Value(Graph&, bool large)> build;
};

inline Value random_codes(Graph& g, const std::string& name, const Shape& s, DType dtype, int32_t lo, int32_t hi) {
    std::vector<uint8_t> bytes(size_t(s.numel()) * dtype_size(dtype));
    for (int64_t i = 0; i < s.numel(); ++i) {
        const int32_t v = lo + int32_t(g.rng().below(uint64_t(hi - lo + 1)));
        if (dtype == DType::i8) bytes[size_t(i)] = uint8_t(int8_t(v));
        else std::memcpy(&bytes[size_t(i) * 4], &v, 4);
    }
    return g.buffer(name, s, dtype, bytes);
}
// Per-channel multipliers near 2^-shift_bits (M0 in [2^30, 2^31)), so that outputs spread over the codes.
inline Value multipliers(Graph& g, int64_t channels, int shift) {
    std::vector<uint8_t> bytes(size_t(channels) * 8);
    for (int64_t o = 0; o < channels; ++o) {
        const int32_t pair[2] = {int32_t((1u << 30) + g.rng().below(1u << 30)), shift};
        std::memcpy(&bytes[size_t(o) * 8], pair, 8);
    }
    return g.buffer("mult", Shape{channels, 2}, DType::i32, bytes);
}

inline std::vector<QuantCase> quant_cases() {
    auto image = [](Graph& g, bool large, Shape small_shape, Shape large_shape) { return g.input("x", large ? large_shape : small_shape, DType::i8); };
    auto conv = [image](Conv2dAttrs a, bool relu, Shape xs, Shape ws, Shape xl, Shape wl) {
        return [=](Graph& g, bool large) {
            const Value x = image(g, large, xs, xl);
            const Shape w = large ? wl : ws;
            const Value wv = random_codes(g, "w", w, DType::i8, -127, 127), b = random_codes(g, "b", Shape{w[0]}, DType::i32, -5000, 5000);
            QuantAttrs q;
            q.x_zero = -7, q.y_zero = 5, q.lo = relu ? 5 : -128;
            return g.qconv2d(x, wv, b, multipliers(g, w[0], -9), a, q);
        };
    };
    return {
        {"quantize", [](Graph& g, bool large) { return g.quantize(g.input("x", large ? Shape{7, 301} : Shape{3, 5}), 0.009f, 3); }},
        {"dequantize", [image](Graph& g, bool large) { return g.dequantize(image(g, large, {1, 2, 3, 3}, {3, 5, 17, 19}), 0.02f, -4); }},
        {"qconv2d", conv({.pad_h = 1, .pad_w = 1}, false, {1, 3, 6, 6}, {4, 3, 3, 3}, {2, 5, 17, 19}, {13, 5, 3, 3})},
        {"qconv2d_relu_wide", conv({.pad_h = 1, .pad_w = 1}, true, {1, 16, 5, 7}, {8, 16, 3, 3}, {3, 32, 14, 14}, {64, 32, 3, 3})},
        {"qconv2d_strided", conv({.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}, false, {1, 2, 7, 6}, {3, 2, 3, 3}, {2, 16, 28, 28}, {32, 16, 3, 3})},
        {"qconv2d_5x5_valid", conv({}, true, {1, 1, 9, 9}, {6, 1, 5, 5}, {2, 6, 14, 14}, {16, 6, 5, 5})},
        {"qlinear", [](Graph& g, bool large) {
             const Shape xs = large ? Shape{9, 300} : Shape{3, 10}, ws = large ? Shape{37, 300} : Shape{4, 10};
             QuantAttrs q;
             q.x_zero = 11, q.y_zero = -3;
             return g.qlinear(g.input("x", xs, DType::i8), random_codes(g, "w", ws, DType::i8, -127, 127),
                              random_codes(g, "b", Shape{ws[0]}, DType::i32, -5000, 5000), multipliers(g, ws[0], -9), q);
         }},
        {"qmax_pool2d", [image](Graph& g, bool large) { return g.qmax_pool2d(image(g, large, {1, 2, 6, 6}, {3, 5, 28, 28}), {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2}); }},
        {"qmax_pool2d_overlap", [image](Graph& g, bool large) {
             return g.qmax_pool2d(image(g, large, {1, 2, 5, 5}, {2, 16, 28, 28}), {.kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1});
         }},
        {"qavg_pool2d", [image](Graph& g, bool large) { return g.qavg_pool2d(image(g, large, {1, 2, 6, 6}, {3, 6, 28, 28}), {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2}, -9); }},
        {"qavg_pool2d_pad", [image](Graph& g, bool large) {
             return g.qavg_pool2d(image(g, large, {1, 2, 7, 6}, {3, 5, 15, 14}), {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .ceil_mode = true}, 17);
         }},
        {"qadd_relu", [image](Graph& g, bool large) {
             QuantAttrs q;
             q.x_zero = -5, q.b_zero = 9, q.y_zero = -20, q.lo = -20;
             q.m0[0] = 1 << 30, q.shift[0] = 0, q.m0[1] = 1518500250, q.shift[1] = -1, q.m0[2] = 1288490189, q.shift[2] = -18;
             return g.qadd(image(g, large, {1, 2, 3, 3}, {3, 16, 28, 28}), g.input("y", large ? Shape{3, 16, 28, 28} : Shape{1, 2, 3, 3}, DType::i8), q);
         }},
        {"qmean", [](Graph& g, bool large) {
             QuantAttrs q;
             q.x_zero = 3, q.y_zero = -1, q.m0[0] = 1431655765, q.shift[0] = -4;
             return g.qmean(g.input("x", large ? Shape{5, 64, 49} : Shape{2, 3, 12}, DType::i8), q);
         }},
        {"qlookup", [image](Graph& g, bool large) {
             return g.qlookup(image(g, large, {1, 2, 3, 3}, {3, 5, 17, 19}), random_codes(g, "table", Shape{256}, DType::i8, -128, 127));
         }},
    };
}

}  // namespace kiln::testing
