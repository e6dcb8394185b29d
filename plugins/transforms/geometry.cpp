// Flips, padding, crops and the affine warps (affine, rotate) — see ops.h for the conventions.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "ops.h"

namespace kiln::transforms {

namespace {

constexpr double pi = 3.14159265358979323846;

double radians(double deg) { return deg * pi / 180.0; }

void require_image(const ImageU8& in, const char* op) {
    if (in.h <= 0 || in.w <= 0 || in.c <= 0)
        throw TransformError(std::string(op) + ": empty image (" + std::to_string(in.h) + "×" + std::to_string(in.w) +
                             "×" + std::to_string(in.c) + ")");
}

// The fill value of channel ch as an f32 (the warps) — one value serves every channel.
float fill_value(const Fill& fill, int64_t ch) { return fill.size() == 1 ? fill[0] : fill[size_t(ch)]; }

void require_fill_fits(const Fill& fill, int64_t channels, const char* op) {
    if (fill.size() > 1 && int64_t(fill.size()) != channels)
        throw TransformError(std::string(op) + ": fill has " + std::to_string(fill.size()) + " values for an image with " +
                             std::to_string(channels) + " channels (give 1 or " + std::to_string(channels) + ")");
}

uint8_t round_to_u8(float v) {  // torch.round (half to even), then the cast to uint8
    v = std::nearbyint(v);
    return uint8_t(std::clamp(v, 0.0f, 255.0f));
}

// Where an index outside [0, n) reads from under each padding mode (n ≥ 1; the caller checked
// that reflect/symmetric padding fits in one fold). -1 means "use the fill".
int64_t padded_index(int64_t i, int64_t n, PadMode mode) {
    if (i >= 0 && i < n) return i;
    switch (mode) {
    case PadMode::constant: return -1;
    case PadMode::edge: return std::clamp<int64_t>(i, 0, n - 1);
    case PadMode::reflect: return i < 0 ? -i : 2 * (n - 1) - i;
    case PadMode::symmetric: return i < 0 ? -i - 1 : 2 * n - 1 - i;
    }
    return -1;
}

// Samples `in` through m (output point → input point, both relative to the image centre) as
// torchvision's _gen_affine_grid + grid_sample(align_corners=False, padding zeros) do, in f32 and
// in the same order of operations, so nearest neighbours agree with torch even near ties.
void warp(const ImageU8& in, const std::array<double, 6>& m, int64_t out_h, int64_t out_w, Interpolation interp,
          const Fill& fill, ImageU8& out) {
    const int64_t W = in.w, H = in.h, C = in.c;
    out.reshape(out_h, out_w, C);
    const float half_w = 0.5f * float(W), half_h = 0.5f * float(H);
    // theta transposed and divided by (w/2, h/2): the grid in [-1, 1] units of the input.
    const float ax = float(m[0]) / half_w, bx = float(m[1]) / half_w, cx = float(m[2]) / half_w;
    const float ay = float(m[3]) / half_h, by = float(m[4]) / half_h, cy = float(m[5]) / half_h;
    const bool use_fill = !fill.empty();
    std::vector<float> acc(static_cast<size_t>(C));
    for (int64_t i = 0; i < out_h; ++i) {
        const float y = -float(out_h) * 0.5f + 0.5f + float(i);
        for (int64_t j = 0; j < out_w; ++j) {
            const float x = -float(out_w) * 0.5f + 0.5f + float(j);
            const float gx = x * ax + y * bx + cx, gy = x * ay + y * by + cy;
            const float ix = (gx + 1.0f) * half_w - 0.5f, iy = (gy + 1.0f) * half_h - 0.5f;
            uint8_t* o = out.pixel(i, j);
            if (interp == Interpolation::nearest) {
                const float rx = std::nearbyint(ix), ry = std::nearbyint(iy);
                const bool inside = rx >= 0 && rx < float(W) && ry >= 0 && ry < float(H);
                for (int64_t ch = 0; ch < C; ++ch) {
                    if (inside) o[ch] = in.at(int64_t(ry), int64_t(rx), ch);
                    else o[ch] = use_fill ? round_to_u8(fill_value(fill, ch)) : 0;
                }
                continue;
            }
            std::fill(acc.begin(), acc.end(), 0.0f);
            float mask = 0.0f;  // the sampled "ones" channel: how much of the pixel lies inside
            const bool near = ix > -1.0f && ix < float(W) && iy > -1.0f && iy < float(H);  // NaN-safe
            const float x0 = near ? std::floor(ix) : -2.0f, y0 = near ? std::floor(iy) : -2.0f;
            const float tw = ix - x0, te = 1.0f - tw, tn = iy - y0, ts = 1.0f - tn;
            const float weights[4] = {ts * te, ts * tw, tn * te, tn * tw};  // nw, ne, sw, se
            const int64_t xs[4] = {int64_t(x0), int64_t(x0) + 1, int64_t(x0), int64_t(x0) + 1};
            const int64_t ys[4] = {int64_t(y0), int64_t(y0), int64_t(y0) + 1, int64_t(y0) + 1};
            for (int k = 0; k < 4; ++k) {
                if (xs[k] < 0 || xs[k] >= W || ys[k] < 0 || ys[k] >= H) continue;
                mask += weights[k];
                const uint8_t* p = in.pixel(ys[k], xs[k]);
                for (int64_t ch = 0; ch < C; ++ch) acc[size_t(ch)] += weights[k] * float(p[ch]);
            }
            for (int64_t ch = 0; ch < C; ++ch) {
                float v = acc[size_t(ch)];
                // torchvision's blend with the fill multiplies the (already zero-padded) sample by
                // the mask once more; kept so that results match.
                if (use_fill) v = v * mask + (1.0f - mask) * fill_value(fill, ch);
                o[ch] = round_to_u8(v);
            }
        }
    }
}

// A pixel centre given in image coordinates, moved to the frame centred on the image.
std::array<double, 2> centred(std::optional<std::array<double, 2>> center, const ImageU8& in) {
    if (!center) return {0.0, 0.0};
    return {(*center)[0] - double(in.w) * 0.5, (*center)[1] - double(in.h) * 0.5};
}

}  // namespace

void hflip(const ImageU8& in, ImageU8& out) {
    require_image(in, "hflip");
    out.reshape(in.h, in.w, in.c);
    with_channels(in.c, [&](auto channels) {
        constexpr int C = channels;
        for (int64_t y = 0; y < in.h; ++y) {
            const uint8_t* src = in.row(y);
            uint8_t* dst = out.row(y);
            for (int64_t x = 0; x < in.w; ++x)
                for (int ch = 0; ch < C; ++ch) dst[x * C + ch] = src[(in.w - 1 - x) * C + ch];
        }
    });
}

void vflip(const ImageU8& in, ImageU8& out) {
    require_image(in, "vflip");
    out.reshape(in.h, in.w, in.c);
    const size_t row_bytes = size_t(in.w * in.c);
    for (int64_t y = 0; y < in.h; ++y) std::memcpy(out.row(y), in.row(in.h - 1 - y), row_bytes);
}

void pad(const ImageU8& in, Padding p, PadMode mode, const Fill& fill, ImageU8& out) {
    require_image(in, "pad");
    if (p.left < 0 || p.top < 0 || p.right < 0 || p.bottom < 0) throw TransformError("pad: padding must not be negative");
    require_fill_fits(fill, in.c, "pad");
    if (mode == PadMode::reflect && (std::max(p.left, p.right) >= in.w || std::max(p.top, p.bottom) >= in.h))
        throw TransformError("pad: reflect padding must be smaller than the image (" + std::to_string(in.h) + "×" +
                             std::to_string(in.w) + ")");
    if (mode == PadMode::symmetric && (std::max(p.left, p.right) > in.w || std::max(p.top, p.bottom) > in.h))
        throw TransformError("pad: symmetric padding must not exceed the image (" + std::to_string(in.h) + "×" +
                             std::to_string(in.w) + ")");
    out.reshape(in.h + p.top + p.bottom, in.w + p.left + p.right, in.c);
    for (int64_t y = 0; y < out.h; ++y) {
        const int64_t sy = padded_index(y - p.top, in.h, mode);
        for (int64_t x = 0; x < out.w; ++x) {
            const int64_t sx = padded_index(x - p.left, in.w, mode);
            for (int64_t ch = 0; ch < in.c; ++ch) {
                if (sy >= 0 && sx >= 0) {
                    out.at(y, x, ch) = in.at(sy, sx, ch);
                } else {  // torch casts a constant pad value to uint8: truncation
                    const float f = fill.empty() ? 0.0f : fill_value(fill, ch);
                    out.at(y, x, ch) = uint8_t(std::clamp(f, 0.0f, 255.0f));
                }
            }
        }
    }
}

void crop(const ImageU8& in, int64_t top, int64_t left, int64_t h, int64_t w, ImageU8& out) {
    require_image(in, "crop");
    if (h <= 0 || w <= 0 || top < 0 || left < 0 || top + h > in.h || left + w > in.w)
        throw TransformError("crop: region " + std::to_string(h) + "×" + std::to_string(w) + " at (" +
                             std::to_string(top) + ", " + std::to_string(left) + ") is not inside the " +
                             std::to_string(in.h) + "×" + std::to_string(in.w) + " image");
    out.reshape(h, w, in.c);
    for (int64_t y = 0; y < h; ++y) std::memcpy(out.row(y), in.pixel(top + y, left), size_t(w * in.c));
}

Offset center_crop_offset(int64_t h, int64_t w, int64_t crop_h, int64_t crop_w) {
    // std::nearbyint rounds half to even under the default rounding mode, as Python's round().
    return {int64_t(std::nearbyint(double(h - crop_h) / 2.0)), int64_t(std::nearbyint(double(w - crop_w) / 2.0))};
}

void center_crop(const ImageU8& in, int64_t crop_h, int64_t crop_w, ImageU8& out) {
    require_image(in, "center_crop");
    if (crop_h <= 0 || crop_w <= 0) throw TransformError("center_crop: the crop size must be positive");
    if (crop_h > in.h || crop_w > in.w) {
        Padding p;
        if (crop_w > in.w) p.left = (crop_w - in.w) / 2, p.right = (crop_w - in.w + 1) / 2;
        if (crop_h > in.h) p.top = (crop_h - in.h) / 2, p.bottom = (crop_h - in.h + 1) / 2;
        ImageU8 padded;
        pad(in, p, PadMode::constant, {}, padded);
        const Offset o = center_crop_offset(padded.h, padded.w, crop_h, crop_w);
        crop(padded, o.top, o.left, crop_h, crop_w, out);
        return;
    }
    const Offset o = center_crop_offset(in.h, in.w, crop_h, crop_w);
    crop(in, o.top, o.left, crop_h, crop_w, out);
}

std::array<double, 6> inverse_affine_matrix(std::array<double, 2> center, double angle_deg,
                                            std::array<double, 2> translate, double scale,
                                            std::array<double, 2> shear_deg) {
    // Forward: M = T · C · R(angle) · S(scale) · ShearY · ShearX · C⁻¹ (C moves the centre to the
    // origin). R·ShearY·ShearX without the scale is [[a, b], [c, d]] with determinant 1, so its
    // inverse is [[d, -b], [-c, a]]; the inverse map is C · (RSS)⁻¹ · C⁻¹ · T⁻¹.
    const double rot = radians(angle_deg), sx = radians(shear_deg[0]), sy = radians(shear_deg[1]);
    const double a = std::cos(rot - sy) / std::cos(sy);
    const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
    const double c = std::sin(rot - sy) / std::cos(sy);
    const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
    std::array<double, 6> m{d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0};
    const double ux = -center[0] - translate[0], uy = -center[1] - translate[1];
    m[2] = m[0] * ux + m[1] * uy + center[0];
    m[5] = m[3] * ux + m[4] * uy + center[1];
    return m;
}

void affine(const ImageU8& in, const Affine& a, Interpolation interp, const Fill& fill, ImageU8& out) {
    require_image(in, "affine");
    require_fill_fits(fill, in.c, "affine");
    if (!(a.scale > 0)) throw TransformError("affine: scale must be positive");
    const auto m = inverse_affine_matrix(centred(a.center, in), a.angle_deg, a.translate, a.scale, a.shear_deg);
    warp(in, m, in.h, in.w, interp, fill, out);
}

void rotate(const ImageU8& in, double angle_deg, Interpolation interp, bool expand,
            std::optional<std::array<double, 2>> center, const Fill& fill, ImageU8& out) {
    require_image(in, "rotate");
    require_fill_fits(fill, in.c, "rotate");
    // F.rotate turns counter-clockwise: the affine matrix of -angle.
    const auto m = inverse_affine_matrix(centred(center, in), -angle_deg, {0.0, 0.0}, 1.0, {0.0, 0.0});
    int64_t out_h = in.h, out_w = in.w;
    if (expand) {
        // The box holding the image's corners mapped through m, as torchvision's
        // _compute_affine_output_size computes it: in f32, each end cut to 1e-4 before rounding
        // outwards, so that 90° (cos = 6e-17) turns a 2×4 image into exactly 4×2.
        const float hw = 0.5f * float(in.w), hh = 0.5f * float(in.h), tol = 1e-4f;
        float lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
        for (float px : {-hw, hw})
            for (float py : {-hh, hh}) {
                const float q[2] = {px * float(m[0]) + py * float(m[1]) + float(m[2]),
                                    px * float(m[3]) + py * float(m[4]) + float(m[5])};
                for (int k = 0; k < 2; ++k) lo[k] = std::min(lo[k], q[k]), hi[k] = std::max(hi[k], q[k]);
            }
        auto span = [&](int k, float half) {
            const float top = std::ceil(std::trunc((hi[k] + half) / tol) * tol);
            const float bottom = std::floor(std::trunc((lo[k] + half) / tol) * tol);
            return int64_t(top - bottom);
        };
        out_w = span(0, hw), out_h = span(1, hh);
    }
    warp(in, m, out_h, out_w, interp, fill, out);
}

}  // namespace kiln::transforms
