// Fast pooling kernels: planes in parallel (kernel_math.h arithmetic), with vector paths for max
// pooling at stride 1 (resnet_mini's MaxPool(3, 1, 1)) and for MaxPool2d(2), forward and
// backward; each gives the reference's bits. Average pooling and the rest run kernel_math.h's
// loops (a vector AvgPool2d(2) measured slower on LeNet-5's 28- and 10-wide planes).
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

#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
// pool_takes lane by lane: which lanes of v replace the maximum so far, and the new maximum.
inline auto pool_takes_lanes(const Vec& v, const Vec& mx) { return (v > mx) | (xsimd::isnan(v) & !xsimd::isnan(mx)); }
inline Vec pool_take(const Vec& v, const Vec& mx) { return xsimd::select(pool_takes_lanes(v, mx), v, mx); }
#endif

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
                    const auto take = pool_takes_lanes(v, mx);
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
// The first n values at p as a vector (the rest zeros), and a vector's first n lanes to p: a
// row's last, partial vector.
inline Vec load_first(const float* p, int64_t n) {
    if (n >= lanes) return Vec::load_unaligned(p);
    alignas(64) float part[lanes] = {};
    std::copy(p, p + n, part);
    return Vec::load_aligned(part);
}
inline void store_first(const Vec& v, int64_t n, float* p) {
    if (n >= lanes) return v.store_unaligned(p);
    alignas(64) float part[lanes];
    v.store_aligned(part);
    std::copy(part, part + n, p);
}

// Columns [0, n) of a row, n ≤ 2·lanes, as two vectors: the even columns and the odd ones (each
// 2×2 window's left and right column); lanes past n/2 hold nothing that is used.
inline void split_columns(const float* p, int64_t n, Vec& even, Vec& odd) {
    // Vec is the widest vector the build targets: 16 lanes with AVX-512, 8 with AVX2, 4 with NEON.
#if defined(__AVX512F__)
    const __mmask16 lo = n >= 16 ? 0xffff : __mmask16((1u << n) - 1), hi = n <= 16 ? 0 : __mmask16((1u << (n - 16)) - 1);
    const __m512 a = _mm512_maskz_loadu_ps(lo, p), b = _mm512_maskz_loadu_ps(hi, p + 16);
    even = Vec(_mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b));
    odd = Vec(_mm512_permutex2var_ps(a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b));
#else
#if defined(__AVX2__)
    if (n == 16) {  // in-lane shuffles give a0 a2 b0 b2 | a4 a6 b4 b6; the quarters then go in order
        const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
        even = Vec(_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xd8)));
        odd = Vec(_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xdd)), 0xd8)));
        return;
    }
#elif defined(__ARM_NEON) && defined(__aarch64__)
    if (n == 8) {
        const float32x4x2_t v = vld2q_f32(p);
        even = Vec(v.val[0]);
        odd = Vec(v.val[1]);
        return;
    }
#endif
    alignas(64) float row[2 * lanes] = {}, e[lanes], o[lanes];  // a row's last columns
    std::copy(p, p + n, row);
    for (int64_t l = 0; l < lanes; ++l) e[l] = row[2 * l], o[l] = row[2 * l + 1];
    even = Vec::load_aligned(e);
    odd = Vec::load_aligned(o);
#endif
}

// split_columns' inverse: even and odd interleaved into columns [0, n) of a row, n ≤ 2·lanes.
inline void join_columns(const Vec& even, const Vec& odd, int64_t n, float* p) {
#if defined(__AVX512F__)
    const __mmask16 lo = n >= 16 ? 0xffff : __mmask16((1u << n) - 1), hi = n <= 16 ? 0 : __mmask16((1u << (n - 16)) - 1);
    _mm512_mask_storeu_ps(p, lo, _mm512_permutex2var_ps(even, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), odd));
    _mm512_mask_storeu_ps(p + 16, hi, _mm512_permutex2var_ps(even, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), odd));
#else
#if defined(__AVX2__)
    if (n == 16) {  // unpacking gives e0 o0 e1 o1 | e4 o4 e5 o5 and e2 o2 e3 o3 | e6 o6 e7 o7; the halves then go in order
        const __m256 l = _mm256_unpacklo_ps(even, odd), h = _mm256_unpackhi_ps(even, odd);
        _mm256_storeu_ps(p, _mm256_permute2f128_ps(l, h, 0x20));
        _mm256_storeu_ps(p + 8, _mm256_permute2f128_ps(l, h, 0x31));
        return;
    }
#elif defined(__ARM_NEON) && defined(__aarch64__)
    if (n == 8) {
        vst2q_f32(p, float32x4x2_t{{even, odd}});
        return;
    }
#endif
    alignas(64) float e[lanes], o[lanes];  // a row's last columns
    even.store_aligned(e);
    odd.store_aligned(o);
    for (int64_t m = 0; m < n; ++m) p[m] = m % 2 ? o[m / 2] : e[m / 2];
