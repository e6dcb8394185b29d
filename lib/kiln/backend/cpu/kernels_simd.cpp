// Fast CPU kernels: xsimd vectors and the thread pool for the ops that dominate training time.
// Each one computes what its reference kernel (kernels_reference.cpp) computes; a test compares
// them op by op on random inputs. Shapes a fast kernel does not cover go to the reference.
// Work is split into fixed chunks with every output element computed by one thread in a fixed
// order, so results are identical from run to run.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include <xsimd/xsimd.hpp>

#include "kiln/backend/cpu/cpu_backend.h"
#include "kiln/backend/kernel_math.h"

namespace kiln::cpu {

namespace {

#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
using Vec = xsimd::batch<float>;
constexpr int64_t lanes = Vec::size;
#else
constexpr int64_t lanes = 1;
#endif

constexpr int64_t grain = 1 << 14;  // elements per chunk worth a thread

// Items per chunk when each item is `size` elements of work: below a grain in all, a kernel runs
// on the calling thread alone (waking a worker would cost more than it saves, e.g. at batch 1).
int64_t per_chunk(int64_t size) { return std::max<int64_t>(1, grain / std::max<int64_t>(size, 1)); }

void reference(const KernelCall& c, Context& ctx) { reference_kernels[static_cast<int>(c.op)](c, ctx); }

// out[i] = fv(vectors) / fs(scalars) over [0, n), in parallel chunks.
template <class FV, class FS> void map1(Context& ctx, int64_t n, const float* x, float* out, FV fv, FS fs) {
    ctx.pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
        int64_t i = b;
#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
        for (; i + lanes <= e; i += lanes) fv(Vec::load_unaligned(x + i)).store_unaligned(out + i);
#endif
        for (; i < e; ++i) out[i] = fs(x[i]);
    });
}

template <class FV, class FS>
void map2(Context& ctx, int64_t n, const float* x, const float* y, float* out, FV fv, FS fs) {
    ctx.pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
        int64_t i = b;
#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
        for (; i + lanes <= e; i += lanes) fv(Vec::load_unaligned(x + i), Vec::load_unaligned(y + i)).store_unaligned(out + i);
#endif
        for (; i < e; ++i) out[i] = fs(x[i], y[i]);
    });
}

void matmul(const KernelCall& c, Context& ctx) {
    const MatmulAttrs& a = c.attrs->matmul;
    const TensorRef &x = c.in[0], &y = c.in[1];
    int64_t m = c.out.shape[0], n = c.out.shape[1], k = a.trans_a ? x.shape[0] : x.shape[1];
    ctx.gemm(a.trans_a, a.trans_b, m, n, k, 1.0f, x.as<float>(), x.shape[1], y.as<float>(), y.shape[1], 0.0f,
             c.out.as<float>(), n);
}

// Binary ops: same shapes, or b broadcast along the rows of a ([..., N] op [N]) — the bias case.
template <class FV, class FS> void binary(const KernelCall& c, Context& ctx, FV fv, FS fs) {
    const TensorRef &a = c.in[0], &b = c.in[1];
    const int64_t n = c.out.numel();
    if (a.shape == c.out.shape && b.shape == c.out.shape)
        return map2(ctx, n, a.as<float>(), b.as<float>(), c.out.as<float>(), fv, fs);
    const int64_t cols = c.out.shape.rank ? c.out.shape.back() : 1;
    if (a.shape == c.out.shape && b.numel() == cols && b.shape.rank >= 1 && b.shape.back() == cols) {
        const float *pa = a.as<float>(), *pb = b.as<float>();
        float* out = c.out.as<float>();
        ctx.pool.parallel_for(n / cols, per_chunk(cols), [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                int64_t j = 0;
#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
                for (; j + lanes <= cols; j += lanes)
                    fv(Vec::load_unaligned(pa + r * cols + j), Vec::load_unaligned(pb + j)).store_unaligned(out + r * cols + j);
#endif
                for (; j < cols; ++j) out[r * cols + j] = fs(pa[r * cols + j], pb[j]);
            }
        });
        return;
    }
    reference(c, ctx);
}

void add(const KernelCall& c, Context& ctx) {
    binary(c, ctx, [](auto a, auto b) { return a + b; }, [](float a, float b) { return a + b; });
}
void sub(const KernelCall& c, Context& ctx) {
    binary(c, ctx, [](auto a, auto b) { return a - b; }, [](float a, float b) { return a - b; });
}
void mul(const KernelCall& c, Context& ctx) {
    binary(c, ctx, [](auto a, auto b) { return a * b; }, [](float a, float b) { return a * b; });
}
void div(const KernelCall& c, Context& ctx) {
    binary(c, ctx, [](auto a, auto b) { return a / b; }, [](float a, float b) { return a / b; });
}

