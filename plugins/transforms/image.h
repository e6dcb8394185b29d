// The two kinds of sample the transforms work on: u8 images H×W×C (the plugin ABI's layout,
// C = 1 grey or 3 RGB) and f32 tensors C×H×W (after to_tensor, as torchvision).
// Both own their pixels in a std::vector; reshape() keeps the capacity, so a buffer reused from
// sample to sample stops allocating once it has seen the largest image.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace kiln::transforms {

// Thrown by an operation for input it cannot take (the plugin's entry points turn it into
// KILN_ERR_INVALID with this message).
struct TransformError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The most pixels a transform will make: PIL's decompression-bomb limit (and kiln's default
// max_pixels when decoding), so that a configuration such as size=30000 cannot ask for gigabytes.
inline constexpr int64_t max_pixels = 89478485;

inline void check_pixels(int64_t h, int64_t w) {
    if (h < 0 || w < 0 || (w > 0 && h > max_pixels / w))
        throw TransformError("an image of " + std::to_string(h) + "×" + std::to_string(w) + " pixels exceeds the limit of " +
                             std::to_string(max_pixels));
}

struct ImageU8 {
    int64_t h = 0, w = 0, c = 0;
    std::vector<uint8_t> px;

    ImageU8() = default;
    ImageU8(int64_t h_, int64_t w_, int64_t c_) { reshape(h_, w_, c_); }
    ImageU8(int64_t h_, int64_t w_, int64_t c_, std::vector<uint8_t> pixels) : h(h_), w(w_), c(c_), px(std::move(pixels)) {
        if (px.size() != size_t(h * w * c)) throw TransformError("ImageU8: pixel count does not match H×W×C");
    }
    void reshape(int64_t h_, int64_t w_, int64_t c_) {
        check_pixels(h_, w_);
        h = h_, w = w_, c = c_;
        px.resize(size_t(h * w * c));
    }
    uint8_t& at(int64_t y, int64_t x, int64_t ch) { return px[size_t((y * w + x) * c + ch)]; }
    uint8_t at(int64_t y, int64_t x, int64_t ch) const { return px[size_t((y * w + x) * c + ch)]; }
    const uint8_t* pixel(int64_t y, int64_t x) const { return px.data() + (y * w + x) * c; }
    uint8_t* pixel(int64_t y, int64_t x) { return px.data() + (y * w + x) * c; }
    const uint8_t* row(int64_t y) const { return px.data() + y * w * c; }
    uint8_t* row(int64_t y) { return px.data() + y * w * c; }
};

struct TensorF32 {
    int64_t c = 0, h = 0, w = 0;
    std::vector<float> v;

    void reshape(int64_t c_, int64_t h_, int64_t w_) {
        check_pixels(h_, w_);
        c = c_, h = h_, w = w_;
        v.resize(size_t(c * h * w));
    }
    float& at(int64_t ch, int64_t y, int64_t x) { return v[size_t((ch * h + y) * w + x)]; }
    float at(int64_t ch, int64_t y, int64_t x) const { return v[size_t((ch * h + y) * w + x)]; }
};

// Calls f(std::integral_constant<int, C>{}) with C = c (1 to 4), so that per-pixel loops know the
// channel count at compile time (a memcpy of c bytes per pixel costs more than the pixel).
template <class F>
void with_channels(int64_t c, F&& f) {
    switch (c) {
    case 1: f(std::integral_constant<int, 1>{}); return;
    case 2: f(std::integral_constant<int, 2>{}); return;
    case 3: f(std::integral_constant<int, 3>{}); return;
    case 4: f(std::integral_constant<int, 4>{}); return;
    default: throw TransformError("images have 1 to 4 channels, got " + std::to_string(c));
    }
}

}  // namespace kiln::transforms
