// Fast elementwise kernels: binary ops (with the bias broadcast), scale, activations and their
// gradients, dropout, and the bias-gradient reduction sum_to and its mirror expand.
#include <cmath>
#include <cstring>

#include "kiln/backend/cpu/simd/common.h"

namespace kiln::cpu::simd {

namespace {

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

}  // namespace

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

}  // namespace kiln::cpu::simd
