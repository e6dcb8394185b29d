// Reference kernels: one plain, single-threaded loop per op, written to be checked by eye against
// PyTorch's documented formulas. They are the oracle for every faster path and the fallback on a
// new target. Long reductions accumulate in double. No kernel allocates, throws or needs an OS:
// this file and gemm.cpp also compile with -ffreestanding -fno-exceptions -fno-rtti (the build
// checks it, see meson.build), for runtimes without one.
#include "kiln/backend/reference/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kiln/backend/kernel_math.h"
#include "kiln/backend/reference/quantized.h"
#include "kiln/core/rng.h"

namespace kiln::reference {

namespace {

void matmul(const KernelCall& c) {
    const MatmulAttrs& a = c.attrs->matmul;
    const TensorRef &x = c.in[0], &y = c.in[1];
    int64_t m = c.out.shape[0], n = c.out.shape[1], k = a.trans_a ? x.shape[0] : x.shape[1];
    gemm(a.trans_a, a.trans_b, m, n, k, 1.0f, x.as<float>(), x.shape[1], y.as<float>(), y.shape[1], 0.0f, c.out.as<float>(), n);
}

template <class F> void binary(const KernelCall& c, F f) {
    Broadcast ba(c.out.shape, c.in[0].shape), bb(c.out.shape, c.in[1].shape);
    const float *a = c.in[0].as<float>(), *b = c.in[1].as<float>();
    float* out = c.out.as<float>();
    for (int64_t i = 0, n = c.out.numel(); i < n; ++i) out[i] = f(a[ba.offset(i)], b[bb.offset(i)]);
}
void add(const KernelCall& c) { binary(c, [](float a, float b) { return a + b; }); }
void sub(const KernelCall& c) { binary(c, [](float a, float b) { return a - b; }); }
void mul(const KernelCall& c) { binary(c, [](float a, float b) { return a * b; }); }
void div(const KernelCall& c) { binary(c, [](float a, float b) { return a / b; }); }

template <class F> void unary(const KernelCall& c, F f) {
    const float* x = c.in[0].as<float>();
    float* out = c.out.as<float>();
    for (int64_t i = 0, n = c.out.numel(); i < n; ++i) out[i] = f(x[i]);
}
void scale(const KernelCall& c) {
    const ScaleAttrs s = c.attrs->scale;
    unary(c, [s](float x) { return x * s.mul + s.add; });
}
void relu(const KernelCall& c) { unary(c, [](float x) { return x > 0 ? x : 0.0f; }); }
void sigmoid(const KernelCall& c) { unary(c, sigmoid_of); }
void tanh_(const KernelCall& c) { unary(c, [](float x) { return std::tanh(x); }); }

template <class F> void grad_pair(const KernelCall& c, F f) {  // (dy, y) -> out
    const float *dy = c.in[0].as<float>(), *y = c.in[1].as<float>();
    float* out = c.out.as<float>();
    for (int64_t i = 0, n = c.out.numel(); i < n; ++i) out[i] = f(dy[i], y[i]);
}
void relu_grad(const KernelCall& c) { grad_pair(c, [](float dy, float y) { return y > 0 ? dy : 0.0f; }); }
void sigmoid_grad(const KernelCall& c) { grad_pair(c, [](float dy, float y) { return dy * y * (1 - y); }); }
void tanh_grad(const KernelCall& c) { grad_pair(c, [](float dy, float y) { return dy * (1 - y * y); }); }

// softmax family: the tensor is [outer, dim, inner] around the axis.
void softmax(const KernelCall& c) {
    Lanes l(c.in[0].shape, c.attrs->axis.axis);
    const float* x = c.in[0].as<float>();
    float* y = c.out.as<float>();
    for (int64_t o = 0; o < l.outer; ++o)
        for (int64_t i = 0; i < l.inner; ++i) {
            const int64_t base = o * l.dim * l.inner + i;
            float mx = -INFINITY;
            for (int64_t d = 0; d < l.dim; ++d) mx = std::max(mx, x[base + d * l.inner]);
            double sum = 0;
            for (int64_t d = 0; d < l.dim; ++d) sum += std::exp(double(x[base + d * l.inner]) - mx);
            for (int64_t d = 0; d < l.dim; ++d) y[base + d * l.inner] = float(std::exp(double(x[base + d * l.inner]) - mx) / sum);
        }
}

void log_softmax(const KernelCall& c) {
    Lanes l(c.in[0].shape, c.attrs->axis.axis);
    const float* x = c.in[0].as<float>();
    float* y = c.out.as<float>();
    for (int64_t o = 0; o < l.outer; ++o)
        for (int64_t i = 0; i < l.inner; ++i) {
            const int64_t base = o * l.dim * l.inner + i;
            float mx = -INFINITY;
            for (int64_t d = 0; d < l.dim; ++d) mx = std::max(mx, x[base + d * l.inner]);
            double sum = 0;
            for (int64_t d = 0; d < l.dim; ++d) sum += std::exp(double(x[base + d * l.inner]) - mx);
            const double lse = mx + std::log(sum);
            for (int64_t d = 0; d < l.dim; ++d) y[base + d * l.inner] = float(x[base + d * l.inner] - lse);
        }
}

void softmax_grad(const KernelCall& c) {  // y * (dy - sum(dy * y))
    Lanes l(c.out.shape, c.attrs->axis.axis);
    const float *dy = c.in[0].as<float>(), *y = c.in[1].as<float>();
    float* dx = c.out.as<float>();
    for (int64_t o = 0; o < l.outer; ++o)
        for (int64_t i = 0; i < l.inner; ++i) {
            const int64_t base = o * l.dim * l.inner + i;
            double dot = 0;
            for (int64_t d = 0; d < l.dim; ++d) dot += double(dy[base + d * l.inner]) * y[base + d * l.inner];
            for (int64_t d = 0; d < l.dim; ++d) {
                const int64_t j = base + d * l.inner;
                dx[j] = float(y[j] * (dy[j] - dot));
            }
        }
}

void log_softmax_grad(const KernelCall& c) {  // dy - exp(y) * sum(dy)
    Lanes l(c.out.shape, c.attrs->axis.axis);
    const float *dy = c.in[0].as<float>(), *y = c.in[1].as<float>();
    float* dx = c.out.as<float>();
    for (int64_t o = 0; o < l.outer; ++o)
        for (int64_t i = 0; i < l.inner; ++i) {
            const int64_t base = o * l.dim * l.inner + i;
            double sum = 0;
            for (int64_t d = 0; d < l.dim; ++d) sum += dy[base + d * l.inner];
            for (int64_t d = 0; d < l.dim; ++d) {
                const int64_t j = base + d * l.inner;
                dx[j] = float(dy[j] - std::exp(double(y[j])) * sum);
            }
        }
}

void reshape(const KernelCall& c) {
    if (c.out.data != c.in[0].data) std::memcpy(c.out.data, c.in[0].data, c.out.numel() * dtype_size(c.out.dtype));
}

void reduce(const KernelCall& c, bool mean) {
    const AxisAttrs& a = c.attrs->axis;
    const float* x = c.in[0].as<float>();
    float* out = c.out.as<float>();
    if (a.all) {
        double s = 0;
        const int64_t n = c.in[0].numel();
        for (int64_t i = 0; i < n; ++i) s += x[i];
        out[0] = float(mean ? s / double(n) : s);
        return;
    }
    Lanes l(c.in[0].shape, a.axis);
    for (int64_t o = 0; o < l.outer; ++o)
        for (int64_t i = 0; i < l.inner; ++i) {
            double s = 0;
            for (int64_t d = 0; d < l.dim; ++d) s += x[(o * l.dim + d) * l.inner + i];
            out[o * l.inner + i] = float(mean ? s / double(l.dim) : s);
        }
}
void sum(const KernelCall& c) { reduce(c, false); }
void mean(const KernelCall& c) { reduce(c, true); }

void dropout(const KernelCall& c) {
    const float p = c.attrs->dropout.p;
    const float* x = c.in[0].as<float>();
    float* out = c.out.as<float>();
    const int64_t n = c.out.numel();
    if (!c.info->training || p == 0.0f) {
        if (out != x) std::memcpy(out, x, n * sizeof(float));
        return;
    }
    const uint64_t key = dropout_key(c.info->seed, c.attrs->dropout.salt);
    const float keep_scale = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < n; ++i) out[i] = counter_uniform(key, i) < p ? 0.0f : x[i] * keep_scale;
}

void sum_to(const KernelCall& c) {
    Broadcast b(c.in[0].shape, c.out.shape);
    const float* dy = c.in[0].as<float>();
    float* out = c.out.as<float>();
    const int64_t n_out = c.out.numel(), n = c.in[0].numel();
    // Visits dy in order, so the sums are deterministic.
    for (int64_t j = 0; j < n_out; ++j) out[j] = 0.0f;
    for (int64_t i = 0; i < n; ++i) out[b.offset(i)] += dy[i];
}

void expand(const KernelCall& c) {
    Broadcast b(c.out.shape, c.in[0].shape);
    const float* x = c.in[0].as<float>();
    float* out = c.out.as<float>();
    const int64_t n = c.out.numel();
    const float factor = c.attrs->expand.mean ? float(double(c.in[0].numel()) / double(n)) : 1.0f;
    for (int64_t i = 0; i < n; ++i) out[i] = x[b.offset(i)] * factor;
}

// --- losses: mean over the elements present at this batch size ---
void l1_loss(const KernelCall& c) {
    const float *a = c.in[0].as<float>(), *b = c.in[1].as<float>();
    const int64_t n = c.in[0].numel();
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::fabs(double(a[i]) - b[i]);
    c.out.as<float>()[0] = float(s / n);
}
void mse_loss(const KernelCall& c) {
    const float *a = c.in[0].as<float>(), *b = c.in[1].as<float>();
    const int64_t n = c.in[0].numel();
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    c.out.as<float>()[0] = float(s / n);
}
void bce_with_logits(const KernelCall& c) {
    const float *x = c.in[0].as<float>(), *y = c.in[1].as<float>();
    const int64_t n = c.in[0].numel();
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += bce_term(x[i], y[i]);
    c.out.as<float>()[0] = float(s / n);
}
void cross_entropy(const KernelCall& c) {
    const float* x = c.in[0].as<float>();
    const int64_t n = c.in[0].shape[0], k = c.in[0].shape[1];
    double s = 0;
    for (int64_t r = 0; r < n; ++r) {
        const float* row = x + r * k;
        const int64_t label = label_at(c.in[1], r);
        if (label < 0 || label >= k) continue;  // write_input rejects these; never read out of bounds
        s += logsumexp(row, k) - row[label];
    }
    c.out.as<float>()[0] = float(s / n);
}

void l1_loss_grad(const KernelCall& c) {
    const float g = c.in[0].as<float>()[0] / float(c.out.numel());
    const float *a = c.in[1].as<float>(), *b = c.in[2].as<float>();
    float* out = c.out.as<float>();
    for (int64_t i = 0, n = c.out.numel(); i < n; ++i) out[i] = a[i] > b[i] ? g : a[i] < b[i] ? -g : 0.0f;
}
void mse_loss_grad(const KernelCall& c) {
    const float g = 2.0f * c.in[0].as<float>()[0] / float(c.out.numel());
    const float *a = c.in[1].as<float>(), *b = c.in[2].as<float>();
    float* out = c.out.as<float>();
    for (int64_t i = 0, n = c.out.numel(); i < n; ++i) out[i] = g * (a[i] - b[i]);
}
void bce_with_logits_grad(const KernelCall& c) {
    const float g = c.in[0].as<float>()[0] / float(c.out.numel());
    const float *x = c.in[1].as<float>(), *y = c.in[2].as<float>();
    float* out = c.out.as<float>();
    for (int64_t i = 0, n = c.out.numel(); i < n; ++i) out[i] = g * (sigmoid_of(x[i]) - y[i]);
}
void cross_entropy_grad(const KernelCall& c) {
    const int64_t n = c.out.shape[0], k = c.out.shape[1];
    const float g = c.in[0].as<float>()[0] / float(n);
    const float* x = c.in[1].as<float>();
    float* out = c.out.as<float>();
    for (int64_t r = 0; r < n; ++r) {
        const float* row = x + r * k;
        const double lse = logsumexp(row, k);
        const int64_t label = label_at(c.in[2], r);
        for (int64_t j = 0; j < k; ++j) out[r * k + j] = g * float(std::exp(row[j] - lse) - (j == label ? 1.0 : 0.0));
    }
}

// --- vision ---
// conv2d as its definition: y[b,o,r,q] = bias[o] + Σ_{c,i,j} x[b, c, r·s - p + i·d, q·s - p + j·d] · w[o,c,i,j].
void conv2d(const KernelCall& c) {
    const ConvGeom g(c.in[0].shape, c.in[1].shape, c.attrs->conv);
    const float *x = c.in[0].as<float>(), *w = c.in[1].as<float>(), *bias = c.n_in > 2 ? c.in[2].as<float>() : nullptr;
    float* y = c.out.as<float>();
    for (int64_t b = 0; b < g.n; ++b)
        for (int64_t o = 0; o < g.o; ++o)
            for (int64_t r = 0; r < g.oh; ++r)
                for (int64_t q = 0; q < g.ow; ++q) {
                    double acc = bias ? bias[o] : 0.0;
                    for (int64_t ch = 0; ch < g.c; ++ch)
                        for (int64_t i = 0; i < g.kh; ++i)
                            for (int64_t j = 0; j < g.kw; ++j) {
                                const int64_t yy = g.in_y(r, i), xx = g.in_x(q, j);
                                if (yy < 0 || yy >= g.h || xx < 0 || xx >= g.w) continue;
                                acc += double(x[((b * g.c + ch) * g.h + yy) * g.w + xx]) * w[((o * g.c + ch) * g.kh + i) * g.kw + j];
                            }
                    y[((b * g.o + o) * g.oh + r) * g.ow + q] = float(acc);
                }
}

// dx[b,c,yy,xx] = Σ over the (o, i, j, r, q) whose tap lands on (yy, xx) of dy[b,o,r,q] · w[o,c,i,j].
void conv2d_grad_input(const KernelCall& c) {
    const ConvGeom g(c.out.shape, c.in[1].shape, c.attrs->conv);
    const float *dy = c.in[0].as<float>(), *w = c.in[1].as<float>();
    float* dx = c.out.as<float>();
    for (int64_t b = 0; b < g.n; ++b)
        for (int64_t ch = 0; ch < g.c; ++ch)
            for (int64_t yy = 0; yy < g.h; ++yy)
                for (int64_t xx = 0; xx < g.w; ++xx) {
                    double acc = 0;
                    for (int64_t o = 0; o < g.o; ++o)
                        for (int64_t i = 0; i < g.kh; ++i)
                            for (int64_t j = 0; j < g.kw; ++j) {
                                int64_t r, q;  // the output whose tap (i, j) is (yy, xx), if there is one
                                if (!g.out_of(yy, xx, i, j, r, q)) continue;
                                acc += double(dy[((b * g.o + o) * g.oh + r) * g.ow + q]) * w[((o * g.c + ch) * g.kh + i) * g.kw + j];
                            }
                    dx[((b * g.c + ch) * g.h + yy) * g.w + xx] = float(acc);
                }
}

// dw[o,c,i,j] = Σ_{b,r,q} dy[b,o,r,q] · x[b, c, tap (i, j) of (r, q)].
void conv2d_grad_weight(const KernelCall& c) {
    const ConvGeom g(c.in[1].shape, c.out.shape, c.attrs->conv);
    const float *dy = c.in[0].as<float>(), *x = c.in[1].as<float>();
    float* dw = c.out.as<float>();
    for (int64_t o = 0; o < g.o; ++o)
        for (int64_t ch = 0; ch < g.c; ++ch)
            for (int64_t i = 0; i < g.kh; ++i)
                for (int64_t j = 0; j < g.kw; ++j) {
                    double acc = 0;
                    for (int64_t b = 0; b < g.n; ++b)
                        for (int64_t r = 0; r < g.oh; ++r)
                            for (int64_t q = 0; q < g.ow; ++q) {
                                const int64_t yy = g.in_y(r, i), xx = g.in_x(q, j);
                                if (yy < 0 || yy >= g.h || xx < 0 || xx >= g.w) continue;
                                acc += double(dy[((b * g.o + o) * g.oh + r) * g.ow + q]) * x[((b * g.c + ch) * g.h + yy) * g.w + xx];
                            }
                    dw[((o * g.c + ch) * g.kh + i) * g.kw + j] = float(acc);
                }
}

void channel_sum(const KernelCall& c) {
    const BnGeom g(c.in[0].shape);
    const float* dy = c.in[0].as<float>();
    for (int64_t ch = 0; ch < g.c; ++ch) {
        double s = 0;
        for (int64_t b = 0; b < g.n; ++b)
            for (int64_t i = 0; i < g.inner; ++i) s += g.at(dy, b, ch)[i];
        c.out.as<float>()[ch] = float(s);
    }
}

// Pooling: plane by plane (each of the n·c planes is independent).
struct Planes {
    int64_t count, h, w, oh, ow;
    Planes(const Shape& x, const Shape& y) : count(x[0] * x[1]), h(x[2]), w(x[3]), oh(y[2]), ow(y[3]) {}
};
void max_pool2d(const KernelCall& c) {
    const Planes p(c.in[0].shape, c.out.shape);
    for (int64_t k = 0; k < p.count; ++k)
        max_pool_plane(c.attrs->pool, c.in[0].as<float>() + k * p.h * p.w, p.h, p.w, c.out.as<float>() + k * p.oh * p.ow, p.oh, p.ow);
}
void max_pool2d_grad(const KernelCall& c) {
    const Planes p(c.out.shape, c.in[0].shape);
    for (int64_t k = 0; k < p.count; ++k)
        max_pool_grad_plane(c.attrs->pool, c.in[0].as<float>() + k * p.oh * p.ow, c.in[1].as<float>() + k * p.h * p.w, p.h, p.w,
                            c.out.as<float>() + k * p.h * p.w, p.oh, p.ow);
}
void avg_pool2d(const KernelCall& c) {
    const Planes p(c.in[0].shape, c.out.shape);
    for (int64_t k = 0; k < p.count; ++k)
        avg_pool_plane(c.attrs->pool, c.in[0].as<float>() + k * p.h * p.w, p.h, p.w, c.out.as<float>() + k * p.oh * p.ow, p.oh, p.ow);
}
void avg_pool2d_grad(const KernelCall& c) {
    const Planes p(c.out.shape, c.in[0].shape);
    for (int64_t k = 0; k < p.count; ++k)
        avg_pool_grad_plane(c.attrs->pool, c.in[0].as<float>() + k * p.oh * p.ow, p.h, p.w, c.out.as<float>() + k * p.h * p.w, p.oh, p.ow);
}

// Batch norm: channel by channel.
void bn_stats(const KernelCall& c) {
    const BnGeom g(c.in[0].shape);
    const BatchNormAttrs& a = c.attrs->bn;
    float* stats = c.out.as<float>();
    const bool tracked = c.n_in > 1;
    if (tracked && !c.info->training) {  // eval: the running statistics
        for (int64_t ch = 0; ch < g.c; ++ch) {
            stats[ch] = c.in[1].as<float>()[ch];
            stats[g.c + ch] = float(1.0 / std::sqrt(double(c.in[2].as<float>()[ch]) + a.eps));
        }
        return;
    }
    double factor = a.momentum;
    if (tracked) {
        int64_t& batches = c.in[3].as<int64_t>()[0];
        ++batches;
        if (a.cumulative) factor = 1.0 / double(batches);
    }
    for (int64_t ch = 0; ch < g.c; ++ch)
        bn_channel_stats(g, c.in[0].as<float>(), ch, a.eps, stats, tracked ? c.in[1].as<float>() : nullptr,
                         tracked ? c.in[2].as<float>() : nullptr, factor);
}
void bn_apply(const KernelCall& c) {
    const BnGeom g(c.in[0].shape);
    const float* weight = c.n_in > 2 ? c.in[2].as<float>() : nullptr;
    const float* bias = c.n_in > 3 ? c.in[3].as<float>() : nullptr;
    for (int64_t ch = 0; ch < g.c; ++ch) bn_apply_channel(g, c.in[0].as<float>(), c.in[1].as<float>(), weight, bias, ch, c.out.as<float>());
}
void bn_param_grad(const KernelCall& c) {
    const BnGeom g(c.in[1].shape);
    for (int64_t ch = 0; ch < g.c; ++ch)
        bn_param_grad_channel(g, c.in[0].as<float>(), c.in[1].as<float>(), c.in[2].as<float>(), ch, c.out.as<float>());
}
void bn_input_grad(const KernelCall& c) {
    const BnGeom g(c.in[1].shape);
    const float* weight = c.n_in > 4 ? c.in[4].as<float>() : nullptr;
    for (int64_t ch = 0; ch < g.c; ++ch)
        bn_input_grad_channel(g, c.in[0].as<float>(), c.in[1].as<float>(), c.in[2].as<float>(), c.in[3].as<float>(), weight, ch,
                              c.out.as<float>());
}

void select(const KernelCall& c) {  // a view unless the planner gave it its own buffer
    const size_t bytes = size_t(c.out.numel()) * dtype_size(c.out.dtype);
    const char* src = static_cast<const char*>(c.in[0].data) + size_t(c.attrs->select.index) * bytes;
    if (c.out.data != src) std::memcpy(c.out.data, src, bytes);
}

// --- int8 inference: the integer kernels of quantized.h over a kernel call ---
quant::Output output_of(const KernelCall& c) {
    const QuantAttrs& q = c.attrs->quant;
    return {c.in[3].as<int32_t>(), q.y_zero, q.lo, q.hi};
}
quant::Multiplier multiplier(const QuantAttrs& q, int k) { return {q.m0[k], q.shift[k]}; }
void quantize(const KernelCall& c) {
    const QuantAttrs& q = c.attrs->quant;
    const float* x = c.in[0].as<float>();
    int8_t* y = c.out.as<int8_t>();
    for (int64_t i = 0, n = c.out.numel(); i < n; ++i) y[i] = quant::quantize(x[i], {q.scale, q.y_zero}, q.lo, q.hi);
}
void dequantize(const KernelCall& c) {
    const QuantAttrs& q = c.attrs->quant;
    const int8_t* x = c.in[0].as<int8_t>();
    float* y = c.out.as<float>();
    for (int64_t i = 0, n = c.out.numel(); i < n; ++i) y[i] = quant::dequantize(x[i], {q.scale, q.x_zero});
}
void qconv2d(const KernelCall& c) {
    quant::conv2d(ConvGeom(c.in[0].shape, c.in[1].shape, c.attrs->conv), c.in[0].as<int8_t>(), c.attrs->quant.x_zero, c.in[1].as<int8_t>(),
                  c.in[2].as<int32_t>(), output_of(c), c.out.as<int8_t>());
}
void qlinear(const KernelCall& c) {
    quant::linear(c.in[0].shape[0], c.in[0].shape[1], c.in[1].shape[0], c.in[0].as<int8_t>(), c.attrs->quant.x_zero, c.in[1].as<int8_t>(),
                  c.in[2].as<int32_t>(), output_of(c), c.out.as<int8_t>());
}
void qmax_pool2d(const KernelCall& c) {
    const Planes p(c.in[0].shape, c.out.shape);
    quant::max_pool2d(c.attrs->pool, c.in[0].as<int8_t>(), p.count, p.h, p.w, p.oh, p.ow, c.out.as<int8_t>());
}
void qavg_pool2d(const KernelCall& c) {
    const Planes p(c.in[0].shape, c.out.shape);
    quant::avg_pool2d(c.attrs->pool, c.in[0].as<int8_t>(), c.attrs->quant.x_zero, p.count, p.h, p.w, p.oh, p.ow, c.out.as<int8_t>());
}
void qadd(const KernelCall& c) {
    const QuantAttrs& q = c.attrs->quant;
    const quant::AddParams p{q.x_zero, q.b_zero, q.y_zero, q.lo, q.hi, multiplier(q, 0), multiplier(q, 1), multiplier(q, 2)};
    quant::add(p, c.in[0].as<int8_t>(), c.in[1].as<int8_t>(), c.out.numel(), c.out.as<int8_t>());
}
void qmean(const KernelCall& c) {
    const QuantAttrs& q = c.attrs->quant;
    const Shape& x = c.in[0].shape;
    quant::mean(c.in[0].as<int8_t>(), q.x_zero, c.out.numel(), x[x.rank - 1], multiplier(q, 0), q.y_zero, c.out.as<int8_t>());
}
void qlookup(const KernelCall& c) { quant::lookup(c.in[1].as<int8_t>(), c.in[0].as<int8_t>(), c.out.numel(), c.out.as<int8_t>()); }

// --- optimizer steps (torch.optim formulas) ---
void sgd_update(const KernelCall& c) {
    const SgdAttrs& s = c.attrs->sgd;
    float* p = c.in[0].as<float>();
    const float* grad = c.in[1].as<float>();
    float* buf = c.n_in > 2 ? c.in[2].as<float>() : nullptr;
    for (int64_t i = 0, n = c.in[0].numel(); i < n; ++i) p[i] = sgd_element(s, *c.info, p[i], grad[i], buf ? &buf[i] : nullptr);
}

void adam_update(const KernelCall& c) {
    const AdamAttrs& a = c.attrs->adam;
    const AdamStep st = adam_step(a, *c.info);
    float *p = c.in[0].as<float>(), *m = c.in[2].as<float>(), *v = c.in[3].as<float>();
    const float* grad = c.in[1].as<float>();
    for (int64_t i = 0, n = c.in[0].numel(); i < n; ++i) adam_element(a, st, p[i], grad[i], m[i], v[i]);
}

static_assert(op_count == 57, "a new op needs its reference kernel and a SET line here");
constexpr std::array<Kernel, op_count> make_table() {
    std::array<Kernel, op_count> t{};
#define SET(op, fn) t[static_cast<int>(Op::op)] = fn
    SET(matmul, matmul); SET(add, add); SET(sub, sub); SET(mul, mul); SET(div, div); SET(scale, scale);
    SET(relu, relu); SET(sigmoid, sigmoid); SET(tanh, tanh_); SET(softmax, softmax); SET(log_softmax, log_softmax);
    SET(reshape, reshape); SET(sum, sum); SET(mean, mean); SET(dropout, dropout);
    SET(l1_loss, l1_loss); SET(mse_loss, mse_loss); SET(bce_with_logits, bce_with_logits); SET(cross_entropy, cross_entropy);
    SET(relu_grad, relu_grad); SET(sigmoid_grad, sigmoid_grad); SET(tanh_grad, tanh_grad); SET(softmax_grad, softmax_grad);
    SET(log_softmax_grad, log_softmax_grad); SET(sum_to, sum_to); SET(expand, expand);
    SET(l1_loss_grad, l1_loss_grad); SET(mse_loss_grad, mse_loss_grad); SET(bce_with_logits_grad, bce_with_logits_grad);
    SET(cross_entropy_grad, cross_entropy_grad); SET(sgd_update, sgd_update); SET(adam_update, adam_update);
    SET(conv2d, conv2d); SET(conv2d_grad_input, conv2d_grad_input); SET(conv2d_grad_weight, conv2d_grad_weight);
    SET(channel_sum, channel_sum); SET(max_pool2d, max_pool2d); SET(max_pool2d_grad, max_pool2d_grad);
    SET(avg_pool2d, avg_pool2d); SET(avg_pool2d_grad, avg_pool2d_grad); SET(bn_stats, bn_stats); SET(bn_apply, bn_apply);
    SET(bn_param_grad, bn_param_grad); SET(bn_input_grad, bn_input_grad); SET(select, select);
    SET(quantize, quantize); SET(dequantize, dequantize); SET(qconv2d, qconv2d); SET(qlinear, qlinear);
    SET(qmax_pool2d, qmax_pool2d); SET(qavg_pool2d, qavg_pool2d); SET(qadd, qadd); SET(qmean, qmean); SET(qlookup, qlookup);
#undef SET
    return t;
}

}  // namespace

const std::array<Kernel, op_count> kernels = make_table();

}  // namespace kiln::reference
