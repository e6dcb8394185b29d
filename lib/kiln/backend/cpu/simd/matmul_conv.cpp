// Fast matmul and conv2d (forward and both gradients): the ops that run on the blocked GEMM
// (gemm.h), conv2d by way of im2col.
#include <numeric>
#include <utility>

#include "kiln/backend/cpu/simd/common.h"
#include "kiln/backend/direct/conv2d.h"

namespace kiln::cpu::simd {

void matmul(const KernelCall& c, Context& ctx) {
    const MatmulAttrs& a = c.attrs->matmul;
    const TensorRef &x = c.in[0], &y = c.in[1];
    int64_t m = c.out.shape[0], n = c.out.shape[1], k = a.trans_a ? x.shape[0] : x.shape[1];
    ctx.gemm(a.trans_a, a.trans_b, m, n, k, 1.0f, x.as<float>(), x.shape[1], y.as<float>(), y.shape[1], 0.0f,
             c.out.as<float>(), n);
}

// --- conv2d as im2col + GEMM ---
// im2col lays out the K = C·kh·kw inputs of each output position as a column; a GEMM with the
// weight [O, K] then gives all outputs. Two ways to cut the work, chosen per call:
// - per image, when there are at least as many images as threads: each thread takes whole
//   images with its own column buffer [K, P] (it stays in that core's cache) and single-threaded
//   GEMMs straight into the image's output; the weight gradient sums per-thread partials in
//   thread order;
// - in chunks of B images otherwise: columns [K, B·P] for the chunk and one threaded GEMM into
//   t [O, B·P], then back to NCHW.
// The scratch holds whichever of the two is larger; its size depends on the compiled geometry
// and the thread count only. The forward pass, at any batch size, is a direct convolution instead
// (backend/direct/conv2d.h, no scratch), the threads taking (image, output row) pairs, wherever
// its rows fill half of some vector width. Narrower rows of one image (batch-1 inference) go in
// bands of output rows: each thread takes bands, lays out only that band's columns [K, rows·Wo]
// and multiplies them straight into the band's outputs — the scratch is a band per thread, not
// the image's whole [K, P] (which for a 3×3 conv is 9× the input: most of a batch-1 arena).

namespace {

constexpr int64_t conv_chunk_floats = int64_t(1) << 22;  // 16 MiB
int64_t conv_chunk(const ConvGeom& g) {
    return std::clamp<int64_t>(conv_chunk_floats / ((g.k() + g.o) * g.p()), 1, std::max<int64_t>(g.n, 1));
}

}  // namespace

size_t conv_scratch_bytes(const ConvGeom& g, int threads) {
    const int64_t per_image = threads * (g.k() * g.p() + g.o * g.k());
    const int64_t chunked = std::min<int64_t>(conv_chunk(g), threads) * (g.k() + g.o) * g.p();
    return size_t(std::max(per_image, chunked)) * sizeof(float);
}

namespace {

// The direct convolution runs in the vectors its rows fill best, counting 4 lanes at half the rate
// of 8 and 16 (the FMA units of AVX2 and of AVX-512 CPUs that split a 512-bit FMA in two do 16
// lanes a cycle with 8- or 16-lane vectors, 8 with 4); ties go to the wider. With AVX-512: rows
// of 28 and 14 in 16 lanes, resnet_mini's 7 in 8, LeNet-5's 10 in 16 (62 %, not 4 lanes' 83 %).
template <class... V> struct Widths {
    using Rows = void (*)(const ConvGeom&, const float*, const float*, const float*, float*, int64_t, int64_t);
    struct Width {
        int64_t lanes;
        bool (*suits)(const ConvGeom&);
        double (*fill)(const ConvGeom&);
        Rows rows;
    };
    static constexpr Width widths[] = {{V::size, &direct::suits<V>, &direct::lane_fill<V>, &direct::conv2d_rows<V>}...};
    static const Width* best(const ConvGeom& g) {
        const Width* chosen = nullptr;
        double top = 0.0;
        for (const Width& w : widths) {
            const double score = w.suits(g) ? w.fill(g) * (w.lanes >= 8 ? 1.0 : 0.5) : 0.0;
            if (score > top) top = score, chosen = &w;
        }
        return chosen;
    }
    static bool suit(const ConvGeom& g) { return best(g) != nullptr; }
    static void rows(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, int64_t r0, int64_t r1) {
        best(g)->rows(g, x, w, bias, y, r0, r1);
    }
};
using Direct = Widths<Vec
#if XSIMD_WITH_AVX512F
                      , xsimd::batch<float, xsimd::avx2>
#endif
#if XSIMD_WITH_AVX2
                      , xsimd::batch<float, xsimd::sse4_2>
#endif
                      >;

// Output rows per band of a one-image forward pass: a band's columns fill at most 64 KiB (at least
// one row), and there are at least as many bands as threads.
constexpr int64_t band_floats = 32768;
int64_t band_rows(const ConvGeom& g, int threads) {
    int64_t rows = std::max<int64_t>(1, std::min(band_floats / (g.k() * g.ow), (g.oh + threads - 1) / threads));
    // Bands of whole GEMM tiles where the band allows: the GEMM computes a ragged last tile apart.
    const int64_t tile = Gemm::tile_columns(), step = tile / std::gcd(g.ow, tile);
    if (rows < g.oh && rows >= step) rows -= rows % step;
    return rows;
}

}  // namespace

size_t conv_forward_scratch_bytes(const ConvGeom& g, int threads) {
    // A program compiled for more images may still run one (then it bands): the larger layouts
    // hold a band per thread too.
    if (Direct::suit(g)) return 0;
    if (g.n > 1) return conv_scratch_bytes(g, threads);
    return size_t(threads * g.k() * band_rows(g, threads) * g.ow) * sizeof(float);
}

namespace {

// Output columns q whose tap j reads inside the row: [q_lo, q_hi).
std::pair<int64_t, int64_t> valid_columns(const ConvGeom& g, int64_t j) {
    const int64_t s = g.a.stride_w, off = j * g.a.dil_w - g.a.pad_w;  // xx = q·s + off
    int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t hi = g.w - off <= 0 ? 0 : (g.w - off - 1) / s + 1;
    hi = std::min(hi, g.ow);
    return {std::min(lo, hi), hi};
}

// A stride-1 conv whose output has the input's size ('same' padding, e.g. 3×3 pad 1): rows of a
// column are the input plane shifted by the tap's offset, so output rows [y0, y1) of tap (i, j)
// are one copy, plus zeros where the tap falls off the top or bottom and in the few columns it
// wraps around the sides. out [(y1 − y0)·W].
bool same_size(const ConvGeom& g) { return g.a.stride_h == 1 && g.a.stride_w == 1 && g.oh == g.h && g.ow == g.w; }
void im2col_rows_same_size(const ConvGeom& g, const float* plane, int64_t i, int64_t j, int64_t y0, int64_t y1, float* out) {
    const int64_t dy = i * g.a.dil_h - g.a.pad_h, dx = j * g.a.dil_w - g.a.pad_w;  // input = output + (dy, dx)
    const int64_t in0 = std::clamp<int64_t>(-dy, y0, y1), in1 = std::clamp<int64_t>(g.h - dy, in0, y1);  // rows inside
    out -= y0 * g.w;  // indexed by output position from here
    std::fill(out + y0 * g.w, out + in0 * g.w, 0.0f);
    std::fill(out + in1 * g.w, out + y1 * g.w, 0.0f);
    // Positions [in0·w, in1·w) read input [in0·w + dy·w + dx, ...): clamp the ends that would fall
    // outside the plane; they are column wrap-arounds and get zeroed below.
    const int64_t begin = in0 * g.w, end = in1 * g.w, shift = dy * g.w + dx;
    const int64_t b = std::max<int64_t>(begin, -shift), e = std::min<int64_t>(end, g.h * g.w - shift);
    if (b < e) std::copy(plane + b + shift, plane + e + shift, out + b);
    std::fill(out + begin, out + std::max(begin, b), 0.0f);
    std::fill(out + std::min(end, std::max(e, begin)), out + end, 0.0f);
    const int64_t lo = std::clamp<int64_t>(-dx, 0, g.w), hi = std::clamp<int64_t>(g.w - dx, lo, g.w);  // columns inside
    for (int64_t y = in0; y < in1; ++y) {
        std::fill(out + y * g.w, out + y * g.w + lo, 0.0f);
        std::fill(out + y * g.w + hi, out + (y + 1) * g.w, 0.0f);
    }
}

// Output rows [y0, y1) of tap (i, j) of one input plane: out [(y1 − y0)·Wo].
void im2col_tap_rows(const ConvGeom& g, const float* plane, int64_t i, int64_t j, int64_t y0, int64_t y1, float* out) {
    if (same_size(g)) return im2col_rows_same_size(g, plane, i, j, y0, y1, out);
    const auto [lo, hi] = valid_columns(g, j);
    const int64_t off = j * g.a.dil_w - g.a.pad_w;
    for (int64_t y = y0; y < y1; ++y, out += g.ow) {
        const int64_t yy = g.in_y(y, i);
        if (yy < 0 || yy >= g.h) {
            std::fill(out, out + g.ow, 0.0f);
            continue;
        }
        // Rows here are short (14 values in resnet_mini's strided convs): plain loops, no calls,
        // so the per-row overhead stays below the copying.
        const float* row = plane + yy * g.w + off;
        for (int64_t q = 0; q < lo; ++q) out[q] = 0.0f;
        for (int64_t q = lo; q < hi; ++q) out[q] = row[q * g.a.stride_w];
        for (int64_t q = hi; q < g.ow; ++q) out[q] = 0.0f;
    }
}

// Rows [r0, r1) of the columns of images [b0, b0 + nb): col [K, nb·P].
void im2col_rows(const ConvGeom& g, const float* x, int64_t b0, int64_t nb, int64_t r0, int64_t r1, float* col) {
    const int64_t p = g.p(), bp = nb * p;
    for (int64_t r = r0; r < r1; ++r)
        for (int64_t b = 0; b < nb; ++b)
            im2col_tap_rows(g, x + ((b0 + b) * g.c + r / (g.kh * g.kw)) * g.h * g.w, r / g.kw % g.kh, r % g.kw, 0, g.oh,
                            col + r * bp + b * p);
}

// Channels [c0, c1) of dx (images [b0, b0 + nb)) = the sum of every column entry back at the
// input it was taken from, each element summing its taps in a fixed order.
void col2im_channels(const ConvGeom& g, const float* col, int64_t b0, int64_t nb, int64_t c0, int64_t c1, float* dx) {
    const int64_t p = g.p(), bp = nb * p;
    for (int64_t ch = c0; ch < c1; ++ch)
        for (int64_t b = 0; b < nb; ++b) {
            float* plane = dx + ((b0 + b) * g.c + ch) * g.h * g.w;
            std::fill(plane, plane + g.h * g.w, 0.0f);
            for (int64_t i = 0; i < g.kh; ++i)
                for (int64_t j = 0; j < g.kw; ++j) {
                    const int64_t r = (ch * g.kh + i) * g.kw + j;
                    const auto [lo, hi] = valid_columns(g, j);
                    const int64_t off = j * g.a.dil_w - g.a.pad_w;
                    for (int64_t y = 0; y < g.oh; ++y) {
                        const int64_t yy = g.in_y(y, i);
                        if (yy < 0 || yy >= g.h) continue;
                        const float* in = col + r * bp + b * p + y * g.ow;
                        float* row = plane + yy * g.w + off;
                        for (int64_t q = lo; q < hi; ++q) row[q * g.a.stride_w] += in[q];
                    }
                }
        }
}

void im2col(Context& ctx, const ConvGeom& g, const float* x, int64_t b0, int64_t nb, float* col) {
    ctx.pool.parallel_for(g.k(), per_chunk(nb * g.p()), [&](int64_t r0, int64_t r1) { im2col_rows(g, x, b0, nb, r0, r1, col); });
}
void col2im(Context& ctx, const ConvGeom& g, const float* col, int64_t b0, int64_t nb, float* dx) {
    ctx.pool.parallel_for(g.c, per_chunk(nb * g.k() / g.c * g.p()), [&](int64_t c0, int64_t c1) { col2im_channels(g, col, b0, nb, c0, c1, dx); });
}

// t[o][b·P + p] = y[b0 + b][o][p], and back (adding the bias).
void images_to_columns(Context& ctx, const ConvGeom& g, const float* y, int64_t b0, int64_t nb, float* t) {
    const int64_t p = g.p();
    ctx.pool.parallel_for(g.o, per_chunk(nb * p), [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o)
            for (int64_t b = 0; b < nb; ++b) std::copy_n(y + ((b0 + b) * g.o + o) * p, p, t + (o * nb + b) * p);
    });
}
void columns_to_images(Context& ctx, const ConvGeom& g, const float* t, const float* bias, int64_t b0, int64_t nb, float* y) {
    const int64_t p = g.p();
    ctx.pool.parallel_for(g.o, per_chunk(nb * p), [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) {
            const float add = bias ? bias[o] : 0.0f;
            for (int64_t b = 0; b < nb; ++b) {
                const float* src = t + (o * nb + b) * p;
                float* dst = y + ((b0 + b) * g.o + o) * p;
                for (int64_t i = 0; i < p; ++i) dst[i] = src[i] + add;
            }
        }
    });
}

