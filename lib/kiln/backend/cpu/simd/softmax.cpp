// Fast softmax, log_softmax and the cross-entropy gradient (the softmax less the one-hot label):
// each row as in the reference, with logsumexp from kernel_math.h.
#include <cmath>

#include "kiln/backend/cpu/simd/common.h"

namespace kiln::cpu::simd {

namespace {

// Row-wise softmax family on the last axis, rows split across threads.
bool last_axis(const KernelCall& c) { return c.attrs->axis.axis == c.out.shape.rank - 1; }

}  // namespace

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

}  // namespace kiln::cpu::simd
