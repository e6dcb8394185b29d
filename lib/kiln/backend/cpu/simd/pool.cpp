// Fast pooling kernels: planes in parallel (kernel_math.h arithmetic), with a vector path for
// max pooling at stride 1.
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
