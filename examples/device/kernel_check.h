// A small network run as kernel calls on the reference kernels, the same source on the host and on
// the device: conv2d 1→4 (3×3, padding 1, bias) → relu → max_pool2d 2 → matmul with [10, 64]ᵀ →
// softmax. Inputs and weights come from counter_uniform, so both sides make the same numbers
// without a file. kernel_check.cpp runs it on the board against what kernel_check_expected.cpp
// computed on the build machine.
#pragma once
#include "kiln/backend/reference/kernels.h"
#include "kiln/core/rng.h"

namespace kernel_check {

constexpr int classes = 10;

struct Buffers {
    float x[1 * 1 * 8 * 8], w[4 * 1 * 3 * 3], b[4], conv[1 * 4 * 8 * 8], pool[1 * 4 * 4 * 4], fc[classes * 64];
    float logits[classes], probs[classes];
};

inline void fill(float* p, int n, uint64_t key) {
    for (int i = 0; i < n; ++i) p[i] = 2.0f * kiln::counter_uniform(key, uint64_t(i)) - 1.0f;
}

// Shape's list constructor checks its rank and may throw (hosted code): build shapes directly.
template <class... D> kiln::Shape dims(D... d) {
    kiln::Shape s;
    ((s.dims[s.rank++] = int64_t(d)), ...);
    return s;
}

inline kiln::TensorRef ref(float* data, kiln::Shape shape) { return {data, kiln::DType::f32, shape}; }

inline void call(const kiln::KernelCall& c) { kiln::reference::kernels[static_cast<int>(c.op)](c); }

// Leaves the probabilities in m.probs.
inline void run(Buffers& m) {
    using kiln::Op;
    fill(m.x, 64, 1), fill(m.w, 36, 2), fill(m.b, 4, 3), fill(m.fc, classes * 64, 4);
    kiln::Attrs a;
    a.conv.pad_h = a.conv.pad_w = 1;
    a.pool.kernel_h = a.pool.kernel_w = a.pool.stride_h = a.pool.stride_w = 2;
    a.matmul.trans_b = true;
    a.axis.axis = 1;  // softmax over the classes (the graph builder resolves -1 to this)
    kiln::RunInfo info;
    call({Op::conv2d, &a, ref(m.conv, dims(1, 4, 8, 8)), {ref(m.x, dims(1, 1, 8, 8)), ref(m.w, dims(4, 1, 3, 3)), ref(m.b, dims(4))}, 3, nullptr, &info});
    call({Op::relu, &a, ref(m.conv, dims(1, 4, 8, 8)), {ref(m.conv, dims(1, 4, 8, 8))}, 1, nullptr, &info});
    call({Op::max_pool2d, &a, ref(m.pool, dims(1, 4, 4, 4)), {ref(m.conv, dims(1, 4, 8, 8))}, 1, nullptr, &info});
    call({Op::matmul, &a, ref(m.logits, dims(1, classes)), {ref(m.pool, dims(1, 64)), ref(m.fc, dims(classes, 64))}, 2, nullptr, &info});
    call({Op::softmax, &a, ref(m.probs, dims(1, classes)), {ref(m.logits, dims(1, classes))}, 1, nullptr, &info});
}

}  // namespace kernel_check
