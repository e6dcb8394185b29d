// Fast pooling kernels: planes in parallel (kernel_math.h arithmetic), with vector paths for
// max pooling at stride 1 and MaxPool2d(2).
#include <algorithm>
#include <cmath>

#include "kiln/backend/cpu/simd/common.h"

namespace kiln::cpu::simd {

namespace {

template <class F> void for_planes(Context& ctx, const Shape& x, F f) {
    ctx.pool.parallel_for(x[0] * x[1], per_chunk(x[2] * x[3]), [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; ++k) f(k);
    });
}
// Max pooling with stride 1 (resnet_mini's MaxPool(3, 1, 1)): outputs whose whole window lies
// inside the plane go a vector at a time, each lane tracking its maximum (and, for the gradient,
// the window offset of it) with pool_takes' rule; the border takes kernel_math.h's scalar path.
// Backward = false writes y; backward = true adds dy to dx at each window's first maximum.
template <bool backward>
void max_pool_stride1_plane(const Pool2dAttrs& a, const float* x, int64_t h, int64_t w, int64_t oh, int64_t ow, float* y,
                            const float* dy, float* dx) {
    if (backward) std::fill(dx, dx + h * w, 0.0f);
    auto scalar = [&](int64_t r, int64_t q) {
        const int64_t at = pool_argmax(x, w, PoolWindow(a, h, w, r, q));
        if (backward) dx[at] += dy[r * ow + q];
        else y[r * ow + q] = x[at];
    };
    // Columns q whose window [q − pad, q − pad + kernel) is inside [0, w).
    const int64_t q_lo = std::min<int64_t>(a.pad_w, ow), q_hi = std::max<int64_t>(q_lo, std::min<int64_t>(ow, w - a.kernel_w + a.pad_w + 1));
    for (int64_t r = 0; r < oh; ++r) {
        const int64_t y0 = r * a.stride_h - a.pad_h;
        if (y0 < 0 || y0 + a.kernel_h > h) {
            for (int64_t q = 0; q < ow; ++q) scalar(r, q);
            continue;
        }
        int64_t q = 0;
        for (; q < q_lo; ++q) scalar(r, q);
#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
        // Vectors from q_lo; the last one is moved back to end at q_hi (when the interior holds a
        // vector at all), overlapping the one before: its first `done` lanes are not written again.
        while (q < q_hi && q_hi - q_lo >= lanes) {
            const int64_t done = q - std::min(q, q_hi - lanes);
            q -= done;
            const float* base = x + y0 * w + q - a.pad_w;  // window corner of lane 0
            Vec mx(-INFINITY), at(0.0f);                   // at: offset from the corner, exact in float
            for (int i = 0; i < a.kernel_h; ++i)
                for (int j = 0; j < a.kernel_w; ++j) {
                    const Vec v = Vec::load_unaligned(base + i * w + j);
                    const auto take = (v > mx) | (xsimd::isnan(v) & !xsimd::isnan(mx));  // pool_takes
                    mx = xsimd::select(take, v, mx);
                    if (backward) at = xsimd::select(take, Vec(float(i * w + j)), at);
                }
            if (backward) {
                alignas(64) float offsets[lanes];
                at.store_aligned(offsets);
                for (int64_t l = done; l < lanes; ++l) dx[y0 * w + q + l - a.pad_w + int64_t(offsets[l])] += dy[r * ow + q + l];
            } else {
                mx.store_unaligned(y + r * ow + q);  // rewriting overlapped lanes gives the same values
            }
            q += lanes;
        }
#endif
        for (; q < ow; ++q) scalar(r, q);
    }
}

#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
inline Vec pool_take(const Vec& v, const Vec& mx) {  // pool_takes, lane by lane
    return xsimd::select((v > mx) | (xsimd::isnan(v) & !xsimd::isnan(mx)), v, mx);
}

// The forward pass at stride 1 with the border in vectors too, separably: each input row is
// copied once between −∞ pads and reduced to its row maxima (each column's window, left to
// right), kept in a ring of kernel_h rows that the output rows below share; an output is then
// the row maxima of its window rows taken top to bottom. With pool_takes at both stages that is
// pool_argmax's choice — the first maximum (or NaN) in row-major order — and a −∞ never wins, so
// the values are the scalar path's bits. False (nothing written) when the buffers would not fit
// on the stack; the caller then takes max_pool_stride1_plane.
bool max_pool_stride1_padded(const Pool2dAttrs& a, const float* x, int64_t h, int64_t w, int64_t oh, int64_t ow, float* y) {
    constexpr int64_t max_floats = 4096;  // 16 KiB of stack
    const int64_t out_w = (ow + lanes - 1) / lanes * lanes, width = out_w + a.kernel_w - 1;  // padded column c is x's c − pad_w
    if (width + a.kernel_h * out_w > max_floats || a.kernel_h > 16) return false;
    alignas(64) float buffer[max_floats];
    float *padded = buffer, *ring = buffer + (width + lanes - 1) / lanes * lanes;
    if (ring + a.kernel_h * out_w > buffer + max_floats) return false;
    int64_t held[16];  // the input row each ring slot holds, −1: none
    std::fill(held, held + a.kernel_h, int64_t(-1));
    const int64_t copied = std::max<int64_t>(0, std::min<int64_t>(w, width - a.pad_w));  // x's columns in `padded`
    auto row_maxima = [&](int64_t yy) -> const float* {
        float* slot = ring + (yy % a.kernel_h) * out_w;
        if (held[yy % a.kernel_h] == yy) return slot;
        held[yy % a.kernel_h] = yy;
        std::fill(padded, padded + std::min<int64_t>(a.pad_w, width), -INFINITY);
        std::copy(x + yy * w, x + yy * w + copied, padded + a.pad_w);
        std::fill(padded + std::min<int64_t>(a.pad_w + copied, width), padded + width, -INFINITY);
        for (int64_t q = 0; q < out_w; q += lanes) {
            Vec mx(-INFINITY);
            for (int j = 0; j < a.kernel_w; ++j) mx = pool_take(Vec::load_unaligned(padded + q + j), mx);
            mx.store_aligned(slot + q);
        }
        return slot;
    };
    for (int64_t r = 0; r < oh; ++r) {
        const int64_t y0 = r * a.stride_h - a.pad_h;
        const float* window[16];
        int64_t n = 0;  // window rows inside the plane
        for (int64_t i = std::max<int64_t>(0, -y0); i < a.kernel_h && y0 + i < h; ++i) window[n++] = row_maxima(y0 + i);
        for (int64_t q = 0; q < ow; q += lanes) {
            Vec mx(-INFINITY);
            for (int64_t i = 0; i < n; ++i) mx = pool_take(Vec::load_aligned(window[i] + q), mx);
            if (q + lanes <= ow) {
                mx.store_unaligned(y + r * ow + q);
            } else {
                alignas(64) float tail[lanes];
                mx.store_aligned(tail);
                std::copy(tail, tail + (ow - q), y + r * ow + q);
            }
        }
    }
    return true;
}
#endif

// MaxPool2d(2) (TinyVGG's): each output the first maximum of its 2×2 window in row-major order,
// NaN winning (pool_takes). A vector of columns c… and its neighbours c + 1… of both rows gives
// every even lane its window's maximum, compared in that order without branching on the data
// (the scalar argmax mispredicts on every other window); the even lanes are then the outputs.
void max_pool_2x2_plane(const float* x, int64_t w, float* y, int64_t oh, int64_t ow) {
    auto take = [](float v, float mx) { return pool_takes(v, mx) ? v : mx; };
    for (int64_t r = 0; r < oh; ++r) {
        const float *a = x + 2 * r * w, *b = a + w;
        float* out = y + r * ow;
        int64_t q = 0;
#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
        auto takes = [](const Vec& v, const Vec& mx) {  // pool_takes
            return xsimd::select((v > mx) | (xsimd::isnan(v) & !xsimd::isnan(mx)), v, mx);
        };
        for (; 2 * q + lanes + 1 <= w && q + lanes / 2 <= ow; q += lanes / 2) {
            const float *ac = a + 2 * q, *bc = b + 2 * q;
            const Vec m = takes(Vec::load_unaligned(bc + 1),
                                takes(Vec::load_unaligned(bc), takes(Vec::load_unaligned(ac + 1), Vec::load_unaligned(ac))));
            alignas(64) float lanes_out[lanes];
            m.store_aligned(lanes_out);
            for (int64_t l = 0; l < lanes / 2; ++l) out[q + l] = lanes_out[2 * l];
        }
#endif
        for (; q < ow; ++q) out[q] = take(b[2 * q + 1], take(b[2 * q], take(a[2 * q + 1], a[2 * q])));
    }
}

}  // namespace