void scale(const KernelCall& c, Context& ctx) {
    const float m = c.attrs->scale.mul, s = c.attrs->scale.add;
    map1(ctx, c.out.numel(), c.in[0].as<float>(), c.out.as<float>(), [=](auto x) { return x * m + s; },
         [=](float x) { return x * m + s; });
}

void relu(const KernelCall& c, Context& ctx) {
#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
    const Vec zero(0.0f);
    auto fv = [&](Vec x) { return xsimd::max(x, zero); };
#else
    auto fv = [](float x) { return x; };
#endif
    map1(ctx, c.out.numel(), c.in[0].as<float>(), c.out.as<float>(), fv, [](float x) { return x > 0 ? x : 0.0f; });
}

void relu_grad(const KernelCall& c, Context& ctx) {
#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
    const Vec zero(0.0f);
    auto fv = [&](Vec dy, Vec y) { return xsimd::select(y > zero, dy, zero); };
#else
    auto fv = [](float dy, float) { return dy; };
#endif
    map2(ctx, c.out.numel(), c.in[0].as<float>(), c.in[1].as<float>(), c.out.as<float>(), fv,
         [](float dy, float y) { return y > 0 ? dy : 0.0f; });
}

// Threaded scalar loops for ops dominated by exp(): each element as in the reference.
template <class F> void parallel_elements(Context& ctx, int64_t n, F f) {
    ctx.pool.parallel_for(n, grain / 8, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) f(i);
    });
}
void sigmoid(const KernelCall& c, Context& ctx) {
#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
    auto fv = [](Vec x) {  // sigmoid_of's two stable forms, with e = exp(−|x|)
        const Vec one(1.0f), e = xsimd::exp(-xsimd::abs(x));
        return xsimd::select(x >= Vec(0.0f), one / (one + e), e / (one + e));
    };
#else
    auto fv = [](float x) { return sigmoid_of(x); };
#endif
    map1(ctx, c.out.numel(), c.in[0].as<float>(), c.out.as<float>(), fv, [](float x) { return sigmoid_of(x); });
}
void tanh_(const KernelCall& c, Context& ctx) {
    const float* x = c.in[0].as<float>();
    float* y = c.out.as<float>();
    parallel_elements(ctx, c.out.numel(), [&](int64_t i) { y[i] = std::tanh(x[i]); });
}
void sigmoid_grad(const KernelCall& c, Context& ctx) {
    map2(ctx, c.out.numel(), c.in[0].as<float>(), c.in[1].as<float>(), c.out.as<float>(),
         [](auto dy, auto y) { return dy * y * (decltype(y)(1.0f) - y); }, [](float dy, float y) { return dy * y * (1 - y); });
}
void tanh_grad(const KernelCall& c, Context& ctx) {
    map2(ctx, c.out.numel(), c.in[0].as<float>(), c.in[1].as<float>(), c.out.as<float>(),
         [](auto dy, auto y) { return dy * (decltype(y)(1.0f) - y * y); }, [](float dy, float y) { return dy * (1 - y * y); });
}

void dropout(const KernelCall& c, Context& ctx) {
    const float p = c.attrs->dropout.p;
    const float* x = c.in[0].as<float>();
    float* out = c.out.as<float>();
    if (!c.info->training || p == 0.0f) {
        if (out != x) std::memcpy(out, x, c.out.numel() * sizeof(float));
        return;
    }
    const uint64_t key = dropout_key(c.info->seed, c.attrs->dropout.salt);
    const float keep_scale = 1.0f / (1.0f - p);
    parallel_elements(ctx, c.out.numel(), [&](int64_t i) { out[i] = counter_uniform(key, i) < p ? 0.0f : x[i] * keep_scale; });
}

// sum_to for the bias gradient ([..., N] → [N]): columns split across threads, each column summed
// over the rows in order.
void sum_to(const KernelCall& c, Context& ctx) {
    const int64_t cols = c.out.numel();
    const TensorRef& dy = c.in[0];
    if (!(c.out.shape.rank >= 1 && c.out.shape.back() == cols && dy.shape.rank >= 1 && dy.shape.back() == cols &&
          cols > 0)) {
        return reference(c, ctx);
    }
    for (int d = 0; d < c.out.shape.rank - 1; ++d)
        if (c.out.shape[d] != 1) return reference(c, ctx);
    const int64_t rows = dy.numel() / cols;
    const float* g = dy.as<float>();
    float* out = c.out.as<float>();
    ctx.pool.parallel_for(cols, lanes * 4, [&](int64_t j0, int64_t j1) {
        for (int64_t j = j0; j < j1; ++j) out[j] = 0.0f;
        for (int64_t r = 0; r < rows; ++r) {
            int64_t j = j0;
#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
            for (; j + lanes <= j1; j += lanes)
                (Vec::load_unaligned(out + j) + Vec::load_unaligned(g + r * cols + j)).store_unaligned(out + j);
#endif
            for (; j < j1; ++j) out[j] += g[r * cols + j];
        }
    });
}