// Runs f(thread, image) for every image, each thread taking a contiguous share.
template <class F> void for_images(Context& ctx, int64_t n, F f) {
    const int threads = ctx.pool.size();
    ctx.pool.run([&](int t) {
        for (int64_t b = n * t / threads; b < n * (t + 1) / threads; ++b) f(t, b);
    });
}

// One image in bands of output rows, each thread its own bands: y = conv(x, w) + bias.
void conv_forward_bands(Context& ctx, const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, float* scratch) {
    const int threads = ctx.pool.size();
    const int64_t k = g.k(), p = g.p(), rows = band_rows(g, threads), bands = (g.oh + rows - 1) / rows;
    ctx.pool.run([&](int t) {
        float* col = scratch + t * k * rows * g.ow;
        for (int64_t band = t; band < bands; band += threads) {
            const int64_t y0 = band * rows, y1 = std::min(g.oh, y0 + rows), n = (y1 - y0) * g.ow;
            float* rows_out = col;  // row r = (ch·kh + i)·kw + j of the band's columns
            for (int64_t ch = 0; ch < g.c; ++ch)
                for (int64_t i = 0; i < g.kh; ++i)
                    for (int64_t j = 0; j < g.kw; ++j, rows_out += n) im2col_tap_rows(g, x + ch * g.h * g.w, i, j, y0, y1, rows_out);
            float* out = y + y0 * g.ow;
            for (int64_t o = 0; bias && o < g.o; ++o) std::fill(out + o * p, out + o * p + n, bias[o]);
            ctx.gemm.serial(t, false, false, g.o, n, k, 1.0f, w, k, col, n, bias ? 1.0f : 0.0f, out, p);
        }
    });
}

