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
        ctx.pool.parallel_for(n / cols, std::max<int64_t>(1, grain / cols), [&](int64_t r0, int64_t r1) {
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
    const float* x = c.in[0].as<float>();
    float* y = c.out.as<float>();
    parallel_elements(ctx, c.out.numel(), [&](int64_t i) { y[i] = sigmoid_of(x[i]); });
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

constexpr std::array<Kernel, op_count> make_table() {
    std::array<Kernel, op_count> t{};
#define SET(op, fn) t[static_cast<int>(Op::op)] = fn
    SET(matmul, matmul); SET(add, add); SET(sub, sub); SET(mul, mul); SET(div, div); SET(scale, scale);
    SET(relu, relu); SET(relu_grad, relu_grad); SET(sigmoid, sigmoid); SET(tanh, tanh_);
    SET(sigmoid_grad, sigmoid_grad); SET(tanh_grad, tanh_grad); SET(dropout, dropout); SET(sum_to, sum_to);
    SET(softmax, softmax); SET(log_softmax, log_softmax); SET(cross_entropy_grad, cross_entropy_grad);
    SET(sgd_update, sgd_update); SET(adam_update, adam_update);
#undef SET
    return t;
}

}  // namespace

const std::array<Kernel, op_count> fast_kernels = make_table();

size_t fast_scratch_bytes(const Node&, const Graph&) { return 0; }

}  // namespace kiln::cpu
