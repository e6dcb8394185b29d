// Arithmetic shared by every backend's kernels, written once as KILN_HD functions so that the CPU
// reference, the SIMD path and CUDA kernels compute the same thing, and so the CUDA versions can be
// unit-tested on the CPU. Only plain data here: no allocation, no exceptions.
#pragma once
#include <cmath>
#include <cstdint>

#include "kiln/backend/backend.h"
#include "kiln/core/hostdevice.h"
#include "kiln/core/rng.h"

namespace kiln {

// Maps a linear index of `out` to the linear index of an operand broadcast to it (numpy rules).
struct Broadcast {
    int rank = 0;
    int64_t dims[Shape::max_rank] = {};
    int64_t stride[Shape::max_rank] = {};  // operand stride for each out dimension (0 = broadcast)

    KILN_HD Broadcast(const Shape& out, const Shape& operand) {
        rank = out.rank;
        int64_t s = 1;
        for (int d = out.rank - 1; d >= 0; --d) {
            int od = operand.rank - out.rank + d;
            int64_t size = od >= 0 ? operand.dims[od] : 1;
            dims[d] = out.dims[d];
            stride[d] = size == 1 ? 0 : s;
            s *= size;
        }
    }
    KILN_HD int64_t offset(int64_t i) const {
        int64_t off = 0;
        for (int d = rank - 1; d >= 0; --d) {
            off += (i % dims[d]) * stride[d];
            i /= dims[d];
        }
        return off;
    }
};

// A tensor seen as [outer, dim, inner] around one axis (softmax, reductions along an axis).
struct Lanes {
    int64_t outer = 1, dim = 1, inner = 1;
    KILN_HD Lanes(const Shape& s, int axis) {
        for (int d = 0; d < s.rank; ++d) (d < axis ? outer : d == axis ? dim : inner) *= s.dims[d];
    }
};

KILN_HD float sigmoid_of(float x) {
    if (x >= 0) return 1.0f / (1.0f + std::exp(-x));
    float e = std::exp(x);
    return e / (1.0f + e);
}

// One element of BCEWithLogits: max(x,0) - x*y + log(1 + exp(-|x|)), stable for any x.
KILN_HD double bce_term(float x, float y) {
    return double(x > 0 ? x : 0) - double(x) * y + std::log1p(std::exp(-std::fabs(double(x))));
}

KILN_HD double logsumexp(const float* row, int64_t k) {
    float mx = row[0];
    for (int64_t j = 1; j < k; ++j) mx = row[j] > mx ? row[j] : mx;
    double s = 0;
    for (int64_t j = 0; j < k; ++j) s += std::exp(double(row[j]) - mx);
    return mx + std::log(s);
}

KILN_HD int64_t label_at(const TensorRef& labels, int64_t i) {
    return labels.dtype == DType::i64 ? static_cast<const int64_t*>(labels.data)[i]
                                      : static_cast<const int32_t*>(labels.data)[i];
}

KILN_HD uint64_t dropout_key(uint64_t call_seed, uint64_t salt) { return splitmix64(call_seed + 0x632BE59BD9B4E019ull * salt); }

// torch.optim.SGD for one element; returns the new parameter value and updates the momentum buffer.
KILN_HD float sgd_element(const SgdAttrs& s, const RunInfo& info, float p, float g, float* buf) {
    float d = s.maximize ? -g : g;
    if (s.weight_decay != 0) d += s.weight_decay * p;
    if (s.momentum != 0) {
        float b = info.step <= 1 ? d : s.momentum * *buf + (1 - s.dampening) * d;
        *buf = b;
        d = s.nesterov ? d + s.momentum * b : b;
    }
    return p - info.lr * d;
}

// Per-call constants of torch.optim.Adam / AdamW.
struct AdamStep {
    float lr, step_size, bias_correction2_sqrt;
};
KILN_HD AdamStep adam_step(const AdamAttrs& a, const RunInfo& info) {
    double bc1 = 1.0 - std::pow(double(a.beta1), double(info.step));
    double bc2 = 1.0 - std::pow(double(a.beta2), double(info.step));
    return {info.lr, float(info.lr / bc1), float(std::sqrt(bc2))};
}
KILN_HD void adam_element(const AdamAttrs& a, const AdamStep& st, float& p, float g, float& m, float& v) {
    if (a.maximize) g = -g;
    if (a.decoupled) p *= 1 - st.lr * a.weight_decay;
    else if (a.weight_decay != 0) g += a.weight_decay * p;
    m = m + (1 - a.beta1) * (g - m);  // torch: exp_avg.lerp_(grad, 1 - beta1)
    v = a.beta2 * v + (1 - a.beta2) * g * g;
    float denom = std::sqrt(v) / st.bias_correction2_sqrt + a.eps;
    p -= st.step_size * m / denom;
}

}  // namespace kiln
