// The fast CPU kernels: xsimd vectors and the thread pool for the ops that dominate training time.
// Each one computes what its reference kernel (backend/reference/kernels.cpp) computes; a test compares
// them op by op on random inputs. Shapes a fast kernel does not cover go to the reference.
// Work is split into fixed chunks with every output element computed by one thread in a fixed
// order, so results are identical from run to run.
//
// The kernels live in simd/<family>.cpp, one file per op family, and kernels_simd.cpp puts them
// in the fast_kernels table. This internal header is what the families share: the vector type,
// the chunking for the thread pool, the fallback to the reference kernel, and their kernels.
#pragma once
#include <algorithm>

#include <xsimd/xsimd.hpp>

#include "kiln/backend/cpu/cpu_backend.h"
#include "kiln/backend/reference/kernels.h"
#include "kiln/backend/kernel_math.h"

namespace kiln::cpu::simd {

#ifndef XSIMD_NO_SUPPORTED_ARCHITECTURE
using Vec = xsimd::batch<float>;
constexpr int64_t lanes = Vec::size;
#else
constexpr int64_t lanes = 1;
#endif

constexpr int64_t grain = 1 << 14;  // elements per chunk worth a thread

// Items per chunk when each item is `size` elements of work: below a grain in all, a kernel runs
// on the calling thread alone (waking a worker would cost more than it saves, e.g. at batch 1).
inline int64_t per_chunk(int64_t size) { return std::max<int64_t>(1, grain / std::max<int64_t>(size, 1)); }

inline void reference(const KernelCall& c, Context&) { reference::kernels[static_cast<int>(c.op)](c); }

// Threaded scalar loops for ops dominated by exp(): each element as in the reference.
template <class F> void parallel_elements(Context& ctx, int64_t n, F f) {
    ctx.pool.parallel_for(n, grain / 8, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) f(i);
    });
}

// elementwise.cpp
void add(const KernelCall& c, Context& ctx);
void sub(const KernelCall& c, Context& ctx);
void mul(const KernelCall& c, Context& ctx);
void div(const KernelCall& c, Context& ctx);
void scale(const KernelCall& c, Context& ctx);
void relu(const KernelCall& c, Context& ctx);
void relu_grad(const KernelCall& c, Context& ctx);
void sigmoid(const KernelCall& c, Context& ctx);
void tanh_(const KernelCall& c, Context& ctx);
void sigmoid_grad(const KernelCall& c, Context& ctx);
void tanh_grad(const KernelCall& c, Context& ctx);
void dropout(const KernelCall& c, Context& ctx);
void sum_to(const KernelCall& c, Context& ctx);
void expand(const KernelCall& c, Context& ctx);

// softmax.cpp
void softmax(const KernelCall& c, Context& ctx);
void log_softmax(const KernelCall& c, Context& ctx);
void cross_entropy_grad(const KernelCall& c, Context& ctx);

// optim.cpp
void sgd_update(const KernelCall& c, Context& ctx);
void adam_update(const KernelCall& c, Context& ctx);

// matmul_conv.cpp, with the scratch its conv kernels need for `threads` threads
void matmul(const KernelCall& c, Context& ctx);
void conv2d(const KernelCall& c, Context& ctx);
void conv2d_grad_input(const KernelCall& c, Context& ctx);
void conv2d_grad_weight(const KernelCall& c, Context& ctx);
size_t conv_forward_scratch_bytes(const ConvGeom& g, int threads);  // conv2d
size_t conv_scratch_bytes(const ConvGeom& g, int threads);          // conv2d_grad_weight
size_t grad_input_scratch_bytes(const ConvGeom& g, int threads);

// pool.cpp
void max_pool2d(const KernelCall& c, Context& ctx);
void max_pool2d_grad(const KernelCall& c, Context& ctx);
void avg_pool2d(const KernelCall& c, Context& ctx);
void avg_pool2d_grad(const KernelCall& c, Context& ctx);

// norm.cpp
void bn_stats(const KernelCall& c, Context& ctx);
void bn_apply(const KernelCall& c, Context& ctx);
void bn_param_grad(const KernelCall& c, Context& ctx);
void bn_input_grad(const KernelCall& c, Context& ctx);
void channel_sum(const KernelCall& c, Context& ctx);

// quantized.cpp: int8 qconv2d and qlinear as 4-way integer dot products, bit for bit the reference's,
// in the instructions this CPU has — chosen at run time by int8_isa(), or by KILN_INT8_ISA (one of
// the names below) — and their scratch for `threads` threads.
enum class Int8Isa { generic, avx2, vnni, neon, sdot };  // plain C++; x86: vpmaddwd, vpdpbusd; aarch64: smull, sdot
const char* int8_isa_name(Int8Isa isa);
const char* int8_isa_missing(Int8Isa isa);  // why this build or CPU cannot run it; nullptr when it can
Int8Isa int8_isa();
void qconv2d(const KernelCall& c, Context& ctx);
void qlinear(const KernelCall& c, Context& ctx);
void qconv2d_with(Int8Isa isa, const KernelCall& c, Context& ctx);  // tests: one variant (the reference where it cannot run)
void qlinear_with(Int8Isa isa, const KernelCall& c, Context& ctx);
void quantize_with(Int8Isa isa, const KernelCall& c, Context& ctx);
void qlookup_with(Int8Isa isa, const KernelCall& c, Context& ctx);
// None for batch 1 (nor for fewer images than threads): a batch-1 arena holds activations only.
size_t qconv2d_scratch_bytes(Int8Isa isa, const ConvGeom& g, int threads);
size_t qlinear_scratch_bytes(Int8Isa isa, int64_t n, int64_t k, int64_t o);
// and the other int8 ops (no scratch): qmax_pool2d separable and vectorised, qadd vectorised, the rest threaded
void qmax_pool2d(const KernelCall& c, Context& ctx);
void qadd(const KernelCall& c, Context& ctx);
void qavg_pool2d(const KernelCall& c, Context& ctx);
void qmean(const KernelCall& c, Context& ctx);
void quantize(const KernelCall& c, Context& ctx);
void dequantize(const KernelCall& c, Context& ctx);
void qlookup(const KernelCall& c, Context& ctx);

}  // namespace kiln::cpu::simd
