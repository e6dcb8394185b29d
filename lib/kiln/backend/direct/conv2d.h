// conv2d forward as a direct convolution on NCHW tensors: no im2col, no scratch, no packed weights.
// The CPU backend runs it at every batch size and the micro runtime on targets with NEON, so it is
// written once, against an xsimd batch type V, and needs nothing from an OS.
//
// A tile is OB output channels × U vectors (L = V::size floats each) of one or more output rows:
// up to four vectors of a wide row, or as many rows as fit in four (three on targets with 16
// vector registers), e.g. 2 rows × 2 vectors or 4 narrow rows × 1 vector. Its OB·U sums stay in
// registers while it runs over every input channel and tap. The input rows a band of output rows
// reads are first copied into a stack buffer between zeros for the padding, split into `stride`
// phases, so that every tap is one contiguous load per vector and costs U loads, OB broadcasts of
// a weight and OB·U FMAs. Every output element sums its taps in the reference's order (bias, then
// c, i, j), in float; taps in the padding add w·0.
#pragma once
#include <algorithm>
#include <cstdint>
#include <utility>

#include <xsimd/xsimd.hpp>

#include "kiln/backend/kernel_math.h"

namespace kiln::direct {

// Registers for accumulators: 24 of the 32 vector registers on AVX-512 and aarch64, 12 of 16
// elsewhere; a tile of U vectors takes up to accumulators / U channels.
#if defined(__AVX512F__) || defined(__aarch64__)
constexpr int accumulators = 24, max_block_channels = 8, max_block_vectors = 4;
#else
constexpr int accumulators = 12, max_block_channels = 4, max_block_vectors = 3;
#endif
constexpr int64_t buffer_floats = 16384;  // the stack buffer of padded input rows (64 KiB: L2, not L1)
constexpr int64_t max_taps = 64;         // kernel height × width

// Floats of one padded input row in the buffer, per stride phase: the output row's vectors and
// the taps' reach beyond them.
template <class V> int64_t row_floats(const ConvGeom& g) {
    const int64_t lanes = V::size;
    return (g.ow + lanes - 1) / lanes * lanes + (g.kw - 1) * g.a.dil_w / g.a.stride_w + 1;
}
// Input rows that `rows` consecutive output rows read.
inline int64_t input_rows(const ConvGeom& g, int64_t rows) { return (rows - 1) * g.a.stride_h + (g.kh - 1) * g.a.dil_h + 1; }

// The share of V's lanes that g's output rows fill (a 7-wide row fills 7 of 16).
template <class V> double lane_fill(const ConvGeom& g) {
    const int64_t lanes = V::size, vectors = (g.ow + lanes - 1) / lanes;
    return double(g.ow) / double(vectors * lanes);
}

// Whether the direct convolution suits g: its output rows fill at least half of the lanes of
// their vectors and one channel's rows fit the buffer.
template <class V> bool suits(const ConvGeom& g) {
    return 2 * lane_fill<V>(g) >= 1.0 && g.kh * g.kw <= max_taps && input_rows(g, 1) * g.a.stride_w * row_floats<V>(g) <= buffer_floats;
}

namespace detail {

// The first n < L lanes of v to out (a row's last columns), masked where the target can.
template <class V> void store_first(const V& v, float* out, int64_t n) {
#if defined(__AVX512F__)
    if constexpr (V::size == 16) return _mm512_mask_storeu_ps(out, __mmask16((1u << n) - 1), v);
#endif
    alignas(64) float lanes[V::size];
    v.store_aligned(lanes);
    for (int64_t l = 0; l < n; ++l) out[l] = lanes[l];
}

// The padded input rows of channels [c0, c1) that a band of output rows reads, in the buffer:
// channel c's input row yy (from `first`, which may lie in the padding above the image) at
// ((c − c0)·rows_per_channel + yy − first)·s·row, as `stride` phases of `row` floats, phase ph
// holding padded columns ph, ph + s, ph + 2s, … (zeros in the padding), so that tap j of output
// columns q… is the contiguous run at phase (j·d) mod s, offset q + (j·d) div s.
struct Band {
    float* buffer;
    int64_t row, rows_per_channel, first, c0, c1;
    float* at(const ConvGeom& g, int64_t c, int64_t yy) const {
        return buffer + ((c - c0) * rows_per_channel + yy - first) * g.a.stride_w * row;
    }
};

// Phase ph of a padded input row holds out[m] = in[first + m·s] for lo ≤ m < hi (the image row's
// columns ph − pad_w, ph − pad_w + s, …) and zeros elsewhere. The same for every row of a call.
struct Run {
    int64_t first, lo, hi;
};
inline Run phase_run(const ConvGeom& g, int64_t row, int64_t ph) {
    const int64_t s = g.a.stride_w, first = ph - g.a.pad_w, end = g.w - first;  // in[first + m·s] exists for 0 ≤ first + m·s < w
    const int64_t lo = std::min(row, first >= 0 ? 0 : (s - 1 - first) / s);
    return {first, lo, std::clamp<int64_t>(end > 0 ? (end + s - 1) / s : 0, lo, row)};
}
// One phase of one image row into its place in the buffer (whose zeros around it are already there):
// whole vectors at stride 1, the last one overlapping the one before (rewriting equal values); a
// plain loop otherwise, which the compiler vectorises at stride 2.
template <class V> void copy_run(const float* in, const Run& run, int64_t s, float* out) {
    constexpr int64_t L = V::size;
    const int64_t n = run.hi - run.lo;
    if (s == 1 && n >= L) {
        const float* from = in + run.first + run.lo;
        float* to = out + run.lo;
        for (int64_t m = 0; m < n; m += L) {
            const int64_t at = std::min(m, n - L);
            V::load_unaligned(from + at).store_unaligned(to + at);
        }
    } else if (s == 2) {
        for (int64_t m = run.lo; m < run.hi; ++m) out[m] = in[run.first + 2 * m];
    } else {
        for (int64_t m = run.lo; m < run.hi; ++m) out[m] = in[run.first + m * s];
    }
}

// Where a tile is: output rows r, r + 1, … and columns [q0, q0 + n) of each, in `per_row` vectors.
struct Place {
    int64_t r, q0, n, per_row;
};

// Channels [o, o + OB) of a tile of U vectors: the sum over the band's input channels, added to
// the bias (from channel 0) or to what y holds (the earlier channels).
template <class V, int OB, int U>
void tile(const ConvGeom& g, const Band& band, const float* w, const float* bias, float* y, int64_t o, const Place& at) {
    constexpr int64_t L = V::size;
    const int64_t s = g.a.stride_w, d = g.a.dil_w, taps = g.kh * g.kw, weights_per_channel = g.c * taps;
    // Vector u: row at.r + u / per_row, columns q0 + (u % per_row)·L …, `lanes[u]` of them.
    int64_t in[U], out[U], lanes[U];
    for (int u = 0; u < U; ++u) {
        const int64_t row = u / at.per_row, column = u % at.per_row * L;
        in[u] = row * g.a.stride_h * s * band.row + column;
        out[u] = (at.r + row) * g.ow + at.q0 + column;
        lanes[u] = std::min(L, at.n - column);
    }
    // Tap (i, j) of the tile's first row: where it reads in a channel's padded rows. Tap j of a
    // row reads phase (j·d) mod s at offset (j·d) div s.
    int64_t tap[max_taps];
    for (int64_t i = 0, t = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j, ++t)
            tap[t] = ((g.in_y(at.r, i) - band.first) * s + j * d % s) * band.row + j * d / s + at.q0;
    V acc[OB][U];
    for (int b = 0; b < OB; ++b)
        for (int u = 0; u < U; ++u) {
            const float* from = y + (o + b) * g.p() + out[u];
            if (band.c0 == 0) {
                acc[b][u] = V(bias ? bias[o + b] : 0.0f);
            } else if (lanes[u] == L) {
                acc[b][u] = V::load_unaligned(from);
            } else {
                alignas(64) float part[L] = {};
                for (int64_t l = 0; l < lanes[u]; ++l) part[l] = from[l];
                acc[b][u] = V::load_aligned(part);
            }
        }
    for (int64_t c = band.c0; c < band.c1; ++c) {
        const float* padded = band.at(g, c, band.first);
        const float* wc = w + (o * g.c + c) * taps;
        for (int64_t t = 0; t < taps; ++t) {
            V v[U];
            for (int u = 0; u < U; ++u) v[u] = V::load_unaligned(padded + tap[t] + in[u]);
            for (int b = 0; b < OB; ++b) {
                const V wv(wc[b * weights_per_channel + t]);
                for (int u = 0; u < U; ++u) acc[b][u] = xsimd::fma(wv, v[u], acc[b][u]);
            }
        }
    }
    for (int b = 0; b < OB; ++b)
        for (int u = 0; u < U; ++u) {
            float* to = y + (o + b) * g.p() + out[u];
            if (lanes[u] == L) acc[b][u].store_unaligned(to);
            else store_first(acc[b][u], to, lanes[u]);
        }
}

using Tile = void (*)(const ConvGeom&, const Band&, const float*, const float*, float*, int64_t, const Place&);
struct Tiles { Tile at[max_block_channels][max_block_vectors]; };
template <class V, int B, int... U> constexpr void fill_row(Tiles& t, std::integer_sequence<int, U...>) {
    ((t.at[B][U] = &tile<V, B + 1, U + 1>), ...);
}
template <class V, int... B> constexpr Tiles make_tiles(std::integer_sequence<int, B...>) {
    Tiles t{};
    (fill_row<V, B>(t, std::make_integer_sequence<int, max_block_vectors>()), ...);
    return t;
}
template <class V> constexpr Tiles tiles = make_tiles<V>(std::make_integer_sequence<int, max_block_channels>());

}  // namespace detail

// Output rows [r0, r1) of every channel of one image: y = conv(x, w) + bias (bias may be null).
// x, y and w as the op's tensors, x and y the image's planes. Call only where suits<V>(g).
// The output rows go in bands: the input rows a band reads are padded into the buffer once, as
// many channels at a time as fit (all of them in the course's models, bands then as tall as
// fit), and every tile of the band sums over those channels. A row of up to max_block_vectors
// vectors is one tile's width, and a tile takes as many rows as fit; wider rows go in tiles of
// max_block_vectors vectors.
template <class V>
void conv2d_rows(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, int64_t r0, int64_t r1) {
    constexpr int64_t L = V::size;
    const int64_t row = row_floats<V>(g), per_input_row = g.a.stride_w * row;
    const int64_t group = std::min(g.c, buffer_floats / (input_rows(g, 1) * per_input_row));
    int64_t rows = 1;  // output rows per band
    while (rows < r1 - r0 && group * input_rows(g, rows + 1) * per_input_row <= buffer_floats) ++rows;
    const int64_t per_row = (g.ow + L - 1) / L, tile_rows = std::max<int64_t>(1, max_block_vectors / per_row);
    const int64_t tile_columns = std::min(per_row, int64_t(max_block_vectors)) * L;
    // Zeros once: the rows' padding columns are never written again, only each phase's run.
    alignas(64) float buffer[buffer_floats];
    std::fill(buffer, buffer + group * input_rows(g, rows) * per_input_row, 0.0f);
    const int64_t s = g.a.stride_w;
    for (int64_t rb = r0; rb < r1; rb += rows) {
        const int64_t re = std::min(r1, rb + rows), first = g.in_y(rb, 0);
        for (int64_t c0 = 0; c0 < g.c; c0 += group) {
            const detail::Band band{buffer, row, input_rows(g, rows), first, c0, std::min(g.c, c0 + group)};
            for (int64_t ph = 0; ph < s; ++ph) {
                const detail::Run run = detail::phase_run(g, row, ph);
                for (int64_t c = band.c0; c < band.c1; ++c)
                    for (int64_t yy = first; yy < first + input_rows(g, re - rb); ++yy) {
                        float* to = band.at(g, c, yy) + ph * row;
                        if (yy >= 0 && yy < g.h) detail::copy_run<V>(x + (c * g.h + yy) * g.w, run, s, to);
                        else std::fill(to + run.lo, to + run.hi, 0.0f);  // a row of the padding above or below
                    }
            }
            for (int64_t r = rb; r < re; r += tile_rows)
                for (int64_t q0 = 0; q0 < g.ow; q0 += tile_columns) {
                    const int64_t n = std::min(tile_columns, g.ow - q0), vectors = (n + L - 1) / L;
                    const detail::Place at{r, q0, n, vectors};
                    const int64_t u = vectors * std::min(tile_rows, re - r);
                    // Channels in blocks of near-equal size: 10 channels are 5 + 5, not 8 + 2.
                    const int64_t most = std::min<int64_t>(max_block_channels, accumulators / u), blocks = (g.o + most - 1) / most;
                    for (int64_t k = 0; k < blocks; ++k) {
                        const int64_t o0 = g.o * k / blocks, o1 = g.o * (k + 1) / blocks;
                        detail::tiles<V>.at[o1 - o0 - 1][u - 1](g, band, w, bias, y, o0, at);
                    }
                }
        }
    }
}

// The whole op on the calling thread, image by image; false, having touched nothing, where the
// geometry does not suit the direct convolution.
template <class V> bool conv2d(const KernelCall& c) {
    const ConvGeom g(c.in[0].shape, c.in[1].shape, c.attrs->conv);
    if (!suits<V>(g)) return false;
    const float *x = c.in[0].as<float>(), *w = c.in[1].as<float>(), *bias = c.n_in > 2 ? c.in[2].as<float>() : nullptr;
    float* y = c.out.as<float>();
    for (int64_t b = 0; b < g.n; ++b) conv2d_rows<V>(g, x + b * g.c * g.h * g.w, w, bias, y + b * g.o * g.p(), 0, g.oh);
    return true;
}

}  // namespace kiln::direct