// y = conv(x, w) + bias for geometry g (bias may be null), in conv_forward_scratch_bytes(g) of scratch.
void conv_forward(Context& ctx, const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, float* scratch) {
    const int64_t k = g.k(), p = g.p();
    if (Direct::suit(g)) {  // the threads take output rows of every image: (image, row) pairs
        ctx.pool.parallel_for(g.n * g.oh, per_chunk(g.o * g.ow * g.k()), [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end;) {
                const int64_t b = i / g.oh, r0 = i % g.oh, r1 = std::min(g.oh, r0 + end - i);
                Direct::rows(g, x + b * g.c * g.h * g.w, w, bias, y + b * g.o * p, r0, r1);
                i += r1 - r0;
            }
        });
        return;
    }
    if (g.n == 1) return conv_forward_bands(ctx, g, x, w, bias, y, scratch);
    if (g.n >= ctx.pool.size()) {
        for_images(ctx, g.n, [&](int t, int64_t b) {
            float* col = scratch + t * k * p;
            float* out = y + b * g.o * p;
            im2col_rows(g, x, b, 1, 0, k, col);
            for (int64_t o = 0; bias && o < g.o; ++o) std::fill(out + o * p, out + (o + 1) * p, bias[o]);
            ctx.gemm.serial(t, false, false, g.o, p, k, 1.0f, w, k, col, p, bias ? 1.0f : 0.0f, out, p);
        });
        return;
    }
    const int64_t chunk = std::min<int64_t>(conv_chunk(g), ctx.pool.size());
    float* t = scratch + chunk * k * p;
    for (int64_t b0 = 0; b0 < g.n; b0 += chunk) {
        const int64_t nb = std::min(chunk, g.n - b0), bp = nb * p;
        im2col(ctx, g, x, b0, nb, scratch);
        ctx.gemm(false, false, g.o, bp, k, 1.0f, w, k, scratch, bp, 0.0f, t, bp);
        columns_to_images(ctx, g, t, bias, b0, nb, y);
    }
}

}  // namespace

