// Colour operations: grayscale (PIL) and torchvision's uint8-tensor colour functional — see ops.h.
// The blends reproduce torch's f32 arithmetic operation by operation (the plugin is compiled
// with -ffp-contract=off so that no multiply-add is fused): their results are truncated to u8,
// so one rounding step more or less would move a pixel by one.
#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "ops.h"

namespace kiln::transforms {

namespace {

void require_grey_or_rgb(const ImageU8& in, const char* op) {
    if (in.h <= 0 || in.w <= 0) throw TransformError(std::string(op) + ": empty image");
    if (in.c != 1 && in.c != 3)
        throw TransformError(std::string(op) + ": needs a grey or RGB image (1 or 3 channels), got " +
                             std::to_string(in.c) + " channels");
}

// torchvision's _blend: (ratio·a + (1 − ratio)·b) in f32, clamped to [0, 255], truncated.
struct Blend {
    float ratio, rest;
    explicit Blend(double r) : ratio(float(r)), rest(float(1.0 - r)) {}
    uint8_t operator()(float a, float b) const {
        const float v = ratio * a + rest * b;
        return uint8_t(std::clamp(v, 0.0f, 255.0f));
    }
};

// Per-pixel grey from grey_for_blend, or the image itself when it has one channel.
void grey_plane(const ImageU8& in, ImageU8& grey) {
    if (in.c == 1) grey = in;
    else grey_for_blend(in, grey);
}

}  // namespace

void grayscale(const ImageU8& in, int num_output_channels, ImageU8& out) {
    require_grey_or_rgb(in, "grayscale");
    if (num_output_channels != 1 && num_output_channels != 3)
        throw TransformError("grayscale: num_output_channels must be 1 or 3, got " + std::to_string(num_output_channels));
    out.reshape(in.h, in.w, num_output_channels);
    const int64_t n = in.h * in.w;
    for (int64_t i = 0; i < n; ++i) {
        const uint8_t* p = &in.px[size_t(i * in.c)];
        const uint8_t l = in.c == 1 ? p[0] : uint8_t((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 0x8000u) >> 16);
        for (int k = 0; k < num_output_channels; ++k) out.px[size_t(i * num_output_channels + k)] = l;
    }
}

void grey_for_blend(const ImageU8& in, ImageU8& out) {
    if (in.c != 3) throw TransformError("grey_for_blend: needs an RGB image");
    out.reshape(in.h, in.w, 1);
    const int64_t n = in.h * in.w;
    for (int64_t i = 0; i < n; ++i) {
        const uint8_t* p = &in.px[size_t(i * 3)];
        const float l = 0.2989f * float(p[0]) + 0.587f * float(p[1]) + 0.114f * float(p[2]);
        out.px[size_t(i)] = uint8_t(l);
    }
}

void adjust_brightness(const ImageU8& in, double factor, ImageU8& out) {
    require_grey_or_rgb(in, "brightness");
    if (factor < 0) throw TransformError("brightness: the factor must not be negative");
    const Blend blend(factor);
    out.reshape(in.h, in.w, in.c);
    for (size_t i = 0; i < in.px.size(); ++i) out.px[i] = blend(float(in.px[i]), 0.0f);
}

void adjust_saturation(const ImageU8& in, double factor, ImageU8& out) {
    require_grey_or_rgb(in, "color");
    if (factor < 0) throw TransformError("color: the factor must not be negative");
    if (in.c == 1) {  // torchvision (like PIL) leaves a grey image alone
        out = in;
        return;
    }
    thread_local ImageU8 grey;
    grey_for_blend(in, grey);
    const Blend blend(factor);
    out.reshape(in.h, in.w, in.c);
    for (size_t i = 0; i < in.px.size(); ++i) out.px[i] = blend(float(in.px[i]), float(grey.px[i / 3]));
}

void adjust_contrast(const ImageU8& in, double factor, ImageU8& out) {
    require_grey_or_rgb(in, "contrast");
    if (factor < 0) throw TransformError("contrast: the factor must not be negative");
    thread_local ImageU8 grey;
    grey_plane(in, grey);
    int64_t sum = 0;
    for (uint8_t v : grey.px) sum += v;
    const float mean = float(sum) / float(grey.px.size());  // torch: f32 sum, then / N
    const Blend blend(factor);
    out.reshape(in.h, in.w, in.c);
    for (size_t i = 0; i < in.px.size(); ++i) out.px[i] = blend(float(in.px[i]), mean);
}

void adjust_sharpness(const ImageU8& in, double factor, ImageU8& out) {
    require_grey_or_rgb(in, "sharpness");
    if (factor < 0) throw TransformError("sharpness: the factor must not be negative");
    if (in.h <= 2 || in.w <= 2) {  // no interior to blur: torchvision returns the image
        out = in;
        return;
    }
    // The blur, border pixels kept: round(Σ(8 neighbours) + 5·centre) / 13). The exact quotient
    // is never within 1/26 of a half, so integer rounding equals torch's f32 conv + round.
    thread_local ImageU8 blurred;
    blurred = in;
    const int64_t C = in.c;
    for (int64_t y = 1; y + 1 < in.h; ++y)
        for (int64_t x = 1; x + 1 < in.w; ++x)
            for (int64_t ch = 0; ch < C; ++ch) {
                int sum = 4 * in.at(y, x, ch);
                for (int dy = -1; dy <= 1; ++dy)
                    for (int dx = -1; dx <= 1; ++dx) sum += in.at(y + dy, x + dx, ch);
                blurred.at(y, x, ch) = uint8_t((2 * sum + 13) / 26);
            }
    const Blend blend(factor);
    out.reshape(in.h, in.w, in.c);
    for (size_t i = 0; i < in.px.size(); ++i) out.px[i] = blend(float(in.px[i]), float(blurred.px[i]));
}

void posterize(const ImageU8& in, int bits, ImageU8& out) {
    require_grey_or_rgb(in, "posterize");
    if (bits < 0 || bits > 8) throw TransformError("posterize: bits must be in 0..8, got " + std::to_string(bits));
    const uint8_t mask = uint8_t(~((1u << (8 - bits)) - 1u));
    out.reshape(in.h, in.w, in.c);
    for (size_t i = 0; i < in.px.size(); ++i) out.px[i] = in.px[i] & mask;
}

void solarize(const ImageU8& in, double threshold, ImageU8& out) {
    require_grey_or_rgb(in, "solarize");
    if (threshold > 255) throw TransformError("solarize: the threshold must not exceed 255");
    const float t = float(threshold);  // torch compares the u8 pixels with the threshold in f32
    out.reshape(in.h, in.w, in.c);
    for (size_t i = 0; i < in.px.size(); ++i) out.px[i] = float(in.px[i]) >= t ? uint8_t(255 - in.px[i]) : in.px[i];
}

void autocontrast(const ImageU8& in, ImageU8& out) {
    require_grey_or_rgb(in, "autocontrast");
    out.reshape(in.h, in.w, in.c);
    const int64_t C = in.c, n = in.h * in.w;
    for (int64_t ch = 0; ch < C; ++ch) {
        uint8_t lo = 255, hi = 0;
        for (int64_t i = 0; i < n; ++i) lo = std::min(lo, in.px[size_t(i * C + ch)]), hi = std::max(hi, in.px[size_t(i * C + ch)]);
        // torch evaluates bound / (max − min) as reciprocal(max − min) · bound: two roundings.
        float minimum = float(lo), scale = (1.0f / (float(hi) - float(lo))) * 255.0f;
        if (!std::isfinite(scale)) minimum = 0.0f, scale = 1.0f;  // a flat channel stays as it is
        for (int64_t i = 0; i < n; ++i) {
            const float v = (float(in.px[size_t(i * C + ch)]) - minimum) * scale;
            out.px[size_t(i * C + ch)] = uint8_t(std::clamp(v, 0.0f, 255.0f));
        }
    }
}

void equalize(const ImageU8& in, ImageU8& out) {
    require_grey_or_rgb(in, "equalize");
    out.reshape(in.h, in.w, in.c);
    const int64_t C = in.c, n = in.h * in.w;
    for (int64_t ch = 0; ch < C; ++ch) {
        std::array<int64_t, 256> hist{};
        for (int64_t i = 0; i < n; ++i) ++hist[in.px[size_t(i * C + ch)]];
        // step = (pixel count − the count of the brightest value present) // 255
        int64_t last_nonzero = 0;
        for (int v = 0; v < 256; ++v)
            if (hist[size_t(v)]) last_nonzero = hist[size_t(v)];
        const int64_t step = (n - last_nonzero) / 255;
        std::array<uint8_t, 256> lut{};
        if (step == 0) {
            for (int v = 0; v < 256; ++v) lut[size_t(v)] = uint8_t(v);
        } else {
            // lut[v] = (pixels below v + step // 2) // step, capped at 255
            int64_t below = 0;
            for (int v = 0; v < 256; ++v) {
                lut[size_t(v)] = uint8_t(std::min<int64_t>((below + step / 2) / step, 255));
                below += hist[size_t(v)];
            }
        }
        for (int64_t i = 0; i < n; ++i) out.px[size_t(i * C + ch)] = lut[in.px[size_t(i * C + ch)]];
    }
}

}  // namespace kiln::transforms
