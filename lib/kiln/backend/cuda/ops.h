// The CUDA backend's ops: for each op of op/op.h, which kernel bodies (kernels.h) run over how
// many threads, in which order, on which scratch. Written once against an executor, so the same
// code drives the GPU (module.cu: kernel launches and cuBLAS) and the host (test/cuda: loops and
// the reference GEMM), and CI checks all of it on the CPU.
//
// An executor Exec provides:
//   template <class Body> void each(int64_t n, const Body& body);  // body(i) for every i in [0, n)
//   void gemm(const GemmCall& g);                                 // row-major, strided batched
//   void copy(void* dst, const void* src, size_t bytes);          // device to device
// Work queued by one call runs after the work queued before it (one stream on the GPU).
#pragma once
#include <cstddef>
#include <cstdint>

#include "kiln/backend/cuda/kernels.h"
#include "kiln/op/kernel_call.h"

namespace kiln::cuda {

// c_b = op(a_b) · op(b_b) (+ beta · c_b) for b < batch, row-major like reference::gemm; a_b starts
// at a + b·stride_a (a stride of 0 shares one matrix across the batch).
struct GemmCall {
    bool trans_a = false, trans_b = false;
    int64_t m = 0, n = 0, k = 0;
    const float* a = nullptr;
    int64_t lda = 0, stride_a = 0;
    const float* b = nullptr;
    int64_t ldb = 0, stride_b = 0;
    float* c = nullptr;
    int64_t ldc = 0, stride_c = 0;
    int64_t batch = 1;
    float beta = 0.0f;
};

// Launch geometry of Exec::each on the GPU: 256 threads a block, at most max_blocks blocks; a
// grid-stride loop covers the rest. Plain host code, tested with the host executor.
struct Grid {
    static constexpr int threads = 256;
    static constexpr int64_t max_blocks = 8192;
    int64_t blocks;
    explicit Grid(int64_t n) : blocks(n <= 0 ? 0 : (n + threads - 1) / threads < max_blocks ? (n + threads - 1) / threads : max_blocks) {}
};

// int8 inference (issue 15) runs on the CPU backend and the micro runtime; this backend lacks it.
inline constexpr Op missing_ops[] = {Op::quantize,    Op::dequantize,  Op::qconv2d, Op::qlinear, Op::qmax_pool2d,
                                     Op::qavg_pool2d, Op::qadd,        Op::qmean,   Op::qlookup};

// Ops the backend runs (all of op.h's other non-leaf ops, f32 data; labels i32/i64).
inline bool supported(const KernelCall& c) {
    for (Op op : missing_ops)
        if (c.op == op) return false;
    return !op_info(c.op).leaf();
}

namespace detail {

inline size_t align8(size_t b) { return (b + 7) / 8 * 8; }
inline size_t partial_bytes(const Chunking& c, int width) { return size_t(c.lanes * c.chunks * width) * sizeof(double); }

inline size_t conv_cols_bytes(const ConvGeom& g) { return size_t(g.n * g.k() * g.p()) * sizeof(float); }

}  // namespace detail

// Scratch a node needs, from the shapes of its inputs and output. Chunk counts only grow with the
// sizes, so the compiled (largest) batch gives an upper bound for every smaller one.
inline size_t scratch_bytes(const KernelCall& c) {
    using namespace detail;
    const Shape& out = c.out.shape;
    const Attrs& attrs = *c.attrs;
    auto in = [&](int k) -> const Shape& { return c.in[k].shape; };
    static_assert(op_count == 57, "a new op that needs scratch on CUDA has a case here");
    switch (c.op) {
    case Op::sum: case Op::mean:
        return attrs.axis.all ? partial_bytes(chunking(1, in(0).numel()), 1) : 0;
    case Op::l1_loss: case Op::mse_loss: case Op::bce_with_logits:
        return partial_bytes(chunking(1, in(0).numel()), 1);
    case Op::cross_entropy:
        return partial_bytes(chunking(1, in(0)[0]), 1);
    case Op::channel_sum: {
        const BnGeom g(in(0));
        return partial_bytes(chunking(g.c, g.count()), 1);
    }
    case Op::bn_stats: {
        const BnGeom g(in(0));
        return align8(size_t(g.c) * sizeof(double)) + partial_bytes(chunking(g.c, g.count()), 1);
    }
    case Op::bn_param_grad: {
        const BnGeom g(in(1));
        return partial_bytes(chunking(g.c, g.count()), 2);
    }
    case Op::conv2d: return conv_cols_bytes(ConvGeom(in(0), in(1), attrs.conv));
    case Op::conv2d_grad_input: return conv_cols_bytes(ConvGeom(out, in(1), attrs.conv));
    case Op::conv2d_grad_weight: {
        const ConvGeom g(in(1), out, attrs.conv);
        return align8(conv_cols_bytes(g)) + (g.n > 1 ? size_t(g.n * g.o * g.k()) * sizeof(float) : 0);
    }
    default: return 0;
    }
}

namespace detail {

// Σ of Term over lanes × len terms, then finish(lane, sums): two launches, a fixed order.
template <class Exec, class Term, class Finish>
void sum_lanes(Exec& ex, int64_t lanes, int64_t len, const Term& term, const Finish& finish, void* scratch) {
    const Chunking c = chunking(lanes, len);
    double* partial = static_cast<double*>(scratch);
    ex.each(c.lanes * c.chunks, PartialSums<Term>{term, c, partial});
    ex.each(c.lanes, CombineSums<Finish, Term::width>{finish, c, partial});
}

template <class Exec> void copy_if_moved(Exec& ex, const TensorRef& out, const void* src) {
    if (out.data != src) ex.copy(out.data, src, size_t(out.numel()) * dtype_size(out.dtype));
}

inline PoolGeom pool_geom(const Attrs& a, const Shape& x, const Shape& y) { return {a.pool, x[2], x[3], y[2], y[3]}; }

template <class Exec> void conv2d(Exec& ex, const KernelCall& c) {
    const ConvGeom g(c.in[0].shape, c.in[1].shape, c.attrs->conv);
    float* cols = static_cast<float*>(c.scratch);
    float* y = c.out.as<float>();
    ex.each(g.n * g.k() * g.p(), Im2col{g, c.in[0].as<float>(), cols});
    GemmCall mm;
    mm.m = g.o, mm.n = g.p(), mm.k = g.k();
    mm.a = c.in[1].as<float>(), mm.lda = g.k(), mm.stride_a = 0;
    mm.b = cols, mm.ldb = g.p(), mm.stride_b = g.k() * g.p();
    mm.c = y, mm.ldc = g.p(), mm.stride_c = g.o * g.p();
    mm.batch = g.n;
    ex.gemm(mm);
    if (c.n_in > 2) ex.each(c.out.numel(), AddChannelBias{y, c.in[2].as<float>(), g.o, g.p()});
}

template <class Exec> void conv2d_grad_input(Exec& ex, const KernelCall& c) {
    const ConvGeom g(c.out.shape, c.in[1].shape, c.attrs->conv);
    float* dcols = static_cast<float*>(c.scratch);
    GemmCall mm;  // dcols_b [k, p] = wᵀ [k, o] · dy_b [o, p]
    mm.trans_a = true;
    mm.m = g.k(), mm.n = g.p(), mm.k = g.o;
    mm.a = c.in[1].as<float>(), mm.lda = g.k(), mm.stride_a = 0;
    mm.b = c.in[0].as<float>(), mm.ldb = g.p(), mm.stride_b = g.o * g.p();
    mm.c = dcols, mm.ldc = g.p(), mm.stride_c = g.k() * g.p();
    mm.batch = g.n;
    ex.gemm(mm);
    ex.each(c.out.numel(), Col2im{g, dcols, c.out.as<float>()});
}

template <class Exec> void conv2d_grad_weight(Exec& ex, const KernelCall& c) {
    const ConvGeom g(c.in[1].shape, c.out.shape, c.attrs->conv);
    float* cols = static_cast<float*>(c.scratch);
    float* parts = reinterpret_cast<float*>(static_cast<char*>(c.scratch) + align8(conv_cols_bytes(g)));
    ex.each(g.n * g.k() * g.p(), Im2col{g, c.in[1].as<float>(), cols});
    GemmCall mm;  // parts_b [o, k] = dy_b [o, p] · cols_bᵀ [p, k], then summed over b in order
    mm.trans_b = true;
    mm.m = g.o, mm.n = g.k(), mm.k = g.p();
    mm.a = c.in[0].as<float>(), mm.lda = g.p(), mm.stride_a = g.o * g.p();
    mm.b = cols, mm.ldb = g.p(), mm.stride_b = g.k() * g.p();
    mm.c = g.n > 1 ? parts : c.out.as<float>(), mm.ldc = g.k(), mm.stride_c = g.o * g.k();
    mm.batch = g.n;
    ex.gemm(mm);
    if (g.n > 1) ex.each(g.o * g.k(), SumOverBatch{parts, c.out.as<float>(), g.n, g.o * g.k()});
}

template <class Exec> void bn_stats(Exec& ex, const KernelCall& c) {
    const BnGeom g(c.in[0].shape);
    const BatchNormAttrs& a = c.attrs->bn;
    float* stats = c.out.as<float>();
    const bool tracked = c.n_in > 1;
    if (tracked && !c.info->training) {
        ex.each(g.c, BnEvalStats{c.in[1].as<float>(), c.in[2].as<float>(), stats, g.c, a.eps});
        return;
    }
    int64_t* batches = tracked ? c.in[3].as<int64_t>() : nullptr;
    if (batches) ex.each(1, CountBatch{batches});
    double* mean = static_cast<double*>(c.scratch);
    void* partial = static_cast<char*>(c.scratch) + align8(size_t(g.c) * sizeof(double));
    const float* x = c.in[0].as<float>();
    sum_lanes(ex, g.c, g.count(), ChannelTerm{g, x}, StoreMean{mean, double(g.count())}, partial);
    sum_lanes(ex, g.c, g.count(), SquaredDeviationTerm{g, x, mean},
              StoreBnStats{g, mean, a.eps, a.momentum, a.cumulative, stats, tracked ? c.in[1].as<float>() : nullptr,
                           tracked ? c.in[2].as<float>() : nullptr, batches},
              partial);
}

}  // namespace detail

template <class Exec> void run(Exec& ex, const KernelCall& c) {
    using namespace detail;
    const TensorRef& out = c.out;
    const TensorRef* in = c.in;
    auto f = [](const TensorRef& t) { return t.as<float>(); };
    const int64_t n = out.data ? out.numel() : 0;
    static_assert(op_count == 57, "a new op needs a case in cuda::run (and its body in kernels.h)");
    switch (c.op) {
    case Op::input: case Op::param: case Op::buffer: return;
    case Op::quantize: case Op::dequantize: case Op::qconv2d: case Op::qlinear: case Op::qmax_pool2d:
    case Op::qavg_pool2d: case Op::qadd: case Op::qmean: case Op::qlookup: return;  // missing_ops: refused at compile
    case Op::matmul: {
        const MatmulAttrs& a = c.attrs->matmul;
        GemmCall mm;
        mm.trans_a = a.trans_a, mm.trans_b = a.trans_b;
        mm.m = out.shape[0], mm.n = out.shape[1], mm.k = a.trans_a ? in[0].shape[0] : in[0].shape[1];
        mm.a = f(in[0]), mm.lda = in[0].shape[1];
        mm.b = f(in[1]), mm.ldb = in[1].shape[1];
        mm.c = f(out), mm.ldc = mm.n;
        ex.gemm(mm);
        return;
    }
    case Op::add: ex.each(n, Binary<AddF>{Operand(in[0], out.shape), Operand(in[1], out.shape), f(out)}); return;
    case Op::sub: ex.each(n, Binary<SubF>{Operand(in[0], out.shape), Operand(in[1], out.shape), f(out)}); return;
    case Op::mul: ex.each(n, Binary<MulF>{Operand(in[0], out.shape), Operand(in[1], out.shape), f(out)}); return;
    case Op::div: ex.each(n, Binary<DivF>{Operand(in[0], out.shape), Operand(in[1], out.shape), f(out)}); return;
    case Op::scale: ex.each(n, Unary<ScaleF>{{c.attrs->scale.mul, c.attrs->scale.add}, f(in[0]), f(out)}); return;
    case Op::relu: ex.each(n, Unary<ReluF>{{}, f(in[0]), f(out)}); return;
    case Op::sigmoid: ex.each(n, Unary<SigmoidF>{{}, f(in[0]), f(out)}); return;
    case Op::tanh: ex.each(n, Unary<TanhF>{{}, f(in[0]), f(out)}); return;
    case Op::relu_grad: ex.each(n, GradPair<ReluGradF>{f(in[0]), f(in[1]), f(out)}); return;
    case Op::sigmoid_grad: ex.each(n, GradPair<SigmoidGradF>{f(in[0]), f(in[1]), f(out)}); return;
    case Op::tanh_grad: ex.each(n, GradPair<TanhGradF>{f(in[0]), f(in[1]), f(out)}); return;
    case Op::softmax: case Op::log_softmax: {
        const Lanes l(in[0].shape, c.attrs->axis.axis);
        ex.each(l.outer * l.inner, Softmax{{l}, f(in[0]), f(out), c.op == Op::log_softmax});
        return;
    }
    case Op::softmax_grad: case Op::log_softmax_grad: {
        const Lanes l(out.shape, c.attrs->axis.axis);
        ex.each(l.outer * l.inner, SoftmaxGrad{{l}, f(in[0]), f(in[1]), f(out), c.op == Op::log_softmax_grad});
        return;
    }
    case Op::reshape: copy_if_moved(ex, out, in[0].data); return;
    case Op::select:
        copy_if_moved(ex, out, static_cast<const char*>(in[0].data) + size_t(c.attrs->select.index) * size_t(n) * dtype_size(out.dtype));
        return;
    case Op::sum: case Op::mean: {
        const bool mean = c.op == Op::mean;
        if (c.attrs->axis.all) {
            const int64_t len = in[0].numel();
            sum_lanes(ex, 1, len, ValueTerm{f(in[0])}, StoreScaled{f(out), mean ? 1.0 / double(len) : 1.0}, c.scratch);
        } else {
            const Lanes l(in[0].shape, c.attrs->axis.axis);
            ex.each(l.outer * l.inner, AxisReduce{{l}, f(in[0]), f(out), mean});
        }
        return;
    }
    case Op::dropout: {
        const float p = c.attrs->dropout.p;
        if (!c.info->training || p == 0.0f) return copy_if_moved(ex, out, in[0].data);
        ex.each(n, Dropout{f(in[0]), f(out), dropout_key(c.info->seed, c.attrs->dropout.salt), p, 1.0f / (1.0f - p)});
        return;
    }
    case Op::sum_to: ex.each(n, SumTo(in[0], out)); return;
    case Op::expand: {
        const float factor = c.attrs->expand.mean ? float(double(in[0].numel()) / double(n)) : 1.0f;
        ex.each(n, Expand{f(in[0]), f(out), Broadcast(out.shape, in[0].shape), factor});
        return;
    }
    case Op::l1_loss: {
        const int64_t len = in[0].numel();
        sum_lanes(ex, 1, len, L1Term{f(in[0]), f(in[1])}, StoreScaled{f(out), 1.0 / double(len)}, c.scratch);
        return;
    }
    case Op::mse_loss: {
        const int64_t len = in[0].numel();
        sum_lanes(ex, 1, len, MseTerm{f(in[0]), f(in[1])}, StoreScaled{f(out), 1.0 / double(len)}, c.scratch);
        return;
    }
    case Op::bce_with_logits: {
        const int64_t len = in[0].numel();
        sum_lanes(ex, 1, len, BceTerm{f(in[0]), f(in[1])}, StoreScaled{f(out), 1.0 / double(len)}, c.scratch);
        return;
    }
    case Op::cross_entropy: {
        const int64_t rows = in[0].shape[0];
        const CrossEntropyTerm term{f(in[0]), in[1].data, in[1].dtype == DType::i64, in[0].shape[1]};
        sum_lanes(ex, 1, rows, term, StoreScaled{f(out), 1.0 / double(rows)}, c.scratch);
        return;
    }
    case Op::l1_loss_grad: ex.each(n, L1Grad{f(in[0]), f(in[1]), f(in[2]), f(out), float(n)}); return;
    case Op::mse_loss_grad: ex.each(n, MseGrad{f(in[0]), f(in[1]), f(in[2]), f(out), float(n)}); return;
    case Op::bce_with_logits_grad: ex.each(n, BceGrad{f(in[0]), f(in[1]), f(in[2]), f(out), float(n)}); return;
    case Op::cross_entropy_grad: {
        const CrossEntropyTerm rows{f(in[1]), in[2].data, in[2].dtype == DType::i64, out.shape[1]};
        ex.each(out.shape[0], CrossEntropyGrad{rows, f(in[0]), f(out), float(out.shape[0])});
        return;
    }
    case Op::conv2d: return conv2d(ex, c);
    case Op::conv2d_grad_input: return conv2d_grad_input(ex, c);
    case Op::conv2d_grad_weight: return conv2d_grad_weight(ex, c);
    case Op::channel_sum: {
        const BnGeom g(in[0].shape);
        sum_lanes(ex, g.c, g.count(), ChannelTerm{g, f(in[0])}, StoreScaled{f(out), 1.0}, c.scratch);
        return;
    }
    case Op::max_pool2d: ex.each(n, MaxPool{pool_geom(*c.attrs, in[0].shape, out.shape), f(in[0]), f(out)}); return;
    case Op::avg_pool2d: ex.each(n, AvgPool{pool_geom(*c.attrs, in[0].shape, out.shape), f(in[0]), f(out)}); return;
    case Op::max_pool2d_grad:
        ex.each(n, PoolGrad{pool_geom(*c.attrs, out.shape, in[0].shape), f(in[0]), f(in[1]), f(out)});
        return;
    case Op::avg_pool2d_grad:
        ex.each(n, PoolGrad{pool_geom(*c.attrs, out.shape, in[0].shape), f(in[0]), nullptr, f(out)});
        return;
    case Op::bn_stats: return bn_stats(ex, c);
    case Op::bn_apply: {
        const BnGeom g(in[0].shape);
        ex.each(n, BnApply{g, f(in[0]), f(in[1]), c.n_in > 2 ? f(in[2]) : nullptr, c.n_in > 3 ? f(in[3]) : nullptr, f(out)});
        return;
    }
    case Op::bn_param_grad: {
        const BnGeom g(in[1].shape);
        sum_lanes(ex, g.c, g.count(), BnParamTerm{g, f(in[0]), f(in[1]), f(in[2])}, StorePair{f(out), g.c}, c.scratch);
        return;
    }
    case Op::bn_input_grad: {
        const BnGeom g(in[1].shape);
        ex.each(n, BnInputGrad{g, f(in[0]), f(in[1]), f(in[2]), f(in[3]), c.n_in > 4 ? f(in[4]) : nullptr, f(out)});
        return;
    }
    case Op::sgd_update:
        ex.each(in[0].numel(), SgdStep{c.attrs->sgd, *c.info, f(in[0]), f(in[1]), c.n_in > 2 ? f(in[2]) : nullptr});
        return;
    case Op::adam_update: {
        const AdamAttrs& a = c.attrs->adam;
        ex.each(in[0].numel(), AdamUpdate{a, adam_step(a, *c.info), f(in[0]), f(in[2]), f(in[3]), f(in[1])});
        return;
    }
    }
}

}  // namespace kiln::cuda
