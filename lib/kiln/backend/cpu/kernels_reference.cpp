// Reference kernels: one plain, single-threaded loop per op, written to be checked by eye against
// PyTorch's documented formulas. They are the oracle for every faster path and the fallback on a
// new target. Long reductions accumulate in double. No kernel allocates.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "kiln/backend/cpu/cpu_backend.h"
#include "kiln/backend/cpu/gemm.h"
#include "kiln/backend/kernel_math.h"
#include "kiln/core/rng.h"

namespace kiln::cpu {

namespace {

void matmul(const KernelCall& c, Context&) {
    const MatmulAttrs& a = c.attrs->matmul;
    const TensorRef &x = c.in[0], &y = c.in[1];
    int64_t m = c.out.shape[0], n = c.out.shape[1], k = a.trans_a ? x.shape[0] : x.shape[1];
    gemm_reference(a.trans_a, a.trans_b, m, n, k, 1.0f, x.as<float>(), x.shape[1], y.as<float>(), y.shape[1], 0.0f,
                   c.out.as<float>(), n);
}

template <class F> void binary(const KernelCall& c, F f) {
    Broadcast ba(c.out.shape, c.in[0].shape), bb(c.out.shape, c.in[1].shape);
    const float *a = c.in[0].as<float>(), *b = c.in[1].as<float>();
    float* out = c.out.as<float>();
    for (int64_t i = 0, n = c.out.numel(); i < n; ++i) out[i] = f(a[ba.offset(i)], b[bb.offset(i)]);
}
void add(const KernelCall& c, Context&) { binary(c, [](float a, float b) { return a + b; }); }
void sub(const KernelCall& c, Context&) { binary(c, [](float a, float b) { return a - b; }); }
void mul(const KernelCall& c, Context&) { binary(c, [](float a, float b) { return a * b; }); }
void div(const KernelCall& c, Context&) { binary(c, [](float a, float b) { return a / b; }); }

template <class F> void unary(const KernelCall& c, F f) {
    const float* x = c.in[0].as<float>();
    float* out = c.out.as<float>();
    for (int64_t i = 0, n = c.out.numel(); i < n; ++i) out[i] = f(x[i]);
}
void scale(const KernelCall& c, Context&) {
    const ScaleAttrs s = c.attrs->scale;
    unary(c, [s](float x) { return x * s.mul + s.add; });
}
void relu(const KernelCall& c, Context&) { unary(c, [](float x) { return x > 0 ? x : 0.0f; }); }
void sigmoid(const KernelCall& c, Context&) { unary(c, sigmoid_of); }
void tanh_(const KernelCall& c, Context&) { unary(c, [](float x) { return std::tanh(x); }); }

template <class F> void grad_pair(const KernelCall& c, F f) {  // (dy, y) -> out
    const float *dy = c.in[0].as<float>(), *y = c.in[1].as<float>();
    float* out = c.out.as<float>();
    for (int64_t i = 0, n = c.out.numel(); i < n; ++i) out[i] = f(dy[i], y[i]);
}
void relu_grad(const KernelCall& c, Context&) { grad_pair(c, [](float dy, float y) { return y > 0 ? dy : 0.0f; }); }
void sigmoid_grad(const KernelCall& c, Context&) { grad_pair(c, [](float dy, float y) { return dy * y * (1 - y); }); }
void tanh_grad(const KernelCall& c, Context&) { grad_pair(c, [](float dy, float y) { return dy * (1 - y * y); }); }

// softmax family: the tensor is [outer, dim, inner] around the axis.
void softmax(const KernelCall& c, Context&) {
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

void log_softmax(const KernelCall& c, Context&) {
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

void softmax_grad(const KernelCall& c, Context&) {  // y * (dy - sum(dy * y))
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

void log_softmax_grad(const KernelCall& c, Context&) {  // dy - exp(y) * sum(dy)
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

void reshape(const KernelCall& c, Context&) {
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
void sum(const KernelCall& c, Context&) { reduce(c, false); }
void mean(const KernelCall& c, Context&) { reduce(c, true); }

void dropout(const KernelCall& c, Context&) {
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

void sum_to(const KernelCall& c, Context&) {
    Broadcast b(c.in[0].shape, c.out.shape);
    const float* dy = c.in[0].as<float>();
    float* out = c.out.as<float>();
    const int64_t n_out = c.out.numel(), n = c.in[0].numel();
    // Visits dy in order, so the sums are deterministic.
    for (int64_t j = 0; j < n_out; ++j) out[j] = 0.0f;
    for (int64_t i = 0; i < n; ++i) out[b.offset(i)] += dy[i];
}

void expand(const KernelCall& c, Context&) {
    Broadcast b(c.out.shape, c.in[0].shape);
    const float* x = c.in[0].as<float>();
    float* out = c.out.as<float>();
    const int64_t n = c.out.numel();
    const float factor = c.attrs->expand.mean ? float(double(c.in[0].numel()) / double(n)) : 1.0f;
    for (int64_t i = 0; i < n; ++i) out[i] = x[b.offset(i)] * factor;
}

// --- losses: mean over the elements present at this batch size ---
void l1_loss(const KernelCall& c, Context&) {
    const float *a = c.in[0].as<float>(), *b = c.in[1].as<float>();
    const int64_t n = c.in[0].numel();
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::fabs(double(a[i]) - b[i]);
    c.out.as<float>()[0] = float(s / n);
}
void mse_loss(const KernelCall& c, Context&) {
    const float *a = c.in[0].as<float>(), *b = c.in[1].as<float>();
    const int64_t n = c.in[0].numel();
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    c.out.as<float>()[0] = float(s / n);
}
void bce_with_logits(const KernelCall& c, Context&) {
    const float *x = c.in[0].as<float>(), *y = c.in[1].as<float>();
    const int64_t n = c.in[0].numel();
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += bce_term(x[i], y[i]);
    c.out.as<float>()[0] = float(s / n);
}
void cross_entropy(const KernelCall& c, Context&) {
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

void l1_loss_grad(const KernelCall& c, Context&) {
    const float g = c.in[0].as<float>()[0] / float(c.out.numel());
    const float *a = c.in[1].as<float>(), *b = c.in[2].as<float>();
    float* out = c.out.as<float>();
    for (int64_t i = 0, n = c.out.numel(); i < n; ++i) out[i] = a[i] > b[i] ? g : a[i] < b[i] ? -g : 0.0f;
}
void mse_loss_grad(const KernelCall& c, Context&) {
    const float g = 2.0f * c.in[0].as<float>()[0] / float(c.out.numel());
    const float *a = c.in[1].as<float>(), *b = c.in[2].as<float>();
    float* out = c.out.as<float>();
    for (int64_t i = 0, n = c.out.numel(); i < n; ++i) out[i] = g * (a[i] - b[i]);
}
void bce_with_logits_grad(const KernelCall& c, Context&) {
    const float g = c.in[0].as<float>()[0] / float(c.out.numel());
    const float *x = c.in[1].as<float>(), *y = c.in[2].as<float>();
    float* out = c.out.as<float>();
    for (int64_t i = 0, n = c.out.numel(); i < n; ++i) out[i] = g * (sigmoid_of(x[i]) - y[i]);
}
void cross_entropy_grad(const KernelCall& c, Context&) {
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

// --- optimizer steps (torch.optim formulas) ---
void sgd_update(const KernelCall& c, Context&) {
    const SgdAttrs& s = c.attrs->sgd;
    float* p = c.in[0].as<float>();
    const float* grad = c.in[1].as<float>();
    float* buf = c.n_in > 2 ? c.in[2].as<float>() : nullptr;
    for (int64_t i = 0, n = c.in[0].numel(); i < n; ++i) p[i] = sgd_element(s, *c.info, p[i], grad[i], buf ? &buf[i] : nullptr);
}

void adam_update(const KernelCall& c, Context&) {
    const AdamAttrs& a = c.attrs->adam;
    const AdamStep st = adam_step(a, *c.info);
    float *p = c.in[0].as<float>(), *m = c.in[2].as<float>(), *v = c.in[3].as<float>();
    const float* grad = c.in[1].as<float>();
    for (int64_t i = 0, n = c.in[0].numel(); i < n; ++i) adam_element(a, st, p[i], grad[i], m[i], v[i]);
}

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
#undef SET
    return t;
}

}  // namespace

const std::array<Kernel, op_count> reference_kernels = make_table();

size_t reference_scratch_bytes(const Node&, const Graph&) { return 0; }

}  // namespace kiln::cpu