// Row-wise softmax family on the last axis, rows split across threads.
bool last_axis(const KernelCall& c) { return c.attrs->axis.axis == c.out.shape.rank - 1; }

void log_softmax(const KernelCall& c, Context& ctx) {
    if (!last_axis(c)) return reference(c, ctx);
    const int64_t k = c.out.shape.back(), rows = c.out.numel() / k;
    const float* x = c.in[0].as<float>();
    float* y = c.out.as<float>();
    ctx.pool.parallel_for(rows, std::max<int64_t>(1, 4096 / k), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const double lse = logsumexp(x + r * k, k);
            for (int64_t j = 0; j < k; ++j) y[r * k + j] = float(x[r * k + j] - lse);
        }
    });
}
void softmax(const KernelCall& c, Context& ctx) {
    if (!last_axis(c)) return reference(c, ctx);
    const int64_t k = c.out.shape.back(), rows = c.out.numel() / k;
    const float* x = c.in[0].as<float>();
    float* y = c.out.as<float>();
    ctx.pool.parallel_for(rows, std::max<int64_t>(1, 4096 / k), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const double lse = logsumexp(x + r * k, k);
            for (int64_t j = 0; j < k; ++j) y[r * k + j] = float(std::exp(x[r * k + j] - lse));
        }
    });
}

void cross_entropy_grad(const KernelCall& c, Context& ctx) {
    const int64_t n = c.out.shape[0], k = c.out.shape[1];
    const float g = c.in[0].as<float>()[0] / float(n);
    const float* x = c.in[1].as<float>();
    float* out = c.out.as<float>();
    ctx.pool.parallel_for(n, std::max<int64_t>(1, 4096 / k), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const float* row = x + r * k;
            const double lse = logsumexp(row, k);
            const int64_t label = label_at(c.in[2], r);
            for (int64_t j = 0; j < k; ++j) out[r * k + j] = g * float(std::exp(row[j] - lse) - (j == label ? 1.0 : 0.0));
        }
    });
}

void sgd_update(const KernelCall& c, Context& ctx) {
    const SgdAttrs& s = c.attrs->sgd;
    float* p = c.in[0].as<float>();
    const float* grad = c.in[1].as<float>();
    float* buf = c.n_in > 2 ? c.in[2].as<float>() : nullptr;
    const RunInfo info = *c.info;
    parallel_elements(ctx, c.in[0].numel(), [&](int64_t i) { p[i] = sgd_element(s, info, p[i], grad[i], buf ? &buf[i] : nullptr); });
}

void adam_update(const KernelCall& c, Context& ctx) {
    const AdamAttrs& a = c.attrs->adam;
    const AdamStep st = adam_step(a, *c.info);
    float *p = c.in[0].as<float>(), *m = c.in[2].as<float>(), *v = c.in[3].as<float>();
    const float* grad = c.in[1].as<float>();
    parallel_elements(ctx, c.in[0].numel(), [&](int64_t i) { adam_element(a, st, p[i], grad[i], m[i], v[i]); });
}

// --- conv2d as im2col + GEMM ---
// im2col lays out the K = C·kh·kw inputs of each output position as a column; a GEMM with the
// weight [O, K] then gives all outputs. Two ways to cut the work, chosen per call:
// - per image, when there are at least as many images as threads: each thread takes whole
//   images with its own column buffer [K, P] (it stays in that core's cache) and single-threaded
//   GEMMs straight into the image's output; the weight gradient sums per-thread partials in
//   thread order;
// - in chunks of B images otherwise (batch 1): columns [K, B·P] for the chunk and one threaded
//   GEMM into t [O, B·P], then back to NCHW.
// The scratch holds whichever of the two is larger; its size depends on the compiled geometry
// and the thread count only.
constexpr int64_t conv_chunk_floats = int64_t(1) << 22;  // 16 MiB
int64_t conv_chunk(const ConvGeom& g) {
    return std::clamp<int64_t>(conv_chunk_floats / ((g.k() + g.o) * g.p()), 1, std::max<int64_t>(g.n, 1));
}
size_t conv_scratch_bytes(const ConvGeom& g, int threads) {
    const int64_t per_image = threads * (g.k() * g.p() + g.o * g.k());
    const int64_t chunked = std::min<int64_t>(conv_chunk(g), threads) * (g.k() + g.o) * g.p();
    return size_t(std::max(per_image, chunked)) * sizeof(float);
}

// Output columns q whose tap j reads inside the row: [q_lo, q_hi).
std::pair<int64_t, int64_t> valid_columns(const ConvGeom& g, int64_t j) {
    const int64_t s = g.a.stride_w, off = j * g.a.dil_w - g.a.pad_w;  // xx = q·s + off
    int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t hi = g.w - off <= 0 ? 0 : (g.w - off - 1) / s + 1;
    hi = std::min(hi, g.ow);
    return {std::min(lo, hi), hi};
}

