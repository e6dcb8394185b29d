// Fast optimizer updates: the parameters split across threads, each element by kernel_math.h.
#include "kiln/backend/cpu/simd/common.h"

namespace kiln::cpu::simd {

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

}  // namespace kiln::cpu::simd