void max_pool2d(const KernelCall& c, Context& ctx) {
    const Shape &x = c.in[0].shape, &y = c.out.shape;
    const Pool2dAttrs& a = c.attrs->pool;
    for_planes(ctx, x, [&](int64_t k) {
        const float* in = c.in[0].as<float>() + k * x[2] * x[3];
        float* out = c.out.as<float>() + k * y[2] * y[3];
#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
        if (a.stride_w == 1 && max_pool_stride1_padded(a, in, x[2], x[3], y[2], y[3], out)) return;
#endif
        if (a.stride_w == 1) max_pool_stride1_plane<false>(a, in, x[2], x[3], y[2], y[3], out, nullptr, nullptr);
        else if (is_plain_2x2(a)) max_pool_2x2_plane(in, x[3], out, y[2], y[3]);
        else max_pool_plane(a, in, x[2], x[3], out, y[2], y[3]);
    });
}
void max_pool2d_grad(const KernelCall& c, Context& ctx) {
    const Shape &x = c.out.shape, &y = c.in[0].shape;
    const Pool2dAttrs& a = c.attrs->pool;
    for_planes(ctx, x, [&](int64_t k) {
        const float *dy = c.in[0].as<float>() + k * y[2] * y[3], *in = c.in[1].as<float>() + k * x[2] * x[3];
        float* dx = c.out.as<float>() + k * x[2] * x[3];
        if (a.stride_w == 1) max_pool_stride1_plane<true>(a, in, x[2], x[3], y[2], y[3], nullptr, dy, dx);
        else max_pool_grad_plane(a, dy, in, x[2], x[3], dx, y[2], y[3]);
    });
}
void avg_pool2d(const KernelCall& c, Context& ctx) {
    const Shape &x = c.in[0].shape, &y = c.out.shape;
    for_planes(ctx, x, [&](int64_t k) {
        avg_pool_plane(c.attrs->pool, c.in[0].as<float>() + k * x[2] * x[3], x[2], x[3], c.out.as<float>() + k * y[2] * y[3], y[2], y[3]);
    });
}
void avg_pool2d_grad(const KernelCall& c, Context& ctx) {
    const Shape &x = c.out.shape, &y = c.in[0].shape;
    for_planes(ctx, x, [&](int64_t k) {
        avg_pool_grad_plane(c.attrs->pool, c.in[0].as<float>() + k * y[2] * y[3], x[2], x[3], c.out.as<float>() + k * x[2] * x[3], y[2], y[3]);
    });
}

}  // namespace kiln::cpu::simd
