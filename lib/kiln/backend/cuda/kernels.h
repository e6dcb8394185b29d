// The CUDA backend's kernel bodies: what one GPU thread computes for index i, as KILN_HD functors.
// module.cu launches each of them over a grid (a grid-stride loop calls body(i) once per i);
// test/cuda runs the very same functors on the CPU through a host executor, so every run of CI
// checks their arithmetic against the CPU reference. The per-element formulas come from
// kernel_math.h, shared with the CPU kernels.
//
// Every output element is written by exactly one thread, and every sum runs in a fixed order
// (long ones in fixed-size chunks, then chunk by chunk), so a result never depends on timing.
// Functors hold plain pointers and sizes only: they are copied to the device as kernel arguments.
#pragma once
#include <cmath>
#include <cstdint>

#include "kiln/backend/kernel_math.h"
#include "kiln/core/rng.h"

namespace kiln::cuda {

// ---- elementwise ----

// An operand of a broadcasting binary op: its own index when it has out's shape, else Broadcast's.
struct Operand {
    const float* p;
    Broadcast b;
    bool direct;
    Operand(const TensorRef& t, const Shape& out) : p(t.as<float>()), b(out, t.shape), direct(t.shape == out) {}
    KILN_HD float at(int64_t i) const { return p[direct ? i : b.offset(i)]; }
};

struct AddF { KILN_HD float operator()(float a, float b) const { return a + b; } };
struct SubF { KILN_HD float operator()(float a, float b) const { return a - b; } };
struct MulF { KILN_HD float operator()(float a, float b) const { return a * b; } };
struct DivF { KILN_HD float operator()(float a, float b) const { return a / b; } };

template <class F> struct Binary {
    Operand a, b;
    float* out;
    KILN_HD void operator()(int64_t i) const { out[i] = F()(a.at(i), b.at(i)); }
};

struct ScaleF {
    float mul, add;
    KILN_HD float operator()(float x) const { return x * mul + add; }
};
struct ReluF { KILN_HD float operator()(float x) const { return x > 0 ? x : 0.0f; } };
struct SigmoidF { KILN_HD float operator()(float x) const { return sigmoid_of(x); } };
struct TanhF { KILN_HD float operator()(float x) const { return std::tanh(x); } };

template <class F> struct Unary {
    F f;
    const float* x;
    float* out;
    KILN_HD void operator()(int64_t i) const { out[i] = f(x[i]); }
};

// (dy, y) -> out
struct ReluGradF { KILN_HD float operator()(float dy, float y) const { return y > 0 ? dy : 0.0f; } };
struct SigmoidGradF { KILN_HD float operator()(float dy, float y) const { return dy * y * (1 - y); } };
struct TanhGradF { KILN_HD float operator()(float dy, float y) const { return dy * (1 - y * y); } };

template <class F> struct GradPair {
    const float *dy, *y;
    float* out;
    KILN_HD void operator()(int64_t i) const { out[i] = F()(dy[i], y[i]); }
};

struct Dropout {
    const float* x;
    float* out;
    uint64_t key;
    float p, keep_scale;
    KILN_HD void operator()(int64_t i) const { out[i] = counter_uniform(key, uint64_t(i)) < p ? 0.0f : x[i] * keep_scale; }
};

struct Expand {
    const float* x;
    float* out;
    Broadcast b;
    float factor;
    KILN_HD void operator()(int64_t i) const { out[i] = x[b.offset(i)] * factor; }
};

// sum_to: out[j] = Σ of the dy elements that broadcast from j, visited in increasing dy index
// (the reference's order, so the float sums agree bit for bit).
struct SumTo {
    const float* dy;
    float* out;
    int rank;
    int64_t dims[Shape::max_rank];    // dy's dims
    int64_t stride[Shape::max_rank];  // dy's strides
    bool reduced[Shape::max_rank];    // out has 1 where dy has more
    int64_t count;                    // dy elements per out element
    SumTo(const TensorRef& in, const TensorRef& o) : dy(in.as<float>()), out(o.as<float>()), rank(in.shape.rank), count(1) {
        int64_t s = 1;
        for (int d = rank - 1; d >= 0; --d) {
            const int od = o.shape.rank - rank + d;
            dims[d] = in.shape[d];
            stride[d] = s;
            s *= dims[d];
            reduced[d] = (od < 0 ? 1 : o.shape[od]) == 1 && dims[d] != 1;
            if (reduced[d]) count *= dims[d];
        }
    }
    KILN_HD void operator()(int64_t j) const {
        int64_t base = 0, rest = j;
        for (int d = rank - 1; d >= 0; --d)
            if (!reduced[d]) base += (rest % dims[d]) * stride[d], rest /= dims[d];
        float acc = 0.0f;
        for (int64_t t = 0; t < count; ++t) {
            int64_t off = base, r = t;
            for (int d = rank - 1; d >= 0; --d)
                if (reduced[d]) off += (r % dims[d]) * stride[d], r /= dims[d];
            acc += dy[off];
        }
        out[j] = acc;
    }
};

// ---- along an axis: one thread per lane of [outer, dim, inner] ----

struct LaneBody {
    Lanes l;
    KILN_HD int64_t base(int64_t lane) const { return (lane / l.inner) * l.dim * l.inner + lane % l.inner; }
};

struct Softmax : LaneBody {
    const float* x;
    float* y;
    bool log;
    KILN_HD void operator()(int64_t lane) const {
        const int64_t b = base(lane), s = l.inner;
        float mx = -INFINITY;
        for (int64_t d = 0; d < l.dim; ++d) mx = x[b + d * s] > mx ? x[b + d * s] : mx;
        double sum = 0;
        for (int64_t d = 0; d < l.dim; ++d) sum += std::exp(double(x[b + d * s]) - mx);
        const double lse = mx + std::log(sum);
        for (int64_t d = 0; d < l.dim; ++d)
            y[b + d * s] = log ? float(x[b + d * s] - lse) : float(std::exp(double(x[b + d * s]) - mx) / sum);
    }
};

struct SoftmaxGrad : LaneBody {  // softmax: y·(dy − Σ dy·y); log_softmax: dy − exp(y)·Σ dy
    const float *dy, *y;
    float* dx;
    bool log;
    KILN_HD void operator()(int64_t lane) const {
        const int64_t b = base(lane), s = l.inner;
        double acc = 0;
        for (int64_t d = 0; d < l.dim; ++d) acc += log ? double(dy[b + d * s]) : double(dy[b + d * s]) * y[b + d * s];
        for (int64_t d = 0; d < l.dim; ++d) {
            const int64_t j = b + d * s;
            dx[j] = log ? float(dy[j] - std::exp(double(y[j])) * acc) : float(y[j] * (dy[j] - acc));
        }
    }
};

struct AxisReduce : LaneBody {  // sum or mean along the axis
    const float* x;
    float* out;
    bool mean;
    KILN_HD void operator()(int64_t lane) const {
        double s = 0;
        for (int64_t d = 0; d < l.dim; ++d) s += x[base(lane) + d * l.inner];
        out[lane] = float(mean ? s / double(l.dim) : s);
    }
};

// ---- long sums: lanes × chunks partial sums in double, then one thread per lane adds its chunks ----

// How a sum of `len` terms per lane is split. Chosen on the host from the sizes alone.
struct Chunking {
    int64_t lanes, len, chunk, chunks;
};
inline constexpr int64_t sum_chunk = 1024;  // terms one thread adds
inline Chunking chunking(int64_t lanes, int64_t len) { return {lanes, len, sum_chunk, len > 0 ? (len + sum_chunk - 1) / sum_chunk : 1}; }

// partial[(lane · chunks + k) · W + w] = Σ over t in chunk k of term w of (lane, t).
template <class Term> struct PartialSums {
    Term term;
    Chunking c;
    double* partial;
    KILN_HD void operator()(int64_t idx) const {
        const int64_t lane = idx / c.chunks, k = idx % c.chunks;
        double acc[Term::width] = {};
        const int64_t end = (k + 1) * c.chunk < c.len ? (k + 1) * c.chunk : c.len;
        for (int64_t t = k * c.chunk; t < end; ++t) term(lane, t, acc);
        for (int w = 0; w < Term::width; ++w) partial[idx * Term::width + w] = acc[w];
    }
};

// Then finish(lane, sums) with the lane's W totals.
template <class Finish, int W> struct CombineSums {
    Finish finish;
    Chunking c;
    const double* partial;
    KILN_HD void operator()(int64_t lane) const {
        double s[W] = {};
        for (int64_t k = 0; k < c.chunks; ++k)
            for (int w = 0; w < W; ++w) s[w] += partial[(lane * c.chunks + k) * W + w];
        finish(lane, s);
    }
};

// Terms.
struct ValueTerm {  // x[t] (one lane: sum or mean over all elements)
    static constexpr int width = 1;
    const float* x;
    KILN_HD void operator()(int64_t, int64_t t, double* acc) const { acc[0] += x[t]; }
};
struct L1Term {
    static constexpr int width = 1;
    const float *a, *b;
    KILN_HD void operator()(int64_t, int64_t t, double* acc) const { acc[0] += std::fabs(double(a[t]) - b[t]); }
};
struct MseTerm {
    static constexpr int width = 1;
    const float *a, *b;
    KILN_HD void operator()(int64_t, int64_t t, double* acc) const { acc[0] += (double(a[t]) - b[t]) * (double(a[t]) - b[t]); }
};
struct BceTerm {
    static constexpr int width = 1;
    const float *x, *y;
    KILN_HD void operator()(int64_t, int64_t t, double* acc) const { acc[0] += bce_term(x[t], y[t]); }
};
// Row t of the logits: logsumexp − the logit of its label (labels are i32 or i64).
struct CrossEntropyTerm {
    static constexpr int width = 1;
    const float* x;
    const void* labels;
    bool labels_i64;
    int64_t k;
    KILN_HD int64_t label(int64_t r) const {
        return labels_i64 ? static_cast<const int64_t*>(labels)[r] : static_cast<const int32_t*>(labels)[r];
    }
    KILN_HD void operator()(int64_t, int64_t r, double* acc) const {
        const int64_t y = label(r);
        if (y < 0 || y >= k) return;  // write_input rejects these; never read out of bounds
        acc[0] += logsumexp(x + r * k, k) - x[r * k + y];
    }
};
// Per channel of x [n, c, inner...]: term index t = b · inner + i.
struct ChannelTerm {
    static constexpr int width = 1;
    BnGeom g;
    const float* x;
    KILN_HD void operator()(int64_t ch, int64_t t, double* acc) const { acc[0] += g.at(x, t / g.inner, ch)[t % g.inner]; }
};
struct SquaredDeviationTerm {  // (x − mean)², the mean from the first pass (double)
    static constexpr int width = 1;
    BnGeom g;
    const float* x;
    const double* mean;
    KILN_HD void operator()(int64_t ch, int64_t t, double* acc) const {
        const double d = g.at(x, t / g.inner, ch)[t % g.inner] - mean[ch];
        acc[0] += d * d;
    }
};
struct BnParamTerm {  // (dy·xhat, dy)
    static constexpr int width = 2;
    BnGeom g;
    const float *dy, *x, *stats;
    KILN_HD void operator()(int64_t ch, int64_t t, double* acc) const {
        const int64_t b = t / g.inner, i = t % g.inner;
        const double d = g.at(dy, b, ch)[i];
        acc[0] += d * (g.at(x, b, ch)[i] - double(stats[ch])) * double(stats[g.c + ch]);
        acc[1] += d;
    }
};

// Finishes.
struct StoreScaled {  // out[lane] = sum · mul
    float* out;
    double mul;
    KILN_HD void operator()(int64_t lane, const double* s) const { out[lane] = float(s[0] * mul); }
};
struct StoreMean {  // mean[lane] = sum / count, kept in double for the second pass
    double* mean;
    double count;
    KILN_HD void operator()(int64_t lane, const double* s) const { mean[lane] = s[0] / count; }
};
// The batch statistics of channel ch and PyTorch's running-statistics update (kernel_math.h).
struct StoreBnStats {
    BnGeom g;
    const double* mean;
    float eps, momentum;
    bool cumulative;
    float *stats, *running_mean, *running_var;  // running_* null when the layer tracks none
    const int64_t* batches;                     // num_batches_tracked, already counted for this call
    KILN_HD void operator()(int64_t ch, const double* s) const {
        const double factor = cumulative && batches ? 1.0 / double(*batches) : double(momentum);
        bn_store_stats(g, ch, mean[ch], s[0] / double(g.count()), eps, stats, running_mean, running_var, factor);
    }
};
struct StorePair {  // [2, c]: (s0, s1)
    float* out;
    int64_t c;
    KILN_HD void operator()(int64_t ch, const double* s) const {
        out[ch] = float(s[0]);
        out[c + ch] = float(s[1]);
    }
};

// ---- batch norm, elementwise and per channel ----

struct CountBatch {  // ++num_batches_tracked (one thread)
    int64_t* batches;
    KILN_HD void operator()(int64_t) const { ++*batches; }
};
struct BnEvalStats {  // eval: (running_mean, 1/sqrt(running_var + eps))
    const float *running_mean, *running_var;
    float* stats;
    int64_t c;
    float eps;
    KILN_HD void operator()(int64_t ch) const {
        stats[ch] = running_mean[ch];
        stats[c + ch] = float(1.0 / std::sqrt(double(running_var[ch]) + eps));
    }
};
struct BnApply {  // bn_apply_channel's arithmetic, one element per thread
    BnGeom g;
    const float *x, *stats, *weight, *bias;
    float* y;
    KILN_HD void operator()(int64_t i) const {
        const int64_t ch = (i / g.inner) % g.c;
        const float scale = stats[g.c + ch] * (weight ? weight[ch] : 1.0f);
        const float shift = (bias ? bias[ch] : 0.0f) - stats[ch] * scale;
        y[i] = x[i] * scale + shift;
    }
};
struct BnInputGrad {  // bn_input_grad_channel's arithmetic, one element per thread
    BnGeom g;
    const float *dy, *x, *stats, *pg, *weight;
    float* dx;
    KILN_HD void operator()(int64_t i) const {
        const int64_t ch = (i / g.inner) % g.c;
        const float invstd = stats[g.c + ch], mean = stats[ch], m = float(g.count());
        const float k = invstd * (weight ? weight[ch] : 1.0f);
        const float mean_dy = pg[g.c + ch] / m, mean_dy_xhat = pg[ch] / m;
        dx[i] = k * (dy[i] - mean_dy - (x[i] - mean) * invstd * mean_dy_xhat);
    }
};

// ---- loss gradients ----

struct L1Grad {
    const float *dloss, *a, *b;
    float* out;
    float n;
    KILN_HD void operator()(int64_t i) const {
        const float g = dloss[0] / n;
        out[i] = a[i] > b[i] ? g : a[i] < b[i] ? -g : 0.0f;
    }
};
struct MseGrad {
    const float *dloss, *a, *b;
    float* out;
    float n;
    KILN_HD void operator()(int64_t i) const { out[i] = (2.0f * dloss[0] / n) * (a[i] - b[i]); }
};
struct BceGrad {
    const float *dloss, *x, *y;
    float* out;
    float n;
    KILN_HD void operator()(int64_t i) const { out[i] = (dloss[0] / n) * (sigmoid_of(x[i]) - y[i]); }
};
struct CrossEntropyGrad {  // one row per thread
    CrossEntropyTerm rows;
    const float* dloss;
    float* out;
    float n;
    KILN_HD void operator()(int64_t r) const {
        const float g = dloss[0] / n;
        const float* row = rows.x + r * rows.k;
        const double lse = logsumexp(row, rows.k);
        const int64_t label = rows.label(r);
        for (int64_t j = 0; j < rows.k; ++j) out[r * rows.k + j] = g * float(std::exp(row[j] - lse) - (j == label ? 1.0 : 0.0));
    }
};

// ---- convolution as im2col + GEMM ----

// cols [n, k, p] (k = c·kh·kw rows, p = oh·ow columns per image) of x [n, c, h, w]; 0 in the padding.
struct Im2col {
    ConvGeom g;
    const float* x;
    float* cols;
    KILN_HD void operator()(int64_t idx) const {
        const int64_t p = g.p(), k = g.k();
        const int64_t q = idx % p, row = (idx / p) % k, b = idx / (p * k);
        const int64_t ch = row / (g.kh * g.kw), i = (row / g.kw) % g.kh, j = row % g.kw;
        const int64_t yy = g.in_y(q / g.ow, i), xx = g.in_x(q % g.ow, j);
        cols[idx] = yy < 0 || yy >= g.h || xx < 0 || xx >= g.w ? 0.0f : x[((b * g.c + ch) * g.h + yy) * g.w + xx];
    }
};

// dx[b, c, yy, xx] = Σ of the cols entries whose tap reads (yy, xx): the inverse of Im2col as a
// gather (no two threads write one element), taps visited in (i, j) order.
struct Col2im {
    ConvGeom g;
    const float* cols;
    float* dx;
    KILN_HD void operator()(int64_t idx) const {
        const int64_t xx = idx % g.w, yy = (idx / g.w) % g.h, ch = (idx / (g.w * g.h)) % g.c, b = idx / (g.w * g.h * g.c);
        const int64_t p = g.p();
        const float* cb = cols + b * g.k() * p;
        float acc = 0.0f;
        for (int64_t i = 0; i < g.kh; ++i)
            for (int64_t j = 0; j < g.kw; ++j) {
                int64_t r, q;
                if (g.out_of(yy, xx, i, j, r, q)) acc += cb[((ch * g.kh + i) * g.kw + j) * p + r * g.ow + q];
            }
        dx[idx] = acc;
    }
};

struct AddChannelBias {  // y[b, o, :] += bias[o]
    float* y;
    const float* bias;
    int64_t o, p;
    KILN_HD void operator()(int64_t i) const { y[i] += bias[(i / p) % o]; }
};

struct SumOverBatch {  // out[j] = Σ_b parts[b · size + j], b in order
    const float* parts;
    float* out;
    int64_t batch, size;
    KILN_HD void operator()(int64_t j) const {
        float acc = 0.0f;
        for (int64_t b = 0; b < batch; ++b) acc += parts[b * size + j];
        out[j] = acc;
    }
};

// ---- pooling: one output (forward) or one input (backward, a gather) element per thread ----

struct PoolGeom {
    Pool2dAttrs a;
    int64_t h, w, oh, ow;
    // The range of output rows (or columns) whose window covers input row y: [lo, hi).
    KILN_HD static void covering(int64_t y, int64_t k, int64_t s, int64_t pad, int64_t out, int64_t& lo, int64_t& hi) {
        const int64_t top = y + pad - k + 1;  // a window starting at r·s − pad covers y when r·s ≥ top
        lo = top <= 0 ? 0 : (top + s - 1) / s;
        hi = (y + pad) / s + 1;
        hi = hi < out ? hi : out;
    }
};

struct MaxPool {
    PoolGeom g;
    const float* x;
    float* y;
    KILN_HD void operator()(int64_t idx) const {
        const int64_t q = idx % g.ow, r = (idx / g.ow) % g.oh, plane = idx / (g.ow * g.oh);
        const float* xp = x + plane * g.h * g.w;
        y[idx] = is_plain_2x2(g.a) ? xp[2 * r * g.w + 2 * q + argmax_2x2(xp + 2 * r * g.w + 2 * q, g.w)]
                                   : xp[pool_argmax(xp, g.w, PoolWindow(g.a, g.h, g.w, r, q))];
    }
};

struct AvgPool {
    PoolGeom g;
    const float* x;
    float* y;
    KILN_HD void operator()(int64_t idx) const {
        const int64_t q = idx % g.ow, r = (idx / g.ow) % g.oh, plane = idx / (g.ow * g.oh);
        const float* xp = x + plane * g.h * g.w;
        if (is_plain_2x2(g.a)) {  // the reference's order of additions
            const float* c = xp + 2 * r * g.w + 2 * q;
            y[idx] = ((((0.0f + c[0]) + c[1]) + c[g.w]) + c[g.w + 1]) / 4.0f;
            return;
        }
        const PoolWindow win(g.a, g.h, g.w, r, q);
        float s = 0;
        for (int64_t yy = win.y0; yy < win.y1; ++yy)
            for (int64_t xx = win.x0; xx < win.x1; ++xx) s += xp[yy * g.w + xx];
        y[idx] = s / float(win.divisor);
    }
};

// dx[plane, y, x]: the dy of every window (in row-major window order, as the reference adds
// them) whose maximum — or, for average pooling, whose area — is this element.
struct PoolGrad {
    PoolGeom g;
    const float *dy, *x;  // x: max pooling's input; null for average pooling
    float* dx;
    KILN_HD void operator()(int64_t idx) const {
        const int64_t xx = idx % g.w, yy = (idx / g.w) % g.h, plane = idx / (g.w * g.h);
        const float* dyp = dy + plane * g.oh * g.ow;
        const int64_t at = yy * g.w + xx;
        int64_t r0, r1, q0, q1;
        PoolGeom::covering(yy, g.a.kernel_h, g.a.stride_h, g.a.pad_h, g.oh, r0, r1);
        PoolGeom::covering(xx, g.a.kernel_w, g.a.stride_w, g.a.pad_w, g.ow, q0, q1);
        float acc = 0.0f;
        for (int64_t r = r0; r < r1; ++r)
            for (int64_t q = q0; q < q1; ++q) {
                const PoolWindow win(g.a, g.h, g.w, r, q);
                if (yy < win.y0 || yy >= win.y1 || xx < win.x0 || xx >= win.x1) continue;
                if (x) {
                    const float* xp = x + plane * g.h * g.w;
                    const int64_t best = is_plain_2x2(g.a) ? 2 * r * g.w + 2 * q + argmax_2x2(xp + 2 * r * g.w + 2 * q, g.w)
                                                           : pool_argmax(xp, g.w, win);
                    if (best == at) acc += dyp[r * g.ow + q];
                } else {
                    acc += is_plain_2x2(g.a) ? dyp[r * g.ow + q] / 4.0f : dyp[r * g.ow + q] / float(win.divisor);
                }
            }
        dx[idx] = acc;
    }
};

// ---- optimizer steps (torch.optim, kernel_math.h) ----

struct SgdStep {
    SgdAttrs s;
    RunInfo info;
    float* p;
    const float* grad;
    float* buf;
    KILN_HD void operator()(int64_t i) const { p[i] = sgd_element(s, info, p[i], grad[i], buf ? &buf[i] : nullptr); }
};

struct AdamUpdate {
    AdamAttrs a;
    AdamStep st;
    float *p, *m, *v;
    const float* grad;
    KILN_HD void operator()(int64_t i) const { adam_element(a, st, p[i], grad[i], m[i], v[i]); }
};

}  // namespace kiln::cuda
