// ToTensor and Normalize, as torchvision: u8 H×W×C → f32 C×H×W in [0, 1]; (x − mean) / std.
#include <string>

#include "ops.h"

namespace kiln::transforms {

void to_tensor(const ImageU8& in, TensorF32& out) {
    if (in.h <= 0 || in.w <= 0 || in.c <= 0) throw TransformError("to_tensor: empty image");
    out.reshape(in.c, in.h, in.w);
    for (int64_t y = 0; y < in.h; ++y)
        for (int64_t x = 0; x < in.w; ++x)
            for (int64_t ch = 0; ch < in.c; ++ch) out.at(ch, y, x) = float(in.at(y, x, ch)) / 255.0f;  // a division, as torch
}

void normalize(TensorF32& t, const std::vector<float>& mean, const std::vector<float>& std) {
    auto check = [&](const std::vector<float>& v, const char* what) {
        if (v.size() != 1 && int64_t(v.size()) != t.c)
            throw TransformError(std::string("normalize: ") + what + " has " + std::to_string(v.size()) +
                                 " values for a tensor with " + std::to_string(t.c) + " channels (give 1 or " +
                                 std::to_string(t.c) + ")");
    };
    check(mean, "mean");
    check(std, "std");
    for (float s : std)
        if (s == 0.0f) throw TransformError("normalize: std must not be 0 (it divides)");
    const int64_t plane = t.h * t.w;
    for (int64_t ch = 0; ch < t.c; ++ch) {
        const float m = mean.size() == 1 ? mean[0] : mean[size_t(ch)];
        const float s = std.size() == 1 ? std[0] : std[size_t(ch)];
        float* p = &t.v[size_t(ch * plane)];
        for (int64_t i = 0; i < plane; ++i) p[i] = (p[i] - m) / s;
    }
}

}  // namespace kiln::transforms