// A stride-1 conv whose output has the input's size ('same' padding, e.g. 3×3 pad 1): a row of
// the columns is the whole input plane shifted by the tap's offset, so it is one copy, plus zeros
// where the tap falls off the top or bottom and in the few columns it wraps around the sides.
bool same_size(const ConvGeom& g) { return g.a.stride_h == 1 && g.a.stride_w == 1 && g.oh == g.h && g.ow == g.w; }
void im2col_row_same_size(const ConvGeom& g, const float* plane, int64_t i, int64_t j, float* out) {
    const int64_t dy = i * g.a.dil_h - g.a.pad_h, dx = j * g.a.dil_w - g.a.pad_w;  // input = output + (dy, dx)
    const int64_t y0 = std::clamp<int64_t>(-dy, 0, g.h), y1 = std::clamp<int64_t>(g.h - dy, y0, g.h);  // rows inside
    std::fill(out, out + y0 * g.w, 0.0f);
    std::fill(out + y1 * g.w, out + g.h * g.w, 0.0f);
    // Output positions [y0·w, y1·w) read input [y0·w + dy·w + dx, ...): clamp the ends that would
    // fall outside the plane; they are column wrap-arounds and get zeroed below.
    const int64_t begin = y0 * g.w, end = y1 * g.w, shift = dy * g.w + dx;
    const int64_t b = std::max<int64_t>(begin, -shift), e = std::min<int64_t>(end, g.h * g.w - shift);
    if (b < e) std::copy(plane + b + shift, plane + e + shift, out + b);
    std::fill(out + begin, out + std::max(begin, b), 0.0f);
    std::fill(out + std::min(end, std::max(e, begin)), out + end, 0.0f);
    const int64_t lo = std::clamp<int64_t>(-dx, 0, g.w), hi = std::clamp<int64_t>(g.w - dx, lo, g.w);  // columns inside
    for (int64_t y = y0; y < y1; ++y) {
        std::fill(out + y * g.w, out + y * g.w + lo, 0.0f);
        std::fill(out + y * g.w + hi, out + (y + 1) * g.w, 0.0f);
    }
}

// Rows [r0, r1) of the columns of images [b0, b0 + nb): col [K, nb·P].
void im2col_rows(const ConvGeom& g, const float* x, int64_t b0, int64_t nb, int64_t r0, int64_t r1, float* col) {
    const int64_t p = g.p(), bp = nb * p;
    if (same_size(g)) {
        for (int64_t r = r0; r < r1; ++r)
            for (int64_t b = 0; b < nb; ++b)
                im2col_row_same_size(g, x + ((b0 + b) * g.c + r / (g.kh * g.kw)) * g.h * g.w, r / g.kw % g.kh, r % g.kw,
                                     col + r * bp + b * p);
        return;
    }
    for (int64_t r = r0; r < r1; ++r) {
        const int64_t ch = r / (g.kh * g.kw), i = r / g.kw % g.kh, j = r % g.kw;
        const auto [lo, hi] = valid_columns(g, j);
        const int64_t off = j * g.a.dil_w - g.a.pad_w;
        for (int64_t b = 0; b < nb; ++b) {
            const float* plane = x + ((b0 + b) * g.c + ch) * g.h * g.w;
            for (int64_t y = 0; y < g.oh; ++y) {
                float* out = col + r * bp + b * p + y * g.ow;
                const int64_t yy = g.in_y(y, i);
                if (yy < 0 || yy >= g.h) {
                    std::fill(out, out + g.ow, 0.0f);
                    continue;
                }
                // Rows here are short (14 values in resnet_mini's strided convs): plain loops,
                // no calls, so the per-row overhead stays below the copying.
                const float* row = plane + yy * g.w + off;
                for (int64_t q = 0; q < lo; ++q) out[q] = 0.0f;
                for (int64_t q = lo; q < hi; ++q) out[q] = row[q * g.a.stride_w];
                for (int64_t q = hi; q < g.ow; ++q) out[q] = 0.0f;
            }
        }
    }
}

// Channels [c0, c1) of dx (images [b0, b0 + nb)) = the sum of every column entry back at the
// input it was taken from, each element summing its taps in a fixed order.
void col2im_channels(const ConvGeom& g, const float* col, int64_t b0, int64_t nb, int64_t c0, int64_t c1, float* dx) {
    const int64_t p = g.p(), bp = nb * p;
    for (int64_t ch = c0; ch < c1; ++ch)
        for (int64_t b = 0; b < nb; ++b) {
            float* plane = dx + ((b0 + b) * g.c + ch) * g.h * g.w;
            std::fill(plane, plane + g.h * g.w, 0.0f);
            for (int64_t i = 0; i < g.kh; ++i)
                for (int64_t j = 0; j < g.kw; ++j) {
                    const int64_t r = (ch * g.kh + i) * g.kw + j;
                    const auto [lo, hi] = valid_columns(g, j);
                    const int64_t off = j * g.a.dil_w - g.a.pad_w;
                    for (int64_t y = 0; y < g.oh; ++y) {
                        const int64_t yy = g.in_y(y, i);
                        if (yy < 0 || yy >= g.h) continue;
                        const float* in = col + r * bp + b * p + y * g.ow;
                        float* row = plane + yy * g.w + off;
                        for (int64_t q = lo; q < hi; ++q) row[q * g.a.stride_w] += in[q];
                    }
                }
        }
}

