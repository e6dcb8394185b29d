// Resize: torchvision's output size and PIL's antialiased bilinear resampling (see ops.h).
#include <algorithm>
#include <cmath>
#include <string>

#include "ops.h"

namespace kiln::transforms {

namespace {

constexpr int precision_bits = 32 - 8 - 2;  // PIL's fixed-point weights for 8-bit images

// For each output index: the first input index it reads, how many, and their fixed-point weights
// (ksize per output index).
struct Coefficients {
    int64_t ksize = 0;
    std::vector<int64_t> first, count;
    std::vector<int32_t> weight;
};

double triangle(double x) {
    x = std::fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

// PIL's precompute_coeffs + normalize_coeffs_8bpc for the bilinear (triangle, support 1) filter.
// Shrinking by a factor s widens the filter to support s and scales it by 1/s: each output pixel
// averages the s×s input pixels under it (the antialiasing).
void precompute(int64_t in_size, int64_t out_size, Coefficients& co) {
    const double scale = double(in_size) / double(out_size);
    const double filter_scale = std::max(scale, 1.0);
    const double support = 1.0 * filter_scale, inv_filter_scale = 1.0 / filter_scale;
    co.ksize = int64_t(std::ceil(support)) * 2 + 1;
    co.first.resize(size_t(out_size));
    co.count.resize(size_t(out_size));
    co.weight.assign(size_t(out_size * co.ksize), 0);
    std::vector<double> k(static_cast<size_t>(co.ksize));
    for (int64_t o = 0; o < out_size; ++o) {
        const double center = (double(o) + 0.5) * scale;
        // PIL rounds the window ends with a truncating cast, then clips them to the image.
        const int64_t lo = std::max<int64_t>(int64_t(center - support + 0.5), 0);
        const int64_t hi = std::min<int64_t>(int64_t(center + support + 0.5), in_size);
        const int64_t n = hi - lo;
        double total = 0.0;
        for (int64_t x = 0; x < n; ++x) {
            k[size_t(x)] = triangle((double(x + lo) - center + 0.5) * inv_filter_scale);
            total += k[size_t(x)];
        }
        co.first[size_t(o)] = lo;
        co.count[size_t(o)] = n;
        for (int64_t x = 0; x < n; ++x) {
            const double w = total != 0.0 ? k[size_t(x)] / total : k[size_t(x)];
            co.weight[size_t(o * co.ksize + x)] = int32_t(0.5 + w * double(1 << precision_bits));  // w ≥ 0
        }
    }
}

// Sums fit in 32 bits as in PIL: 255 · (weights summing to about 2^22) + 2^21 < 2^31.
uint8_t clip8(int32_t v) {
    if (v <= 0) return 0;
    if (v >= (int32_t(1) << (precision_bits + 8))) return 255;
    return uint8_t(v >> precision_bits);
}

constexpr int32_t half = int32_t(1) << (precision_bits - 1);  // rounds half up

// Whole rows at a time, so that the inner loop runs along contiguous memory (and vectorises).
void resample_vertical(const ImageU8& in, int64_t out_h, const Coefficients& co, ImageU8& out) {
    const size_t row_len = size_t(in.w * in.c);
    out.reshape(out_h, in.w, in.c);
    thread_local std::vector<int32_t> acc;
    acc.resize(row_len);
    for (int64_t o = 0; o < out_h; ++o) {
        const int32_t* k = &co.weight[size_t(o * co.ksize)];
        std::fill(acc.begin(), acc.end(), half);
        for (int64_t y = 0; y < co.count[size_t(o)]; ++y) {
            const uint8_t* r = in.row(co.first[size_t(o)] + y);
            const int32_t ky = k[y];
            for (size_t i = 0; i < row_len; ++i) acc[i] += int32_t(r[i]) * ky;
        }
        uint8_t* dst = out.row(o);
        for (size_t i = 0; i < row_len; ++i) dst[i] = clip8(acc[i]);
    }
}

void resample_horizontal(const ImageU8& in, int64_t out_w, const Coefficients& co, ImageU8& out) {
    out.reshape(in.h, out_w, in.c);
    with_channels(in.c, [&](auto channels) {
        constexpr int C = channels;
        for (int64_t y = 0; y < in.h; ++y) {
            const uint8_t* src = in.row(y);
            uint8_t* dst = out.row(y);
            for (int64_t o = 0; o < out_w; ++o) {
                const int32_t* k = &co.weight[size_t(o * co.ksize)];
                const uint8_t* p = src + co.first[size_t(o)] * C;
                int32_t acc[C];
                for (int ch = 0; ch < C; ++ch) acc[ch] = half;
                for (int64_t x = 0; x < co.count[size_t(o)]; ++x)
                    for (int ch = 0; ch < C; ++ch) acc[ch] += int32_t(p[x * C + ch]) * k[x];
                for (int ch = 0; ch < C; ++ch) dst[o * C + ch] = clip8(acc[ch]);
            }
        }
    });
}

}  // namespace

std::array<int64_t, 2> resize_output_size(int64_t h, int64_t w, const std::vector<int64_t>& size,
                                          std::optional<int64_t> max_size) {
    if (size.size() == 2) return {size[0], size[1]};
    if (size.size() != 1) throw TransformError("resize: size takes one value (the shorter side) or two (h, w)");
    const int64_t short_side = std::min(h, w), long_side = std::max(h, w);
    int64_t new_short = size[0];
    int64_t new_long = int64_t(double(new_short) * double(long_side) / double(short_side));
    if (max_size) {
        if (*max_size <= new_short)
            throw TransformError("resize: max_size=" + std::to_string(*max_size) +
                                 " must be larger than the requested shorter side " + std::to_string(new_short));
        if (new_long > *max_size) {
            new_short = int64_t(double(*max_size) * double(new_short) / double(new_long));
            new_long = *max_size;
        }
    }
    return w <= h ? std::array<int64_t, 2>{new_long, new_short} : std::array<int64_t, 2>{new_short, new_long};
}

void resize_bilinear(const ImageU8& in, int64_t out_h, int64_t out_w, ImageU8& out) {
    if (in.h <= 0 || in.w <= 0 || in.c <= 0) throw TransformError("resize: empty image");
    if (out_h <= 0 || out_w <= 0)
        throw TransformError("resize: the output size " + std::to_string(out_h) + "×" + std::to_string(out_w) +
                             " of a " + std::to_string(in.h) + "×" + std::to_string(in.w) + " image is empty");
    // Per-thread scratch, so that a worker resizing image after image stops allocating.
    thread_local Coefficients co;
    thread_local ImageU8 tmp;
    const bool horizontal = out_w != in.w, vertical = out_h != in.h;
    if (!horizontal && !vertical) {
        out = in;
        return;
    }
    if (horizontal && !vertical) {
        precompute(in.w, out_w, co);
        resample_horizontal(in, out_w, co, out);
        return;
    }
    if (!horizontal) {
        precompute(in.h, out_h, co);
        resample_vertical(in, out_h, co, out);
        return;
    }
    precompute(in.w, out_w, co);
    resample_horizontal(in, out_w, co, tmp);  // PIL keeps the intermediate in 8 bits
    precompute(in.h, out_h, co);
    resample_vertical(tmp, out_h, co, out);
}

}  // namespace kiln::transforms
