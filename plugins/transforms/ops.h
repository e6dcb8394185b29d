// The image arithmetic behind the transforms plugin, as plain functions (the tests call them
// directly; plugin.cpp wraps them in the C ABI). Semantics follow torchvision.transforms v1:
// - geometry (flips, pad, crops, affine, rotate) as its functional on uint8 tensors: the inverse
//   affine matrix of _get_inverse_affine_matrix in a frame centred on the image, sampled like
//   grid_sample(align_corners=False) in f32 — nearest rounds half to even, bilinear pads with
//   zeros — and a fill, when given, blended in through a sampled mask;
// - colour ops as its uint8-tensor functional: f32 blends truncated to u8 (_blend), grey from
//   0.2989 R + 0.587 G + 0.114 B truncated, sharpness from the 3×3 [[1,1,1],[1,5,1],[1,1,1]]/13
//   blur rounded, borders kept; posterize, solarize, autocontrast and equalize as torchvision
//   (equalize is PIL's ImageOps.equalize);
// - resize as PIL's antialiased bilinear (Image.resize(BILINEAR), which torchvision uses for PIL
//   images; its tensor paths agree within one): a triangle filter whose support grows with the
//   downscale factor, 22-bit fixed-point weights, horizontal pass then vertical through a u8
//   intermediate, each rounded half up (Pillow up to 12; Pillow 13 runs the vertical pass first
//   when the height shrinks much more than the width, which can move a pixel by one);
// - grayscale as PIL's convert("L"): (19595 R + 38470 G + 7471 B + 2^15) >> 16, which is
//   ITU-R 601-2's (299 R + 587 G + 114 B) / 1000 rounded.
// Operations write into `out` (resized to fit; it must not be `in`) and throw TransformError for
// input they cannot take.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "image.h"

namespace kiln::transforms {

enum class Interpolation { nearest, bilinear };

// Per-channel fill for the area outside a transformed image: empty = none (zeros, no mask, as
// torchvision's fill=None); one value = every channel; otherwise one value per channel.
using Fill = std::vector<float>;

// ---- geometry ----
void hflip(const ImageU8& in, ImageU8& out);
void vflip(const ImageU8& in, ImageU8& out);

enum class PadMode { constant, edge, reflect, symmetric };
struct Padding {
    int64_t left = 0, top = 0, right = 0, bottom = 0;
};
// torchvision's F.pad: constant uses fill (a number per channel or one for all); reflect mirrors
// without repeating the edge pixel and needs padding < size, symmetric repeats it.
void pad(const ImageU8& in, Padding p, PadMode mode, const Fill& fill, ImageU8& out);
// The region rows [top, top+h) × cols [left, left+w), which must lie inside `in`.
void crop(const ImageU8& in, int64_t top, int64_t left, int64_t h, int64_t w, ImageU8& out);

struct Offset {
    int64_t top, left;
};
// torchvision's centre crop offsets: int(round((size - crop) / 2.0)), Python's round (half to even).
Offset center_crop_offset(int64_t h, int64_t w, int64_t crop_h, int64_t crop_w);
// F.center_crop: a crop larger than the image first pads it with zeros ((crop - size) // 2 on the
// left/top, the rest on the right/bottom).
void center_crop(const ImageU8& in, int64_t crop_h, int64_t crop_w, ImageU8& out);

// torchvision's _get_inverse_affine_matrix (inverted=True): the matrix taking an output point to
// the input point it samples, both relative to `center`; angles in degrees.
std::array<double, 6> inverse_affine_matrix(std::array<double, 2> center, double angle_deg,
                                            std::array<double, 2> translate, double scale,
                                            std::array<double, 2> shear_deg);

struct Affine {
    double angle_deg = 0;                  // clockwise in the image, as F.affine
    std::array<double, 2> translate{0, 0}; // pixels, x then y
    double scale = 1;
    std::array<double, 2> shear_deg{0, 0}; // x then y
    // Pixel coordinates (origin at the top-left corner of the image); none = the image centre.
    std::optional<std::array<double, 2>> center;
};
void affine(const ImageU8& in, const Affine& a, Interpolation interp, const Fill& fill, ImageU8& out);
// F.rotate: counter-clockwise by angle_deg about center (default the image centre); expand makes
// the output large enough to hold the whole rotated image.
void rotate(const ImageU8& in, double angle_deg, Interpolation interp, bool expand,
            std::optional<std::array<double, 2>> center, const Fill& fill, ImageU8& out);

// ---- resize ----
// torchvision's output size: {size} scales the shorter side to size and the longer to
// int(size * long / short) (then caps it at max_size, shrinking the shorter one to match);
// {h, w} is exact.
std::array<int64_t, 2> resize_output_size(int64_t h, int64_t w, const std::vector<int64_t>& size,
                                          std::optional<int64_t> max_size);
void resize_bilinear(const ImageU8& in, int64_t out_h, int64_t out_w, ImageU8& out);

// ---- colour ----
void grayscale(const ImageU8& in, int num_output_channels, ImageU8& out);  // PIL's L
void adjust_brightness(const ImageU8& in, double factor, ImageU8& out);    // blend with black
void adjust_saturation(const ImageU8& in, double factor, ImageU8& out);    // blend with grey
void adjust_contrast(const ImageU8& in, double factor, ImageU8& out);      // blend with mean grey
void adjust_sharpness(const ImageU8& in, double factor, ImageU8& out);     // blend with the blur
void posterize(const ImageU8& in, int bits, ImageU8& out);                 // keep the top bits
void solarize(const ImageU8& in, double threshold, ImageU8& out);          // invert v >= threshold
void autocontrast(const ImageU8& in, ImageU8& out);                        // per channel min..max → 0..255
void equalize(const ImageU8& in, ImageU8& out);                            // per channel histogram
// torchvision's uint8-tensor grey, 0.2989 R + 0.587 G + 0.114 B truncated (white gives 254),
// which Color and Contrast blend with. One channel in, one out.
void grey_for_blend(const ImageU8& in, ImageU8& out);

// ---- tensors ----
void to_tensor(const ImageU8& in, TensorF32& out);  // u8 H×W×C → f32 C×H×W, v / 255
// (x - mean[c]) / std[c]; one value applies to every channel.
void normalize(TensorF32& t, const std::vector<float>& mean, const std::vector<float>& std);

// ---- TrivialAugmentWide ----
enum class TaOp {
    identity, shear_x, shear_y, translate_x, translate_y, rotate, brightness, color, contrast,
    sharpness, posterize, solarize, autocontrast, equalize
};
inline constexpr int ta_op_count = 14;
std::string_view ta_op_name(TaOp op);
// The op's magnitude bins (f32, as torch.linspace / arange compute them); empty for the ops
// without a magnitude (identity, autocontrast, equalize).
std::vector<float> ta_magnitudes(TaOp op, int num_bins);
bool ta_signed(TaOp op);

struct TaChoice {
    TaOp op;
    int bin;           // -1 for ops without a magnitude
    double magnitude;  // with its sign
};
// The op (uniform over the 14), the bin (uniform) and, for signed ops, the sign (fair), drawn in
// that order from a Generator seeded with `seed` — a function of the seed alone.
TaChoice ta_choose(uint64_t seed, int num_bins);
// One op at a given (signed) magnitude, as torchvision's autoaugment._apply_op.
void ta_apply(const ImageU8& in, TaOp op, double magnitude, Interpolation interp, const Fill& fill, ImageU8& out);

}  // namespace kiln::transforms