#endif
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
    const int64_t ring_at = (width + lanes - 1) / lanes * lanes;  // the ring's rows stay aligned
    if (ring_at + a.kernel_h * out_w > max_floats || a.kernel_h > 16) return false;
    alignas(64) float buffer[max_floats];
    float *padded = buffer, *ring = buffer + ring_at;
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
            store_first(mx, ow - q, y + r * ow + q);
        }
    }
    return true;
}

// MaxPool2d(2) (TinyVGG's): each output the first maximum of its 2×2 window in row-major order,
// NaN winning (pool_takes). Each row's columns are split into even and odd vectors, so that a
// lane holds one window and the four are compared in that order without branching on the data
// (the scalar argmax mispredicts on every other window).
void max_pool_2x2_plane(const float* x, int64_t w, float* y, int64_t oh, int64_t ow) {
    for (int64_t r = 0; r < oh; ++r)
        for (int64_t q = 0; q < ow; q += lanes) {
            const int64_t n = std::min<int64_t>(2 * lanes, 2 * (ow - q));  // columns of these windows
            Vec a0, a1, b0, b1;
            split_columns(x + 2 * r * w + 2 * q, n, a0, a1);
            split_columns(x + (2 * r + 1) * w + 2 * q, n, b0, b1);
            store_first(pool_take(b1, pool_take(b0, pool_take(a1, a0))), ow - q, y + r * ow + q);
        }
}

// MaxPool2d(2)'s gradient: dy to each window's first maximum (max_pool_2x2_plane's choice, kept
// as which of the four it was), zeros to the rest of the window and to a last odd row or column.
void max_pool_2x2_grad_plane(const float* x, const float* dy, int64_t h, int64_t w, float* dx, int64_t oh, int64_t ow) {
    const Vec zero(0.0f);
    for (int64_t r = 0; r < oh; ++r) {
        const float *a = x + 2 * r * w, *b = a + w;
        float *da = dx + 2 * r * w, *db = da + w;
        for (int64_t q = 0; q < ow; q += lanes) {
            const int64_t n = std::min<int64_t>(2 * lanes, 2 * (ow - q));
            Vec a0, a1, b0, b1;
            split_columns(a + 2 * q, n, a0, a1);
            split_columns(b + 2 * q, n, b0, b1);
            const Vec g = load_first(dy + r * ow + q, ow - q);
            // Which of a0, a1, b0, b1 each window takes: the last one that pool_takes took.
            Vec mx = a0;
            auto t1 = pool_takes_lanes(a1, mx);
            mx = xsimd::select(t1, a1, mx);
            auto t2 = pool_takes_lanes(b0, mx);
            mx = xsimd::select(t2, b0, mx);
            auto t3 = pool_takes_lanes(b1, mx);
            t2 = t2 & !t3;
            t1 = t1 & !t2 & !t3;
            const auto t0 = !(t1 | t2 | t3);
            join_columns(xsimd::select(t0, g, zero), xsimd::select(t1, g, zero), n, da + 2 * q);
            join_columns(xsimd::select(t2, g, zero), xsimd::select(t3, g, zero), n, db + 2 * q);
        }
        if (w > 2 * ow) da[w - 1] = db[w - 1] = 0.0f;
    }
    std::fill(dx + 2 * oh * w, dx + h * w, 0.0f);
}
#endif

}  // namespace

void max_pool2d(const KernelCall& c, Context& ctx) {
    const Shape &x = c.in[0].shape, &y = c.out.shape;
    const Pool2dAttrs& a = c.attrs->pool;
    for_planes(ctx, x, [&](int64_t k) {
        const float* in = c.in[0].as<float>() + k * x[2] * x[3];
        float* out = c.out.as<float>() + k * y[2] * y[3];
#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
        if (a.stride_w == 1 && max_pool_stride1_padded(a, in, x[2], x[3], y[2], y[3], out)) return;
        if (is_plain_2x2(a)) return max_pool_2x2_plane(in, x[3], out, y[2], y[3]);
#endif
        if (a.stride_w == 1) max_pool_stride1_plane<false>(a, in, x[2], x[3], y[2], y[3], out, nullptr, nullptr);
        else max_pool_plane(a, in, x[2], x[3], out, y[2], y[3]);
    });
}
void max_pool2d_grad(const KernelCall& c, Context& ctx) {
    const Shape &x = c.out.shape, &y = c.in[0].shape;
    const Pool2dAttrs& a = c.attrs->pool;
    for_planes(ctx, x, [&](int64_t k) {
        const float *dy = c.in[0].as<float>() + k * y[2] * y[3], *in = c.in[1].as<float>() + k * x[2] * x[3];
        float* dx = c.out.as<float>() + k * x[2] * x[3];
#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
        if (is_plain_2x2(a)) return max_pool_2x2_grad_plane(in, dy, x[2], x[3], dx, y[2], y[3]);
#endif
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