void im2col(Context& ctx, const ConvGeom& g, const float* x, int64_t b0, int64_t nb, float* col) {
    ctx.pool.parallel_for(g.k(), per_chunk(nb * g.p()), [&](int64_t r0, int64_t r1) { im2col_rows(g, x, b0, nb, r0, r1, col); });
}
void col2im(Context& ctx, const ConvGeom& g, const float* col, int64_t b0, int64_t nb, float* dx) {
    ctx.pool.parallel_for(g.c, per_chunk(nb * g.k() / g.c * g.p()), [&](int64_t c0, int64_t c1) { col2im_channels(g, col, b0, nb, c0, c1, dx); });
}

// t[o][b·P + p] = y[b0 + b][o][p], and back (adding the bias).
void images_to_columns(Context& ctx, const ConvGeom& g, const float* y, int64_t b0, int64_t nb, float* t) {
    const int64_t p = g.p();
    ctx.pool.parallel_for(g.o, per_chunk(nb * p), [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o)
            for (int64_t b = 0; b < nb; ++b) std::copy_n(y + ((b0 + b) * g.o + o) * p, p, t + (o * nb + b) * p);
    });
}
void columns_to_images(Context& ctx, const ConvGeom& g, const float* t, const float* bias, int64_t b0, int64_t nb, float* y) {
    const int64_t p = g.p();
    ctx.pool.parallel_for(g.o, per_chunk(nb * p), [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) {
            const float add = bias ? bias[o] : 0.0f;
            for (int64_t b = 0; b < nb; ++b) {
                const float* src = t + (o * nb + b) * p;
                float* dst = y + ((b0 + b) * g.o + o) * p;
                for (int64_t i = 0; i < p; ++i) dst[i] = src[i] + add;
            }
        }
    });
}

// Runs f(thread, image) for every image, each thread taking a contiguous share.
template <class F> void for_images(Context& ctx, int64_t n, F f) {
    const int threads = ctx.pool.size();
    ctx.pool.run([&](int t) {
        for (int64_t b = n * t / threads; b < n * (t + 1) / threads; ++b) f(t, b);
    });
}

// y = conv(x, w) + bias for geometry g (bias may be null), in conv_scratch_bytes(g) of scratch.
void conv_forward(Context& ctx, const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, float* scratch) {
    const int64_t k = g.k(), p = g.p();
    if (g.n >= ctx.pool.size()) {
        for_images(ctx, g.n, [&](int t, int64_t b) {
            float* col = scratch + t * k * p;
            float* out = y + b * g.o * p;
            im2col_rows(g, x, b, 1, 0, k, col);
            for (int64_t o = 0; bias && o < g.o; ++o) std::fill(out + o * p, out + (o + 1) * p, bias[o]);
            ctx.gemm.serial(t, false, false, g.o, p, k, 1.0f, w, k, col, p, bias ? 1.0f : 0.0f, out, p);
        });
        return;
    }
    const int64_t chunk = std::min<int64_t>(conv_chunk(g), ctx.pool.size());
    float* t = scratch + chunk * k * p;
    for (int64_t b0 = 0; b0 < g.n; b0 += chunk) {
        const int64_t nb = std::min(chunk, g.n - b0), bp = nb * p;
        im2col(ctx, g, x, b0, nb, scratch);
        ctx.gemm(false, false, g.o, bp, k, 1.0f, w, k, scratch, bp, 0.0f, t, bp);
        columns_to_images(ctx, g, t, bias, b0, nb, y);
    }
}

void conv2d(const KernelCall& c, Context& ctx) {
    const ConvGeom g(c.in[0].shape, c.in[1].shape, c.attrs->conv);
    conv_forward(ctx, g, c.in[0].as<float>(), c.in[1].as<float>(), c.n_in > 2 ? c.in[2].as<float>() : nullptr, c.out.as<float>(),
                 static_cast<float*>(c.scratch));
}

// With stride 1, the input gradient is itself a convolution: dy (padded by dil·(k−1) − pad)
// with the weight flipped in space and transposed to [C, O, kh, kw]. Its GEMMs contract over
// O·kh·kw instead of O and write dx directly, with no col2im. Used for 'same'-size convolutions,
// whose transposed conv is 'same'-size too (its columns are shifted copies); a 'valid' conv's
// would pad dy by dil·(k−1) and mostly multiply zeros, so those keep GEMM + col2im.
bool grad_input_is_a_conv(const ConvGeom& g) { return same_size(g); }
ConvGeom grad_input_geom(const ConvGeom& g) {
    const Conv2dAttrs a{1, 1, int(g.a.dil_h * (g.kh - 1) - g.a.pad_h), int(g.a.dil_w * (g.kw - 1) - g.a.pad_w), g.a.dil_h, g.a.dil_w};
    return ConvGeom(Shape{g.n, g.o, g.oh, g.ow}, Shape{g.c, g.o, g.kh, g.kw}, a);
}
size_t grad_input_scratch_bytes(const ConvGeom& g, int threads) {
    if (!grad_input_is_a_conv(g)) return conv_scratch_bytes(g, threads);
    return size_t(g.c * g.o * g.kh * g.kw) * sizeof(float) + conv_scratch_bytes(grad_input_geom(g), threads);
}

