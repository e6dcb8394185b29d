// Fast batch norm kernels and channel_sum (the conv bias gradient): channels in parallel, each
// with kernel_math.h arithmetic and its sums in vector lanes.
#include "kiln/backend/cpu/simd/common.h"

namespace kiln::cpu::simd {

namespace {

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

}  // namespace

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

}  // namespace kiln::cpu::simd
