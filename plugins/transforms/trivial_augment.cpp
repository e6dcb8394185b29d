// TrivialAugmentWide: one op drawn uniformly from torchvision's 14, at a magnitude drawn
// uniformly from its bins ("wide" ranges), with a fair sign for the signed ops.
#include <cmath>
#include <string>

#include "kiln/core/rng.h"
#include "ops.h"

namespace kiln::transforms {

namespace {

constexpr double pi = 3.14159265358979323846;

// torch.linspace(start, end, steps) in f32 as its CPU kernel computes it: the first half counts
// up from start, the second down from end, each a fused multiply-add (one rounding). The values
// matter: torch's 16th translate bin is 15.999999, so int() makes it 15 pixels, not 16.
std::vector<float> linspace(float start, float end, int steps) {
    std::vector<float> v(static_cast<size_t>(steps));
    const float step = (end - start) / float(steps - 1);
    for (int i = 0; i < steps; ++i)
        v[size_t(i)] = i < steps / 2 ? std::fma(step, float(i), start) : std::fma(-step, float(steps - i - 1), end);
    return v;
}

}  // namespace

std::string_view ta_op_name(TaOp op) {
    static constexpr std::string_view names[ta_op_count] = {
        "Identity", "ShearX",     "ShearY",     "TranslateX", "TranslateY",   "Rotate",   "Brightness",
        "Color",    "Contrast",   "Sharpness",  "Posterize",  "Solarize",     "AutoContrast", "Equalize"};
    return names[int(op)];
}

std::vector<float> ta_magnitudes(TaOp op, int num_bins) {
    if (num_bins < 2) throw TransformError("trivial_augment_wide: num_magnitude_bins must be at least 2");
    switch (op) {
    case TaOp::shear_x:
    case TaOp::shear_y:
    case TaOp::brightness:
    case TaOp::color:
    case TaOp::contrast:
    case TaOp::sharpness: return linspace(0.0f, 0.99f, num_bins);
    case TaOp::translate_x:
    case TaOp::translate_y: return linspace(0.0f, 32.0f, num_bins);
    case TaOp::rotate: return linspace(0.0f, 135.0f, num_bins);
    case TaOp::solarize: return linspace(255.0f, 0.0f, num_bins);
    case TaOp::posterize: {  // 8 − round(i / ((bins − 1) / 6)) bits, rounded half to even in f32
        std::vector<float> v(static_cast<size_t>(num_bins));
        const float d = float(double(num_bins - 1) / 6.0);
        for (int i = 0; i < num_bins; ++i) v[size_t(i)] = 8.0f - std::nearbyint(float(i) / d);
        return v;
    }
    case TaOp::identity:
    case TaOp::autocontrast:
    case TaOp::equalize: return {};
    }
    return {};
}

bool ta_signed(TaOp op) {
    switch (op) {
    case TaOp::shear_x:
    case TaOp::shear_y:
    case TaOp::translate_x:
    case TaOp::translate_y:
    case TaOp::rotate:
    case TaOp::brightness:
    case TaOp::color:
    case TaOp::contrast:
    case TaOp::sharpness: return true;
    default: return false;
    }
}

TaChoice ta_choose(uint64_t seed, int num_bins) {
    Generator g(seed);
    TaChoice choice{TaOp(g.below(ta_op_count)), -1, 0.0};
    const std::vector<float> magnitudes = ta_magnitudes(choice.op, num_bins);
    if (!magnitudes.empty()) {
        choice.bin = int(g.below(magnitudes.size()));
        choice.magnitude = magnitudes[size_t(choice.bin)];
    }
    if (ta_signed(choice.op) && g.below(2)) choice.magnitude = -choice.magnitude;
    return choice;
}

void ta_apply(const ImageU8& in, TaOp op, double magnitude, Interpolation interp, const Fill& fill, ImageU8& out) {
    if (in.c != 1 && in.c != 3)
        throw TransformError("trivial_augment_wide: needs a grey or RGB image (1 or 3 channels), got " +
                             std::to_string(in.c) + " channels");
    // torchvision shears by atan(magnitude) degrees about the top-left corner, so that a row y
    // pixels down moves by magnitude·y.
    const double shear_deg = std::atan(magnitude) * 180.0 / pi;
    switch (op) {
    case TaOp::identity: out = in; return;
    case TaOp::shear_x: return affine(in, Affine{0, {0, 0}, 1, {shear_deg, 0}, std::array<double, 2>{0, 0}}, interp, fill, out);
    case TaOp::shear_y: return affine(in, Affine{0, {0, 0}, 1, {0, shear_deg}, std::array<double, 2>{0, 0}}, interp, fill, out);
    // int(magnitude): whole pixels, truncated towards zero
    case TaOp::translate_x: return affine(in, Affine{0, {std::trunc(magnitude), 0}, 1, {0, 0}, {}}, interp, fill, out);
    case TaOp::translate_y: return affine(in, Affine{0, {0, std::trunc(magnitude)}, 1, {0, 0}, {}}, interp, fill, out);
    case TaOp::rotate: return rotate(in, magnitude, interp, false, {}, fill, out);
    case TaOp::brightness: return adjust_brightness(in, 1.0 + magnitude, out);
    case TaOp::color: return adjust_saturation(in, 1.0 + magnitude, out);
    case TaOp::contrast: return adjust_contrast(in, 1.0 + magnitude, out);
    case TaOp::sharpness: return adjust_sharpness(in, 1.0 + magnitude, out);
    case TaOp::posterize: return posterize(in, int(magnitude), out);
    case TaOp::solarize: return solarize(in, magnitude, out);
    case TaOp::autocontrast: return autocontrast(in, out);
    case TaOp::equalize: return equalize(in, out);
    }
}

}  // namespace kiln::transforms