void conv2d(const KernelCall& c, Context& ctx) {
    const ConvGeom g(c.in[0].shape, c.in[1].shape, c.attrs->conv);
    conv_forward(ctx, g, c.in[0].as<float>(), c.in[1].as<float>(), c.n_in > 2 ? c.in[2].as<float>() : nullptr, c.out.as<float>(),
                 static_cast<float*>(c.scratch));
}

namespace {

// With stride 1, the input gradient is itself a convolution: dy (padded by dil·(k−1) − pad)
// with the weight flipped in space and transposed to [C, O, kh, kw]. Its GEMMs contract over
// O·kh·kw instead of O and write dx directly, with no col2im. Used for 'same'-size convolutions,
// whose transposed conv is 'same'-size too (its columns are shifted copies), and for others at
// stride 1 where the direct convolution suits it: a 'valid' conv's pads dy by dil·(k−1) and
// multiplies zeros there (twice the arithmetic in LeNet-5's 5×5 on 14×14), yet runs 1.9× faster
// than GEMM + col2im, whose GEMM contracts over O alone (16 there).
ConvGeom grad_input_geom(const ConvGeom& g) {
    const Conv2dAttrs a{1, 1, int(g.a.dil_h * (g.kh - 1) - g.a.pad_h), int(g.a.dil_w * (g.kw - 1) - g.a.pad_w), g.a.dil_h, g.a.dil_w};
    return ConvGeom(Shape{g.n, g.o, g.oh, g.ow}, Shape{g.c, g.o, g.kh, g.kw}, a);
}
bool grad_input_is_a_conv(const ConvGeom& g) {
    return same_size(g) || (g.a.stride_h == 1 && g.a.stride_w == 1 && Direct::suit(grad_input_geom(g)));
}

}  // namespace