void conv2d_grad_input(const KernelCall& c, Context& ctx) {
    const ConvGeom g(c.out.shape, c.in[1].shape, c.attrs->conv);
    const int64_t k = g.k(), p = g.p();
    const float *dy = c.in[0].as<float>(), *w = c.in[1].as<float>();
    float *dx = c.out.as<float>(), *scratch = static_cast<float*>(c.scratch);
    if (grad_input_is_a_conv(g)) {
        float* flipped = scratch;  // [C, O, kh, kw]
        for (int64_t o = 0; o < g.o; ++o)
            for (int64_t ch = 0; ch < g.c; ++ch)
                for (int64_t i = 0; i < g.kh; ++i)
                    for (int64_t j = 0; j < g.kw; ++j)
                        flipped[((ch * g.o + o) * g.kh + g.kh - 1 - i) * g.kw + g.kw - 1 - j] = w[((o * g.c + ch) * g.kh + i) * g.kw + j];
        conv_forward(ctx, grad_input_geom(g), dy, flipped, nullptr, dx, scratch + g.c * g.o * g.kh * g.kw);
        return;
    }
    if (g.n >= ctx.pool.size()) {  // dcol = wᵀ · dy, then col2im
        for_images(ctx, g.n, [&](int t, int64_t b) {
            float* col = scratch + t * k * p;
            ctx.gemm.serial(t, true, false, k, p, g.o, 1.0f, w, k, dy + b * g.o * p, p, 0.0f, col, p);
            col2im_channels(g, col, b, 1, 0, g.c, dx);
        });
        return;
    }
    const int64_t chunk = std::min<int64_t>(conv_chunk(g), ctx.pool.size());
    float* t = scratch + chunk * k * p;
    for (int64_t b0 = 0; b0 < g.n; b0 += chunk) {
        const int64_t nb = std::min(chunk, g.n - b0), bp = nb * p;
        images_to_columns(ctx, g, dy, b0, nb, t);
        ctx.gemm(true, false, k, bp, g.o, 1.0f, w, k, t, bp, 0.0f, scratch, bp);
        col2im(ctx, g, scratch, b0, nb, dx);
    }
}

void conv2d_grad_weight(const KernelCall& c, Context& ctx) {  // dw = Σ over images of dy · colᵀ
    const ConvGeom g(c.in[1].shape, c.out.shape, c.attrs->conv);
    const int64_t k = g.k(), p = g.p();
    const float *dy = c.in[0].as<float>(), *x = c.in[1].as<float>();
    float *dw = c.out.as<float>(), *scratch = static_cast<float*>(c.scratch);
    const int threads = ctx.pool.size();
    if (g.n >= threads) {
        // dw = dy · colᵀ contracts over P with O rows: few rows make it a set of dot products. From
        // 32 output channels on, computing dwᵀ = col · dyᵀ (K rows, dy packed) is 1.4–2× faster in
        // resnet_mini's layers (16 channels: 10 % slower); the reduction over threads transposes back.
        const bool transposed = g.o >= 32;
        float* partial = scratch + threads * k * p;  // [threads][O·K], or [threads][K·O] transposed
        for_images(ctx, g.n, [&](int t, int64_t b) {
            float* col = scratch + t * k * p;
            im2col_rows(g, x, b, 1, 0, k, col);
            const float beta = b == g.n * t / threads ? 0.0f : 1.0f;  // the thread's first image
            if (transposed)
                ctx.gemm.serial(t, false, true, k, g.o, p, 1.0f, col, p, dy + b * g.o * p, p, beta, partial + t * g.o * k, g.o);
            else
                ctx.gemm.serial(t, false, true, g.o, k, p, 1.0f, dy + b * g.o * p, p, col, p, beta, partial + t * g.o * k, k);
        });
        parallel_elements(ctx, g.o * k, [&](int64_t i) {  // i = o·K + r
            const int64_t at = transposed ? (i % k) * g.o + i / k : i;
            float s = partial[at];
            for (int t = 1; t < threads; ++t) s += partial[t * g.o * k + at];
            dw[i] = s;
        });
        return;
    }
    const int64_t chunk = std::min<int64_t>(conv_chunk(g), threads);
    float* t = scratch + chunk * k * p;
    for (int64_t b0 = 0; b0 < g.n; b0 += chunk) {
        const int64_t nb = std::min(chunk, g.n - b0), bp = nb * p;
        im2col(ctx, g, x, b0, nb, scratch);
        images_to_columns(ctx, g, dy, b0, nb, t);
        ctx.gemm(false, true, g.o, k, bp, 1.0f, t, bp, scratch, bp, b0 == 0 ? 0.0f : 1.0f, dw, k);
    }
}

