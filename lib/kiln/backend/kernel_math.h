// Arithmetic shared by every backend's kernels, written once as KILN_HD functions so that the CPU
// reference, the SIMD path and CUDA kernels compute the same thing, and so the CUDA versions can be
// unit-tested on the CPU. Only plain data here: no allocation, no exceptions.
#pragma once
#include <cmath>
#include <cstdint>

#include "kiln/op/kernel_call.h"
#include "kiln/core/hostdevice.h"
#include "kiln/core/rng.h"

namespace kiln {

// Maps a linear index of `out` to the linear index of an operand broadcast to it (numpy rules).
struct Broadcast {
    int rank = 0;
    int64_t dims[Shape::max_rank] = {};
    int64_t stride[Shape::max_rank] = {};  // operand stride for each out dimension (0 = broadcast)

    KILN_HD Broadcast(const Shape& out, const Shape& operand) {
        rank = out.rank;
        int64_t s = 1;
        for (int d = out.rank - 1; d >= 0; --d) {
            int od = operand.rank - out.rank + d;
            int64_t size = od >= 0 ? operand.dims[od] : 1;
            dims[d] = out.dims[d];
            stride[d] = size == 1 ? 0 : s;
            s *= size;
        }
    }
    KILN_HD int64_t offset(int64_t i) const {
        int64_t off = 0;
        for (int d = rank - 1; d >= 0; --d) {
            off += (i % dims[d]) * stride[d];
            i /= dims[d];
        }
        return off;
    }
};

// A tensor seen as [outer, dim, inner] around one axis (softmax, reductions along an axis).
struct Lanes {
    int64_t outer = 1, dim = 1, inner = 1;
    KILN_HD Lanes(const Shape& s, int axis) {
        for (int d = 0; d < s.rank; ++d) (d < axis ? outer : d == axis ? dim : inner) *= s.dims[d];
    }
};

KILN_HD float sigmoid_of(float x) {
    if (x >= 0) return 1.0f / (1.0f + std::exp(-x));
    float e = std::exp(x);
    return e / (1.0f + e);
}

// One element of BCEWithLogits: max(x,0) - x*y + log(1 + exp(-|x|)), stable for any x.
KILN_HD double bce_term(float x, float y) {
    return double(x > 0 ? x : 0) - double(x) * y + std::log1p(std::exp(-std::fabs(double(x))));
}

KILN_HD double logsumexp(const float* row, int64_t k) {
    float mx = row[0];
    for (int64_t j = 1; j < k; ++j) mx = row[j] > mx ? row[j] : mx;
    double s = 0;
    for (int64_t j = 0; j < k; ++j) s += std::exp(double(row[j]) - mx);
    return mx + std::log(s);
}

KILN_HD int64_t label_at(const TensorRef& labels, int64_t i) {
    return labels.dtype == DType::i64 ? static_cast<const int64_t*>(labels.data)[i]
                                      : static_cast<const int32_t*>(labels.data)[i];
}

KILN_HD uint64_t dropout_key(uint64_t call_seed, uint64_t salt) { return splitmix64(call_seed + 0x632BE59BD9B4E019ull * salt); }

// torch.optim.SGD for one element; returns the new parameter value and updates the momentum buffer.
KILN_HD float sgd_element(const SgdAttrs& s, const RunInfo& info, float p, float g, float* buf) {
    float d = s.maximize ? -g : g;
    if (s.weight_decay != 0) d += s.weight_decay * p;
    if (s.momentum != 0) {
        float b = info.step <= 1 ? d : s.momentum * *buf + (1 - s.dampening) * d;
        *buf = b;
        d = s.nesterov ? d + s.momentum * b : b;
    }
    return p - info.lr * d;
}

// Per-call constants of torch.optim.Adam / AdamW.
struct AdamStep {
    float lr, step_size, bias_correction2_sqrt;
};
KILN_HD AdamStep adam_step(const AdamAttrs& a, const RunInfo& info) {
    double bc1 = 1.0 - std::pow(double(a.beta1), double(info.step));
    double bc2 = 1.0 - std::pow(double(a.beta2), double(info.step));
    return {info.lr, float(info.lr / bc1), float(std::sqrt(bc2))};
}
KILN_HD void adam_element(const AdamAttrs& a, const AdamStep& st, float& p, float g, float& m, float& v) {
    if (a.maximize) g = -g;
    if (a.decoupled) p *= 1 - st.lr * a.weight_decay;
    else if (a.weight_decay != 0) g += a.weight_decay * p;
    m = m + (1 - a.beta1) * (g - m);  // torch: exp_avg.lerp_(grad, 1 - beta1)
    v = a.beta2 * v + (1 - a.beta2) * g * g;
    float denom = std::sqrt(v) / st.bias_correction2_sqrt + a.eps;
    p -= st.step_size * m / denom;
}

// --- vision ---

// The sizes of one conv2d: x [n, c, h, w] * weight [o, c, kh, kw] -> y [n, o, oh, ow]. In the
// im2col view a column holds the k = c·kh·kw inputs of one output position (p = oh·ow per image).
struct ConvGeom {
    int64_t n, c, h, w, o, kh, kw, oh, ow;
    Conv2dAttrs a;
    KILN_HD ConvGeom(const Shape& x, const Shape& weight, const Conv2dAttrs& attrs)
        : n(x.dims[0]), c(x.dims[1]), h(x.dims[2]), w(x.dims[3]), o(weight.dims[0]), kh(weight.dims[2]),
          kw(weight.dims[3]), oh(window_out_size(h, kh, attrs.stride_h, attrs.pad_h, attrs.dil_h, false)),
          ow(window_out_size(w, kw, attrs.stride_w, attrs.pad_w, attrs.dil_w, false)), a(attrs) {}
    KILN_HD int64_t k() const { return c * kh * kw; }
    KILN_HD int64_t p() const { return oh * ow; }
    // Input row / column that kernel tap (i, j) of output (y, x) reads; may be outside [0, h) / [0, w).
    KILN_HD int64_t in_y(int64_t y, int64_t i) const { return y * a.stride_h - a.pad_h + i * a.dil_h; }
    KILN_HD int64_t in_x(int64_t x, int64_t j) const { return x * a.stride_w - a.pad_w + j * a.dil_w; }
    // The inverse: the output (r, q) whose tap (i, j) reads input (yy, xx), if there is one.
    KILN_HD bool out_of(int64_t yy, int64_t xx, int64_t i, int64_t j, int64_t& r, int64_t& q) const {
        const int64_t ry = yy + a.pad_h - i * a.dil_h, qx = xx + a.pad_w - j * a.dil_w;
        if (ry < 0 || qx < 0 || ry % a.stride_h || qx % a.stride_w) return false;
        r = ry / a.stride_h, q = qx / a.stride_w;
        return r < oh && q < ow;
    }
};

// One pooling window of output (y, x) on an h × w plane, clamped to the plane, as PyTorch's
// kernels compute it; `divisor` is AvgPool2d's (the padded window size when count_include_pad).
struct PoolWindow {
    int64_t y0, y1, x0, x1, divisor;
    KILN_HD PoolWindow(const Pool2dAttrs& a, int64_t h, int64_t w, int64_t y, int64_t x) {
        y0 = y * a.stride_h - a.pad_h;
        x0 = x * a.stride_w - a.pad_w;
        y1 = y0 + a.kernel_h < h + a.pad_h ? y0 + a.kernel_h : h + a.pad_h;
        x1 = x0 + a.kernel_w < w + a.pad_w ? x0 + a.kernel_w : w + a.pad_w;
        const int64_t padded = (y1 - y0) * (x1 - x0);
        y0 = y0 > 0 ? y0 : 0;
        x0 = x0 > 0 ? x0 : 0;
        y1 = y1 < h ? y1 : h;
        x1 = x1 < w ? x1 : w;
        divisor = a.count_include_pad ? padded : (y1 - y0) * (x1 - x0);
    }
};

// Whether v replaces mx as a window's maximum: it is larger, or the first NaN (which then stays).
// Written without branches: on random data a branch here mispredicts about twice a window.
KILN_HD bool pool_takes(float v, float mx) { return !(v <= mx) & (mx == mx); }

// Index (in the plane) of the window's maximum: the first one in row-major order, NaN winning,
// as in PyTorch, so the gradient goes where PyTorch sends it.
KILN_HD int64_t pool_argmax(const float* plane, int64_t w, const PoolWindow& win) {
    int64_t best = win.y0 * w + win.x0;
    float mx = -INFINITY;
    for (int64_t y = win.y0; y < win.y1; ++y)
        for (int64_t x = win.x0; x < win.x1; ++x) {
            const float v = plane[y * w + x];
            const bool take = pool_takes(v, mx);
            best = take ? y * w + x : best;
            mx = take ? v : mx;
        }
    return best;
}

// The common MaxPool2d(2): 2×2 windows, stride 2, no padding, every window inside the plane (not
// ceil_mode, whose last window on an odd side is cut). The argmax of one window, with
// pool_argmax's rule (first maximum in row-major order, NaN winning), as an offset from its corner.
KILN_HD bool is_plain_2x2(const Pool2dAttrs& a) {
    return a.kernel_h == 2 && a.kernel_w == 2 && a.stride_h == 2 && a.stride_w == 2 && a.pad_h == 0 && a.pad_w == 0 && !a.ceil_mode;
}
KILN_HD int64_t argmax_2x2(const float* corner, int64_t w) {
    const int64_t offsets[4] = {0, 1, w, w + 1};
    int64_t best = 0;
    float mx = corner[0];
    for (int k = 1; k < 4; ++k) {
        const float v = corner[offsets[k]];
        const bool take = pool_takes(v, mx);
        best = take ? offsets[k] : best;
        mx = take ? v : mx;
    }
    return best;
}

// max_pool2d / avg_pool2d (forward and backward) on one [h, w] plane of x.
KILN_HD void max_pool_plane(const Pool2dAttrs& a, const float* x, int64_t h, int64_t w, float* y, int64_t oh, int64_t ow) {
    if (is_plain_2x2(a)) {
        for (int64_t r = 0; r < oh; ++r)
            for (int64_t q = 0; q < ow; ++q) {
                const float* corner = x + 2 * r * w + 2 * q;
                y[r * ow + q] = corner[argmax_2x2(corner, w)];
            }
        return;
    }
    for (int64_t r = 0; r < oh; ++r)
        for (int64_t q = 0; q < ow; ++q) y[r * ow + q] = x[pool_argmax(x, w, PoolWindow(a, h, w, r, q))];
}
KILN_HD void max_pool_grad_plane(const Pool2dAttrs& a, const float* dy, const float* x, int64_t h, int64_t w,
                                 float* dx, int64_t oh, int64_t ow) {
    for (int64_t i = 0; i < h * w; ++i) dx[i] = 0;
    if (is_plain_2x2(a)) {  // windows do not overlap: each dy lands once
        for (int64_t r = 0; r < oh; ++r)
            for (int64_t q = 0; q < ow; ++q) {
                const int64_t corner = 2 * r * w + 2 * q;
                dx[corner + argmax_2x2(x + corner, w)] = dy[r * ow + q];
            }
        return;
    }
    for (int64_t r = 0; r < oh; ++r)
        for (int64_t q = 0; q < ow; ++q) dx[pool_argmax(x, w, PoolWindow(a, h, w, r, q))] += dy[r * ow + q];
}
KILN_HD void avg_pool_plane(const Pool2dAttrs& a, const float* x, int64_t h, int64_t w, float* y, int64_t oh, int64_t ow) {
    if (is_plain_2x2(a)) {  // the same sums in the same order as the general loop below
        for (int64_t r = 0; r < oh; ++r)
            for (int64_t q = 0; q < ow; ++q) {
                const float* c = x + 2 * r * w + 2 * q;
                y[r * ow + q] = (((0.0f + c[0]) + c[1]) + c[w]) + c[w + 1];
                y[r * ow + q] /= 4.0f;
            }
        return;
    }
    for (int64_t r = 0; r < oh; ++r)
        for (int64_t q = 0; q < ow; ++q) {
            const PoolWindow win(a, h, w, r, q);
            float s = 0;
            for (int64_t yy = win.y0; yy < win.y1; ++yy)
                for (int64_t xx = win.x0; xx < win.x1; ++xx) s += x[yy * w + xx];
            y[r * ow + q] = s / float(win.divisor);
        }
}
KILN_HD void avg_pool_grad_plane(const Pool2dAttrs& a, const float* dy, int64_t h, int64_t w, float* dx, int64_t oh, int64_t ow) {
    for (int64_t i = 0; i < h * w; ++i) dx[i] = 0;
    if (is_plain_2x2(a)) {  // windows do not overlap
        for (int64_t r = 0; r < oh; ++r)
            for (int64_t q = 0; q < ow; ++q) {
                float* c = dx + 2 * r * w + 2 * q;
                c[0] = c[1] = c[w] = c[w + 1] = dy[r * ow + q] / 4.0f;
            }
        return;
    }
    for (int64_t r = 0; r < oh; ++r)
        for (int64_t q = 0; q < ow; ++q) {
            const PoolWindow win(a, h, w, r, q);
            const float g = dy[r * ow + q] / float(win.divisor);
            for (int64_t yy = win.y0; yy < win.y1; ++yy)
                for (int64_t xx = win.x0; xx < win.x1; ++xx) dx[yy * w + xx] += g;
        }
}

// Batch norm of x [n, c, inner...] one channel at a time. stats is [2, c]: (mean, invstd).
struct BnGeom {
    int64_t n = 1, c = 1, inner = 1;
    KILN_HD explicit BnGeom(const Shape& x) : n(x.dims[0]), c(x.dims[1]) {
        for (int d = 2; d < x.rank; ++d) inner *= x.dims[d];
    }
    KILN_HD int64_t count() const { return n * inner; }  // values per channel
    KILN_HD const float* at(const float* x, int64_t b, int64_t ch) const { return x + (b * c + ch) * inner; }
    KILN_HD float* at(float* x, int64_t b, int64_t ch) const { return x + (b * c + ch) * inner; }
};

// Channel ch's statistics of the batch (biased variance, two passes in double), and — when
// running_mean is given — PyTorch's running-statistics update with the unbiased variance;
// factor is the momentum, or 1/num_batches_tracked for the cumulative average.
KILN_HD void bn_store_stats(const BnGeom& g, int64_t ch, double mean, double var, float eps, float* stats,
                            float* running_mean, float* running_var, double factor) {
    stats[ch] = float(mean);
    stats[g.c + ch] = float(1.0 / std::sqrt(var + eps));
    if (running_mean) {
        const double m = g.count(), unbiased = m > 1 ? var * m / (m - 1) : var;
        running_mean[ch] = float((1 - factor) * running_mean[ch] + factor * mean);
        running_var[ch] = float((1 - factor) * running_var[ch] + factor * unbiased);
    }
}
KILN_HD void bn_channel_stats(const BnGeom& g, const float* x, int64_t ch, float eps, float* stats,
                              float* running_mean, float* running_var, double factor) {
    double sum = 0;
    for (int64_t b = 0; b < g.n; ++b)
        for (int64_t i = 0; i < g.inner; ++i) sum += g.at(x, b, ch)[i];
    const double m = g.count(), mean = sum / m;
    double sq = 0;
    for (int64_t b = 0; b < g.n; ++b)
        for (int64_t i = 0; i < g.inner; ++i) {
            const double d = g.at(x, b, ch)[i] - mean;
            sq += d * d;
        }
    bn_store_stats(g, ch, mean, sq / m, eps, stats, running_mean, running_var, factor);
}

KILN_HD void bn_apply_channel(const BnGeom& g, const float* x, const float* stats, const float* weight,
                              const float* bias, int64_t ch, float* y) {
    const float scale = stats[g.c + ch] * (weight ? weight[ch] : 1.0f);
    const float shift = (bias ? bias[ch] : 0.0f) - stats[ch] * scale;
    for (int64_t b = 0; b < g.n; ++b) {
        const float* xs = g.at(x, b, ch);
        float* ys = g.at(y, b, ch);
        for (int64_t i = 0; i < g.inner; ++i) ys[i] = xs[i] * scale + shift;
    }
}

// (sum dy·xhat, sum dy) of channel ch, in double.
KILN_HD void bn_param_grad_channel(const BnGeom& g, const float* dy, const float* x, const float* stats, int64_t ch,
                                   float* pg) {
    double sdx = 0, sd = 0;
    const double mean = stats[ch], invstd = stats[g.c + ch];
    for (int64_t b = 0; b < g.n; ++b) {
        const float *d = g.at(dy, b, ch), *xs = g.at(x, b, ch);
        for (int64_t i = 0; i < g.inner; ++i) {
            sdx += double(d[i]) * (xs[i] - mean) * invstd;
            sd += d[i];
        }
    }
    pg[ch] = float(sdx);
    pg[g.c + ch] = float(sd);
}

// dx = weight·invstd·(dy − sum(dy)/m − xhat·sum(dy·xhat)/m): the batch statistics' gradient included.
KILN_HD void bn_input_grad_channel(const BnGeom& g, const float* dy, const float* x, const float* stats,
                                   const float* pg, const float* weight, int64_t ch, float* dx) {
    const float invstd = stats[g.c + ch], mean = stats[ch], m = float(g.count());
    const float k = invstd * (weight ? weight[ch] : 1.0f);
    const float mean_dy = pg[g.c + ch] / m, mean_dy_xhat = pg[ch] / m;
    for (int64_t b = 0; b < g.n; ++b) {
        const float *d = g.at(dy, b, ch), *xs = g.at(x, b, ch);
        float* out = g.at(dx, b, ch);
        for (int64_t i = 0; i < g.inner; ++i) out[i] = k * (d[i] - mean_dy - (xs[i] - mean) * invstd * mean_dy_xhat);
    }
}

}  // namespace kiln