size_t grad_input_scratch_bytes(const ConvGeom& g, int threads) {
    if (!grad_input_is_a_conv(g)) return conv_scratch_bytes(g, threads);
    return size_t(g.c * g.o * g.kh * g.kw) * sizeof(float) + conv_forward_scratch_bytes(grad_input_geom(g), threads);
}

void conv2d_grad_input(const KernelCall& c, Context& ctx) {
    const ConvGeom g(c.out.shape, c.in[1].shape, c.attrs->conv);
    const int64_t k = g.k(), p = g.p();
    const float *dy = c.in[0].as<float>(), *w = c.in[1].as<float>();
    float *dx = c.out.as<float>(), *scratch = static_cast<float*>(c.scratch);
    if (grad_input_is_a_conv(g)) {
        float* flipped = scratch;  // [C, O, kh, kw]
        for (int64_t o = 0; o < g.o; ++o)
            for (int64_t ch = 0; ch < g.c; ++ch)
                for (int64_t i = 0; i < g.kh; ++i)
                    for (int64_t j = 0; j < g.kw; ++j)
                        flipped[((ch * g.o + o) * g.kh + g.kh - 1 - i) * g.kw + g.kw - 1 - j] = w[((o * g.c + ch) * g.kh + i) * g.kw + j];
        conv_forward(ctx, grad_input_geom(g), dy, flipped, nullptr, dx, scratch + g.c * g.o * g.kh * g.kw);
        return;
    }
    if (g.n >= ctx.pool.size()) {  // dcol = wᵀ · dy, then col2im
        for_images(ctx, g.n, [&](int t, int64_t b) {
            float* col = scratch + t * k * p;
            ctx.gemm.serial(t, true, false, k, p, g.o, 1.0f, w, k, dy + b * g.o * p, p, 0.0f, col, p);
            col2im_channels(g, col, b, 1, 0, g.c, dx);
        });
        return;
    }
    const int64_t chunk = std::min<int64_t>(conv_chunk(g), ctx.pool.size());
    float* t = scratch + chunk * k * p;
    for (int64_t b0 = 0; b0 < g.n; b0 += chunk) {
        const int64_t nb = std::min(chunk, g.n - b0), bp = nb * p;
        images_to_columns(ctx, g, dy, b0, nb, t);
        ctx.gemm(true, false, k, bp, g.o, 1.0f, w, k, t, bp, 0.0f, scratch, bp);
        col2im(ctx, g, scratch, b0, nb, dx);
    }
}