// --- pooling: planes in parallel; batch norm: channels in parallel (kernel_math.h arithmetic) ---
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

void max_pool2d(const KernelCall& c, Context& ctx) {
    const Shape &x = c.in[0].shape, &y = c.out.shape;
    const Pool2dAttrs& a = c.attrs->pool;
    for_planes(ctx, x, [&](int64_t k) {
        const float* in = c.in[0].as<float>() + k * x[2] * x[3];
        float* out = c.out.as<float>() + k * y[2] * y[3];
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
        if (a.stride_w == 1) max_pool_stride1_plane<true>(a, in, x[2], x[3], y[2], y[3], nullptr, dy, dx);
        else max_pool_grad_plane(a, dy, in, x[2], x[3], dx, y[2], y[3]);
    });
}

// expand where the operand is the output with trailing dimensions of size 1 (the backward of a
// mean over the last axes, e.g. global average pooling): each value fills a contiguous run.
void expand(const KernelCall& c, Context& ctx) {
    const Shape &x = c.in[0].shape, &out = c.out.shape;
    int lead = 0;  // leading dimensions equal in both
    while (lead < x.rank && lead < out.rank && x.rank == out.rank && x[lead] == out[lead]) ++lead;
    bool trailing_ones = x.rank == out.rank;
    for (int d = lead; d < x.rank; ++d) trailing_ones = trailing_ones && x[d] == 1;
    if (!trailing_ones) return reference(c, ctx);
    const int64_t rows = x.numel(), run = out.numel() / rows;
    const float factor = c.attrs->expand.mean ? float(double(rows) / double(out.numel())) : 1.0f;
    const float* in = c.in[0].as<float>();
    float* o = c.out.as<float>();
    ctx.pool.parallel_for(rows, per_chunk(run), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) std::fill(o + r * run, o + (r + 1) * run, in[r] * factor);
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

// Σ p[0..n) in vector lanes (a plane of a few thousand values), added up in double.
double sum_floats(const float* p, int64_t n) {
    int64_t i = 0;
    double s = 0;
#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
    Vec acc(0.0f);
    for (; i + lanes <= n; i += lanes) acc += Vec::load_unaligned(p + i);
    s = xsimd::hadd(acc);
#endif
    for (; i < n; ++i) s += p[i];
    return s;
}
// Σ (p[i] − m)² and Σ dy[i]·(p[i] − m), in vector lanes, added up in double.
double sum_squared_deviations(const float* p, int64_t n, float m) {
    int64_t i = 0;
    double s = 0;
#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
    Vec acc(0.0f);
    const Vec vm(m);
    for (; i + lanes <= n; i += lanes) {
        const Vec d = Vec::load_unaligned(p + i) - vm;
        acc = xsimd::fma(d, d, acc);
    }
    s = xsimd::hadd(acc);
#endif
    for (; i < n; ++i) s += double(p[i] - m) * (p[i] - m);
    return s;
}
double sum_products_of_deviations(const float* dy, const float* p, int64_t n, float m) {
    int64_t i = 0;
    double s = 0;
#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
    Vec acc(0.0f);
    const Vec vm(m);
    for (; i + lanes <= n; i += lanes) acc = xsimd::fma(Vec::load_unaligned(dy + i), Vec::load_unaligned(p + i) - vm, acc);
    s = xsimd::hadd(acc);
#endif
    for (; i < n; ++i) s += double(dy[i]) * (p[i] - m);
    return s;
}

template <class F> void for_channels(Context& ctx, const BnGeom& g, F f) {
    ctx.pool.parallel_for(g.c, per_chunk(g.count()), [&](int64_t c0, int64_t c1) {
        for (int64_t ch = c0; ch < c1; ++ch) f(ch);
    });
}
void bn_stats(const KernelCall& c, Context& ctx) {
    const BnGeom g(c.in[0].shape);
    const BatchNormAttrs& a = c.attrs->bn;
    const bool tracked = c.n_in > 1;
    if (tracked && !c.info->training) return reference(c, ctx);  // copies the running stats: O(C)
    double factor = a.momentum;
    if (tracked) {
        int64_t& batches = c.in[3].as<int64_t>()[0];
        ++batches;
        if (a.cumulative) factor = 1.0 / double(batches);
    }
    const float* x = c.in[0].as<float>();
    for_channels(ctx, g, [&](int64_t ch) {
        double sum = 0, sq = 0;
        for (int64_t b = 0; b < g.n; ++b) sum += sum_floats(g.at(x, b, ch), g.inner);
        const double mean = sum / double(g.count());
        for (int64_t b = 0; b < g.n; ++b) sq += sum_squared_deviations(g.at(x, b, ch), g.inner, float(mean));
        bn_store_stats(g, ch, mean, sq / double(g.count()), a.eps, c.out.as<float>(), tracked ? c.in[1].as<float>() : nullptr,
                       tracked ? c.in[2].as<float>() : nullptr, factor);
    });
}
void bn_apply(const KernelCall& c, Context& ctx) {
    const BnGeom g(c.in[0].shape);
    const float* weight = c.n_in > 2 ? c.in[2].as<float>() : nullptr;
    const float* bias = c.n_in > 3 ? c.in[3].as<float>() : nullptr;
    for_channels(ctx, g, [&](int64_t ch) { bn_apply_channel(g, c.in[0].as<float>(), c.in[1].as<float>(), weight, bias, ch, c.out.as<float>()); });
}
void bn_param_grad(const KernelCall& c, Context& ctx) {
    const BnGeom g(c.in[1].shape);
    const float *dy = c.in[0].as<float>(), *x = c.in[1].as<float>(), *stats = c.in[2].as<float>();
    float* pg = c.out.as<float>();
    for_channels(ctx, g, [&](int64_t ch) {  // (Σ dy·(x − mean))·invstd = Σ dy·xhat
        double sdx = 0, sd = 0;
        for (int64_t b = 0; b < g.n; ++b) {
            sdx += sum_products_of_deviations(g.at(dy, b, ch), g.at(x, b, ch), g.inner, stats[ch]);
            sd += sum_floats(g.at(dy, b, ch), g.inner);
        }
        pg[ch] = float(sdx * stats[g.c + ch]);
        pg[g.c + ch] = float(sd);
    });
}
void bn_input_grad(const KernelCall& c, Context& ctx) {
    const BnGeom g(c.in[1].shape);
    const float* weight = c.n_in > 4 ? c.in[4].as<float>() : nullptr;
    for_channels(ctx, g, [&](int64_t ch) {
        bn_input_grad_channel(g, c.in[0].as<float>(), c.in[1].as<float>(), c.in[2].as<float>(), c.in[3].as<float>(), weight, ch,
                              c.out.as<float>());
    });
}
void channel_sum(const KernelCall& c, Context& ctx) {
    const BnGeom g(c.in[0].shape);
    for_channels(ctx, g, [&](int64_t ch) {
        double s = 0;
        for (int64_t b = 0; b < g.n; ++b) s += sum_floats(g.at(c.in[0].as<float>(), b, ch), g.inner);
        c.out.as<float>()[ch] = float(s);
    });
}

constexpr std::array<Kernel, op_count> make_table() {
    std::array<Kernel, op_count> t{};
#define SET(op, fn) t[static_cast<int>(Op::op)] = fn
    SET(matmul, matmul); SET(add, add); SET(sub, sub); SET(mul, mul); SET(div, div); SET(scale, scale);
    SET(relu, relu); SET(relu_grad, relu_grad); SET(sigmoid, sigmoid); SET(tanh, tanh_);
    SET(sigmoid_grad, sigmoid_grad); SET(tanh_grad, tanh_grad); SET(dropout, dropout); SET(sum_to, sum_to);
    SET(softmax, softmax); SET(log_softmax, log_softmax); SET(cross_entropy_grad, cross_entropy_grad);
    SET(sgd_update, sgd_update); SET(adam_update, adam_update);
    SET(conv2d, conv2d); SET(conv2d_grad_input, conv2d_grad_input); SET(conv2d_grad_weight, conv2d_grad_weight);
    SET(max_pool2d, max_pool2d); SET(max_pool2d_grad, max_pool2d_grad); SET(avg_pool2d, avg_pool2d);
    SET(avg_pool2d_grad, avg_pool2d_grad); SET(bn_stats, bn_stats); SET(bn_apply, bn_apply);
    SET(bn_param_grad, bn_param_grad); SET(bn_input_grad, bn_input_grad); SET(channel_sum, channel_sum);
    SET(expand, expand);
#undef SET
    return t;
}

}  // namespace

const std::array<Kernel, op_count> fast_kernels = make_table();

static_assert(op_count == 48, "a new op whose fast kernel needs scratch has a case here");
size_t fast_scratch_bytes(const KernelCall& c, int threads) {
    switch (c.op) {
    case Op::conv2d: return conv_scratch_bytes(ConvGeom(c.in[0].shape, c.in[1].shape, c.attrs->conv), threads);
    case Op::conv2d_grad_input: return grad_input_scratch_bytes(ConvGeom(c.out.shape, c.in[1].shape, c.attrs->conv), threads);
    case Op::conv2d_grad_weight: return conv_scratch_bytes(ConvGeom(c.in[1].shape, c.out.shape, c.attrs->conv), threads);
    default: return 0;
    }
}

}  // namespace kiln::cpu