void conv2d_grad_weight(const KernelCall& c, Context& ctx) {  // dw = Σ over images of dy · colᵀ
    const ConvGeom g(c.in[1].shape, c.out.shape, c.attrs->conv);
    const int64_t k = g.k(), p = g.p();
    const float *dy = c.in[0].as<float>(), *x = c.in[1].as<float>();
    float *dw = c.out.as<float>(), *scratch = static_cast<float*>(c.scratch);
    const int threads = ctx.pool.size();
    if (g.n >= threads) {
        // dw = dy · colᵀ contracts over P with O rows: few rows make it a set of dot products. From
        // 32 output channels on, computing dwᵀ = col · dyᵀ (K rows, dy packed) is 1.4–2× faster in
        // resnet_mini's layers (16 channels: 10 % slower); the reduction over threads transposes back.
        const bool transposed = g.o >= 32;
        float* partial = scratch + threads * k * p;  // [threads][O·K], or [threads][K·O] transposed
        for_images(ctx, g.n, [&](int t, int64_t b) {
            float* col = scratch + t * k * p;
            im2col_rows(g, x, b, 1, 0, k, col);
            const float beta = b == g.n * t / threads ? 0.0f : 1.0f;  // the thread's first image
            if (transposed)
                ctx.gemm.serial(t, false, true, k, g.o, p, 1.0f, col, p, dy + b * g.o * p, p, beta, partial + t * g.o * k, g.o);
            else
                ctx.gemm.serial(t, false, true, g.o, k, p, 1.0f, dy + b * g.o * p, p, col, p, beta, partial + t * g.o * k, k);
        });
        parallel_elements(ctx, g.o * k, [&](int64_t i) {  // i = o·K + r
            const int64_t at = transposed ? (i % k) * g.o + i / k : i;
            float s = partial[at];
            for (int t = 1; t < threads; ++t) s += partial[t * g.o * k + at];
            dw[i] = s;
        });
        return;
    }
    const int64_t chunk = std::min<int64_t>(conv_chunk(g), threads);
    float* t = scratch + chunk * k * p;
    for (int64_t b0 = 0; b0 < g.n; b0 += chunk) {
        const int64_t nb = std::min(chunk, g.n - b0), bp = nb * p;
        im2col(ctx, g, x, b0, nb, scratch);
        images_to_columns(ctx, g, dy, b0, nb, t);
        ctx.gemm(false, true, g.o, k, bp, 1.0f, t, bp, scratch, bp, b0 == 0 ? 0.0f : 1.0f, dw, k);
    }
}

}  // namespace kiln::cpu::simd
