// Fast int8 kernels. qconv2d and qlinear: the reference's int32 sums (backend/reference/quantized.h)
// as 4-way integer dot products — AVX-512 VNNI's vpdpbusd, NEON's sdot, AVX2's vpmaddwd on int16
// halves, NEON's widening multiplies, or plain C++ — then quant_math.h's requantization lane by
// lane. The sums are exact int32 arithmetic, so any order of summation gives the reference's sums,
// and every path gives the reference's bits. The instruction set is chosen at run time
// (int8_isa()), so one x86 build runs, and tests, every x86 variant. At the end of the file, the
// other int8 ops: max and average pooling and add in loops the compiler vectorises; quantize (in
// doubles, 8 or 4 lanes) and qlookup (vpermi2b, NEON's tbl) in the variant's instructions too; the
// rest threaded.
//
// Layout. The reduction runs over taps of 4 consecutive reduction elements; a position's 4 input
// codes of a tap are one dword, multiplied by the 4 weights of an output channel in one lane:
//   qconv2d: taps (channel group of 4, kernel row, kernel column); the image is packed once per
//     image — padded, split into its stride phases (phase (a, b) = padded rows a, a + sh, … and
//     columns b, b + sw, …) and 4 channels interleaved — so that tap (i, j) of output (r, q) is
//     position r·wph + q of its phase plane shifted by a fixed offset: every tap reads consecutive
//     dwords. Positions q ≥ ow of a flat row are computed and dropped (7 % of them at 28×28 3×3).
//   qlinear: taps k/4, positions the batch's rows (x transposed in groups of 4 codes).
// Weights are packed per call in blocks of 8 output channels (the register tile's height): for each
// tap, 8 dwords (or, for vpmaddwd, 8 pairs of int16 pairs). A tile is 8 channels × a few vectors
// of positions in registers; its sums go to a stage on the stack, are requantized a channel at a
// time and stored.
//
// Zero points. vpdpbusd multiplies unsigned by signed bytes, so its variants store u = x + 128 and
// pad with x_zero + 128; the others store x and pad with x_zero. The sum is then Σ (u − x_zero − 128)·w
// + the correction −(x_zero + 128)·Σw[o] folded into the bias: padding taps add (x_zero + 128) ·
// w − (x_zero + 128)·w = 0, as the reference, which skips them. Bias and correction are added in
// wrapping (uint32) arithmetic; the final sum equals the reference's modulo 2^32, and exactly
// wherever the reference's fits int32 (the graph caps the reduction at 65,536 products).
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "kiln/backend/cpu/simd/common.h"
#include "kiln/backend/quant_math.h"
#include "kiln/backend/reference/quantized.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define KILN_INT8_X86 1
#define KILN_TARGET_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define KILN_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define KILN_TARGET_VBMI __attribute__((target("avx512f,avx512bw,avx512vbmi")))
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#include <sys/auxv.h>
#define KILN_INT8_A64 1
#define KILN_TARGET_SDOT __attribute__((target("arch=armv8.2-a+dotprod")))
#endif
#if defined(__ARM_NEON)
#include <arm_neon.h>
#endif

namespace kiln::cpu::simd {

namespace {

constexpr int64_t tile_o = 8;      // output channels per register tile; weights are packed in blocks of 8
constexpr int64_t chunk = 192;     // positions per unit of work: a multiple of every tile's width
constexpr int64_t max_lanes = 16;  // positions per vector at most: the packed input is readable this far past its end

int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }
uint32_t load_u32(const void* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// The packed input of an image (or of qlinear's batch): dwords of 4 codes; tap t of position f
// is dword offs[t] + f.
struct Panel {
    const uint8_t* x;
    const int64_t* offs;
    int64_t taps;
};

// One output channel's requantization (quant::requantize with these arguments).
struct Requant {
    quant::Multiplier m;
    int32_t zero, lo, hi;
};
void requantize_scalar(const int32_t* s, int64_t n, const Requant& r, int8_t* y) {
    for (int64_t i = 0; i < n; ++i) y[i] = quant::requantize(s[i], r.m, r.zero, r.lo, r.hi);
}
// The vector paths assume what quantize_multiplier makes: shifts a 32-bit lane can take and an M0
// whose doubling product cannot saturate (only INT32_MIN² does). Other multipliers go scalar.
bool vector_multiplier(quant::Multiplier m) { return m.m0 != INT32_MIN && m.shift >= -31 && m.shift <= 31; }

// An instruction set's kernels. sums: the tile's 8 channels at positions [f, f + n) — bias plus the
// dot products — into s[o·ld + i], in whole vectors: up to round_up(n, its lanes) positions of each
// row. requantize: one channel's row of n sums into y; it may take the row's last vector whole
// (reading the sums there, writing y up to round_up(n, its lanes)).
struct Variant {
    bool u8;     // codes stored as x + 128 (vpdpbusd's unsigned operand), else as x
    bool pairs;  // weights as int16 pairs (w0, w2), (w1, w3) for vpmaddwd, else as 4 int8
    void (*sums)(const Panel& p, const uint8_t* w, const int32_t* bias, int64_t f, int64_t n, int32_t* s, int64_t ld);
    void (*requantize)(const int32_t* s, int64_t n, const Requant& r, int8_t* y);
};

// --- plain C++: the portable path (wrapping uint32 sums, as the vector lanes) ---
void sums_generic(const Panel& p, const uint8_t* w, const int32_t* bias, int64_t f, int64_t n, int32_t* s, int64_t ld) {
    constexpr int64_t width = 16;
    for (int64_t f0 = 0; f0 < n; f0 += width) {
        uint32_t acc[tile_o][width];
        for (int64_t o = 0; o < tile_o; ++o)
            for (int64_t i = 0; i < width; ++i) acc[o][i] = uint32_t(bias[o]);
        for (int64_t t = 0; t < p.taps; ++t) {
            const int8_t* x = reinterpret_cast<const int8_t*>(p.x + 4 * (p.offs[t] + f + f0));
            const int8_t* wt = reinterpret_cast<const int8_t*>(w + 4 * tile_o * t);
            for (int64_t o = 0; o < tile_o; ++o)
                for (int64_t i = 0; i < width; ++i)
                    acc[o][i] += uint32_t(x[4 * i] * wt[4 * o] + x[4 * i + 1] * wt[4 * o + 1] + x[4 * i + 2] * wt[4 * o + 2] +
                                          x[4 * i + 3] * wt[4 * o + 3]);
        }
        for (int64_t o = 0; o < tile_o; ++o)
            for (int64_t i = 0; i < width; ++i) s[o * ld + f0 + i] = int32_t(acc[o][i]);
    }
}

#ifdef KILN_INT8_X86
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12's avx512fintrin.h (its bug 105593)
#endif
// --- AVX-512 VNNI: vpdpbusd, 16 positions × 4 codes per instruction ---
// A tile is 8 channels × NV vectors of 16 positions in 8·NV accumulators; per tap, NV loads of
// the input and 8 weight broadcasts feed 8·NV instructions.
template <int NV>
KILN_TARGET_VNNI void tile_vnni(const Panel& p, const uint8_t* w, const int32_t* bias, int64_t f, int32_t* s, int64_t ld) {
    __m512i acc[tile_o][NV];
#pragma GCC unroll 8
    for (int o = 0; o < tile_o; ++o)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[o][v] = _mm512_set1_epi32(bias[o]);
    const uint8_t* x = p.x + 4 * f;
    for (int64_t t = 0; t < p.taps; ++t, w += 4 * tile_o) {
        const uint8_t* xt = x + 4 * p.offs[t];
        __m512i in[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) in[v] = _mm512_loadu_si512(xt + 64 * v);
#pragma GCC unroll 8
        for (int o = 0; o < tile_o; ++o) {
            const __m512i wo = _mm512_set1_epi32(int32_t(load_u32(w + 4 * o)));
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[o][v] = _mm512_dpbusd_epi32(acc[o][v], in[v], wo);
        }
    }
#pragma GCC unroll 8
    for (int o = 0; o < tile_o; ++o)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) _mm512_storeu_si512(s + o * ld + 16 * v, acc[o][v]);
}
KILN_TARGET_VNNI void sums_vnni(const Panel& p, const uint8_t* w, const int32_t* bias, int64_t f, int64_t n, int32_t* s, int64_t ld) {
    int64_t i = 0;
    for (; i + 48 <= n; i += 48) tile_vnni<3>(p, w, bias, f + i, s + i, ld);
    for (; i < n; i += 16) tile_vnni<1>(p, w, bias, f + i, s + i, ld);
}

// quant::requantize on 16 lanes. rounding_doubling_high_mul(a, m0) is floor((a·m0 + 2^30) / 2^31)
// for either sign (gemmlowp's nudge and truncation amount to that): bits 31…62 of the 64-bit
// a·m0 + 2^30, from vpmuldq on even and odd lanes. rounding_divide_by_pot adds one where the
// remainder passes half the divisor (half plus one below zero).
KILN_TARGET_VNNI void requantize_avx512(const int32_t* s, int64_t n, const Requant& r, int8_t* y) {
    if (!vector_multiplier(r.m)) return requantize_scalar(s, n, r, y);
    const int left = r.m.shift > 0 ? r.m.shift : 0, right = r.m.shift > 0 ? 0 : -r.m.shift;
    const int32_t mask = int32_t((int64_t(1) << right) - 1);
    const __m128i lsh = _mm_cvtsi32_si128(left), rsh = _mm_cvtsi32_si128(right);
    const __m512i m0 = _mm512_set1_epi32(r.m.m0), nudge = _mm512_set1_epi64(int64_t(1) << 30);
    const __m512i vmask = _mm512_set1_epi32(mask), half = _mm512_set1_epi32(mask >> 1), one = _mm512_set1_epi32(1);
    const __m512i zero = _mm512_set1_epi32(r.zero), lo = _mm512_set1_epi32(r.lo), hi = _mm512_set1_epi32(r.hi);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 lanes = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
        __m512i x = _mm512_sll_epi32(_mm512_maskz_loadu_epi32(lanes, s + i), lsh);
        const __m512i even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, m0), nudge), 31);
        const __m512i odd = _mm512_slli_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), m0), nudge), 1);
        x = _mm512_mask_blend_epi32(0xAAAA, even, odd);
        const __m512i rem = _mm512_and_si512(x, vmask), threshold = _mm512_sub_epi32(half, _mm512_srai_epi32(x, 31));
        x = _mm512_sra_epi32(x, rsh);
        x = _mm512_mask_add_epi32(x, _mm512_cmpgt_epi32_mask(rem, threshold), x, one);
        x = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(x, _mm512_sub_epi32(lo, zero)), _mm512_sub_epi32(hi, zero)), zero);  // as quant::requantize: no overflow
        _mm_mask_storeu_epi8(y + i, lanes, _mm512_cvtepi32_epi8(x));
    }
}

// --- AVX2: vpmaddwd on int16 halves (vpmaddubsw's int16 pair sums of u8 × s8 can saturate) ---
// A dword of u8 codes (u0, u1, u2, u3) is the int16 words (u0, u2) masked and (u1, u3) shifted;
// the weights are packed as the matching pairs, so two vpmaddwd make the 4-way dot product.
KILN_TARGET_AVX2 void tile_avx2(const Panel& p, const uint8_t* w, const int32_t* bias, int64_t f, int32_t* s, int64_t ld) {
    __m256i acc[tile_o];
#pragma GCC unroll 8
    for (int o = 0; o < tile_o; ++o) acc[o] = _mm256_set1_epi32(bias[o]);
    const __m256i low = _mm256_set1_epi16(0x00FF);
    const uint8_t* x = p.x + 4 * f;
    for (int64_t t = 0; t < p.taps; ++t, w += 8 * tile_o) {
        const __m256i in = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 4 * p.offs[t]));
        const __m256i even = _mm256_and_si256(in, low), odd = _mm256_srli_epi16(in, 8);
#pragma GCC unroll 8
        for (int o = 0; o < tile_o; ++o) {
            const __m256i we = _mm256_set1_epi32(int32_t(load_u32(w + 8 * o))), wo = _mm256_set1_epi32(int32_t(load_u32(w + 8 * o + 4)));
            acc[o] = _mm256_add_epi32(acc[o], _mm256_add_epi32(_mm256_madd_epi16(even, we), _mm256_madd_epi16(odd, wo)));
        }
    }
#pragma GCC unroll 8
    for (int o = 0; o < tile_o; ++o) _mm256_storeu_si256(reinterpret_cast<__m256i*>(s + o * ld), acc[o]);
}
KILN_TARGET_AVX2 void sums_avx2(const Panel& p, const uint8_t* w, const int32_t* bias, int64_t f, int64_t n, int32_t* s, int64_t ld) {
    for (int64_t i = 0; i < n; i += 8) tile_avx2(p, w, bias, f + i, s + i, ld);
}
KILN_TARGET_AVX2 void requantize_avx2(const int32_t* s, int64_t n, const Requant& r, int8_t* y) {  // as requantize_avx512
    if (!vector_multiplier(r.m)) return requantize_scalar(s, n, r, y);
    const int left = r.m.shift > 0 ? r.m.shift : 0, right = r.m.shift > 0 ? 0 : -r.m.shift;
    const int32_t mask = int32_t((int64_t(1) << right) - 1);
    const __m128i lsh = _mm_cvtsi32_si128(left), rsh = _mm_cvtsi32_si128(right);
    const __m256i m0 = _mm256_set1_epi32(r.m.m0), nudge = _mm256_set1_epi64x(int64_t(1) << 30);
    const __m256i vmask = _mm256_set1_epi32(mask), half = _mm256_set1_epi32(mask >> 1);
    const __m256i zero = _mm256_set1_epi32(r.zero), lo = _mm256_set1_epi32(r.lo), hi = _mm256_set1_epi32(r.hi);
    for (int64_t i = 0; i < n; i += 8) {  // to round_up(n, 8): sums_avx2's rows are that long
        __m256i x = _mm256_sll_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i)), lsh);
        const __m256i even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, m0), nudge), 31);
        const __m256i odd = _mm256_slli_epi64(_mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), m0), nudge), 1);
        x = _mm256_blend_epi32(even, odd, 0xAA);
        const __m256i rem = _mm256_and_si256(x, vmask), threshold = _mm256_sub_epi32(half, _mm256_srai_epi32(x, 31));
        x = _mm256_sub_epi32(_mm256_sra_epi32(x, rsh), _mm256_cmpgt_epi32(rem, threshold));  // − (−1) where it passes
        x = _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(x, _mm256_sub_epi32(lo, zero)), _mm256_sub_epi32(hi, zero)), zero);  // as quant::requantize: no overflow
        const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));  // in [lo, hi]: no saturation
        _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), _mm_packs_epi16(words, words));
    }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif  // KILN_INT8_X86

#ifdef KILN_INT8_A64
// --- NEON: 4 positions per vector; the weights of 8 channels are two vectors of 4 dwords, a lane each ---
// sdot (ARMv8.2 dot product): 4 positions × 4 codes per instruction, s8 × s8.
#define KILN_SDOT_TAP(o) acc[o][v] = vdotq_laneq_s32(acc[o][v], in[v], o < 4 ? w0 : w1, o % 4);
template <int NV>
KILN_TARGET_SDOT void tile_sdot(const Panel& p, const uint8_t* w, const int32_t* bias, int64_t f, int32_t* s, int64_t ld) {
    int32x4_t acc[tile_o][NV];
    for (int o = 0; o < tile_o; ++o)
        for (int v = 0; v < NV; ++v) acc[o][v] = vdupq_n_s32(bias[o]);
    const int8_t* x = reinterpret_cast<const int8_t*>(p.x) + 4 * f;
    const int8_t* wt = reinterpret_cast<const int8_t*>(w);
    for (int64_t t = 0; t < p.taps; ++t, wt += 4 * tile_o) {
        const int8_t* xt = x + 4 * p.offs[t];
        const int8x16_t w0 = vld1q_s8(wt), w1 = vld1q_s8(wt + 16);
        int8x16_t in[NV];
        for (int v = 0; v < NV; ++v) in[v] = vld1q_s8(xt + 16 * v);
        for (int v = 0; v < NV; ++v) {
            // clang-format off
            KILN_SDOT_TAP(0) KILN_SDOT_TAP(1) KILN_SDOT_TAP(2) KILN_SDOT_TAP(3)
            KILN_SDOT_TAP(4) KILN_SDOT_TAP(5) KILN_SDOT_TAP(6) KILN_SDOT_TAP(7)
            // clang-format on
        }
    }
    for (int o = 0; o < tile_o; ++o)
        for (int v = 0; v < NV; ++v) vst1q_s32(s + o * ld + 4 * v, acc[o][v]);
}
#undef KILN_SDOT_TAP
KILN_TARGET_SDOT void sums_sdot(const Panel& p, const uint8_t* w, const int32_t* bias, int64_t f, int64_t n, int32_t* s, int64_t ld) {
    int64_t i = 0;
    for (; i + 12 <= n; i += 12) tile_sdot<3>(p, w, bias, f + i, s + i, ld);
    for (; i < n; i += 4) tile_sdot<1>(p, w, bias, f + i, s + i, ld);
}

// Without sdot: smull makes int16 products of 8 codes, sadalp adds their pairs into int32 lanes
// (position 0: codes 0+1, 2+3; position 1: …), and a last pairwise add finishes each position.
#define KILN_NEON_TAP(o)                                                                               \
    {                                                                                                  \
        const int8x16_t wb = vreinterpretq_s8_s32(vdupq_laneq_s32(o < 4 ? w0 : w1, o % 4));            \
        lo[o] = vpadalq_s16(lo[o], vmull_s8(vget_low_s8(in), vget_low_s8(wb)));                        \
        hi[o] = vpadalq_s16(hi[o], vmull_high_s8(in, wb));                                             \
    }
void tile_neon(const Panel& p, const uint8_t* w, const int32_t* bias, int64_t f, int32_t* s, int64_t ld) {
    int32x4_t lo[tile_o], hi[tile_o];
    for (int o = 0; o < tile_o; ++o) lo[o] = hi[o] = vdupq_n_s32(0);
    const int8_t* x = reinterpret_cast<const int8_t*>(p.x) + 4 * f;
    const int8_t* wt = reinterpret_cast<const int8_t*>(w);
    for (int64_t t = 0; t < p.taps; ++t, wt += 4 * tile_o) {
        const int8x16_t in = vld1q_s8(x + 4 * p.offs[t]);
        const int32x4_t w0 = vreinterpretq_s32_s8(vld1q_s8(wt)), w1 = vreinterpretq_s32_s8(vld1q_s8(wt + 16));
        // clang-format off
        KILN_NEON_TAP(0) KILN_NEON_TAP(1) KILN_NEON_TAP(2) KILN_NEON_TAP(3)
        KILN_NEON_TAP(4) KILN_NEON_TAP(5) KILN_NEON_TAP(6) KILN_NEON_TAP(7)
        // clang-format on
    }
    for (int o = 0; o < tile_o; ++o) vst1q_s32(s + o * ld, vaddq_s32(vpaddq_s32(lo[o], hi[o]), vdupq_n_s32(bias[o])));
}
#undef KILN_NEON_TAP
void sums_neon(const Panel& p, const uint8_t* w, const int32_t* bias, int64_t f, int64_t n, int32_t* s, int64_t ld) {
    for (int64_t i = 0; i < n; i += 4) tile_neon(p, w, bias, f + i, s + i, ld);
}

// sqrdmulh is gemmlowp's rounding doubling high product itself (the one that NEON gemmlowp uses);
// rounding_divide_by_pot is gemmlowp's NEON form: −1 below zero, then a rounding shift.
void requantize_neon(const int32_t* s, int64_t n, const Requant& r, int8_t* y) {
    if (!vector_multiplier(r.m)) return requantize_scalar(s, n, r, y);
    const int32x4_t left = vdupq_n_s32(r.m.shift > 0 ? r.m.shift : 0), right = vdupq_n_s32(r.m.shift > 0 ? 0 : r.m.shift);
    const int32x4_t zero = vdupq_n_s32(r.zero), lo = vdupq_n_s32(r.lo), hi = vdupq_n_s32(r.hi);
    auto lanes4 = [&](int32x4_t x) {
        x = vqrdmulhq_n_s32(vshlq_s32(x, left), r.m.m0);
        x = vrshlq_s32(vqaddq_s32(x, vshrq_n_s32(vandq_s32(x, right), 31)), right);
        return vmovn_s32(vaddq_s32(vminq_s32(vmaxq_s32(x, vsubq_s32(lo, zero)), vsubq_s32(hi, zero)), zero));  // as quant::requantize: no overflow
    };
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) vst1_s8(y + i, vmovn_s16(vcombine_s16(lanes4(vld1q_s32(s + i)), lanes4(vld1q_s32(s + i + 4)))));
    for (; i < n; i += 4) {  // to round_up(n, 4): the sums' rows are that long
        const int16x4_t last = lanes4(vld1q_s32(s + i));
        vst1_lane_s32(reinterpret_cast<int32_t*>(y + i), vreinterpret_s32_s8(vmovn_s16(vcombine_s16(last, last))), 0);
    }
}
#endif  // KILN_INT8_A64

const Variant* variant_of(Int8Isa isa) {
    static const Variant generic{false, false, sums_generic, requantize_scalar};
#ifdef KILN_INT8_X86
    static const Variant vnni{true, false, sums_vnni, requantize_avx512}, avx2{true, true, sums_avx2, requantize_avx2};
    if (isa == Int8Isa::vnni) return &vnni;
    if (isa == Int8Isa::avx2) return &avx2;
#endif
#ifdef KILN_INT8_A64
    static const Variant sdot{false, false, sums_sdot, requantize_neon}, neon{false, false, sums_neon, requantize_neon};
    if (isa == Int8Isa::sdot) return &sdot;
    if (isa == Int8Isa::neon) return &neon;
#endif
    return isa == Int8Isa::generic ? &generic : nullptr;
}

// --- packing ---

// out[i] = the dword (r[0][i], r[1][i], r[2][i], r[3][i]) ^ flip for i < n: 4 channels' codes side
// by side; a null row (past the channel count) gives `pad` bytes. Vectors of 16, 8 or 4 codes, the
// last one moved back to end at n (rows are short: 28, 14, 7 codes in resnet_mini).
#if defined(__SSE2__)
template <int width> void interleave_at(const int8_t* const r[4], int64_t i, __m128i flip, __m128i pad, uint8_t* out) {
    __m128i v[4];
    for (int e = 0; e < 4; ++e) {
        if (!r[e]) {
            v[e] = pad;
            continue;
        }
        const void* at = r[e] + i;
        const __m128i codes = width == 16  ? _mm_loadu_si128(static_cast<const __m128i*>(at))
                              : width == 8 ? _mm_loadl_epi64(static_cast<const __m128i*>(at))
                                           : _mm_cvtsi32_si128(int(load_u32(at)));
        v[e] = _mm_xor_si128(codes, flip);
    }
    const __m128i ab0 = _mm_unpacklo_epi8(v[0], v[1]), cd0 = _mm_unpacklo_epi8(v[2], v[3]);
    __m128i* o = reinterpret_cast<__m128i*>(out + 4 * i);
    _mm_storeu_si128(o, _mm_unpacklo_epi16(ab0, cd0));
    if (width >= 8) _mm_storeu_si128(o + 1, _mm_unpackhi_epi16(ab0, cd0));
    if (width < 16) return;
    const __m128i ab1 = _mm_unpackhi_epi8(v[0], v[1]), cd1 = _mm_unpackhi_epi8(v[2], v[3]);
    _mm_storeu_si128(o + 2, _mm_unpacklo_epi16(ab1, cd1));
    _mm_storeu_si128(o + 3, _mm_unpackhi_epi16(ab1, cd1));
}
#elif defined(__ARM_NEON)
template <int width> void interleave_at(const int8_t* const r[4], int64_t i, uint8x16_t flip, uint8x16_t pad, uint8_t* out) {
    if (width == 4) {
        for (int64_t q = i; q < i + 4; ++q)
            for (int e = 0; e < 4; ++e) out[4 * q + e] = r[e] ? uint8_t(r[e][q]) ^ vgetq_lane_u8(flip, 0) : vgetq_lane_u8(pad, 0);
        return;
    }
    uint8x16x4_t v;
    for (int e = 0; e < 4; ++e) {
        const uint8_t* at = reinterpret_cast<const uint8_t*>(r[e] + i);
        v.val[e] = !r[e] ? pad : veorq_u8(width == 16 ? vld1q_u8(at) : vcombine_u8(vld1_u8(at), vdup_n_u8(0)), flip);
    }
    if (width == 16) return vst4q_u8(out + 4 * i, v);
    vst4_u8(out + 4 * i, uint8x8x4_t{{vget_low_u8(v.val[0]), vget_low_u8(v.val[1]), vget_low_u8(v.val[2]), vget_low_u8(v.val[3])}});
}
#endif
void interleave4(const int8_t* const r[4], int64_t n, uint8_t flip, uint8_t pad, uint8_t* out) {
    int64_t i = 0;
#if defined(__SSE2__) || defined(__ARM_NEON)
#if defined(__SSE2__)
    const __m128i f = _mm_set1_epi8(char(flip)), p = _mm_set1_epi8(char(pad));
#else
    const uint8x16_t f = vdupq_n_u8(flip), p = vdupq_n_u8(pad);
#endif
    if (n >= 16) {
        for (; i + 16 <= n; i += 16) interleave_at<16>(r, i, f, p, out);
        if (i < n) interleave_at<16>(r, n - 16, f, p, out);
        return;
    }
    if (n >= 8) {
        interleave_at<8>(r, 0, f, p, out);
        if (n > 8) interleave_at<8>(r, n - 8, f, p, out);
        return;
    }
    if (n >= 4) {
        interleave_at<4>(r, 0, f, p, out);
        if (n > 4) interleave_at<4>(r, n - 4, f, p, out);
        return;
    }
#endif
    for (; i < n; ++i)
        for (int e = 0; e < 4; ++e) out[4 * i + e] = r[e] ? uint8_t(r[e][i]) ^ flip : pad;
}

// out[i] = in[s·i], i < n: the columns of one stride phase.
void every(const uint32_t* in, int64_t s, int64_t n, uint32_t* out) {
    int64_t i = 0;
#if defined(__SSE2__)
    if (s == 2)  // reads in[2i … 2i + 7]: the row buffer has room past its end
        for (; i + 4 <= n; i += 4) {
            const __m128 a = _mm_loadu_ps(reinterpret_cast<const float*>(in + 2 * i));
            const __m128 b = _mm_loadu_ps(reinterpret_cast<const float*>(in + 2 * i + 4));
            _mm_storeu_ps(reinterpret_cast<float*>(out + i), _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
        }
#endif
    for (; i < n; ++i) out[i] = in[s * i];
}

// Weights into blocks of 8 channels: for block b, tap t, channel o: its 4 codes (0 past the real
// channels), or their int16 pairs (w0, w2), (w1, w3), from block `first` on at wq. dwords(o, t, d)
// writes channel o's codes of taps t, t + 1, … to d[0 … 64) and says how many; its k codes are
// w[o·k …]. bias_out gets, from channel 8·first on, the bias with the zero-point correction,
// −(x_zero + offset)·Σw[o], in wrapping arithmetic.
template <class Dwords>
void pack_weights(const Variant& v, int64_t o_count, int64_t taps, Dwords dwords, const int8_t* w, int64_t k, const int32_t* bias,
                  int32_t x_zero, int64_t o0, int64_t o1, int64_t first, uint8_t* wq, int32_t* bias_out) {
    const int64_t per_channel = v.pairs ? 8 : 4;
    const uint32_t offset = uint32_t(x_zero + (v.u8 ? 128 : 0));
    for (int64_t o = o0; o < o1; ++o) {
        uint8_t* out = wq + ((o / tile_o - first) * taps * tile_o + o % tile_o) * per_channel;
        int32_t sum = 0;
        for (int64_t i = 0; o < o_count && i < k; ++i) sum += w[o * k + i];
        bias_out[o - first * tile_o] = o < o_count ? int32_t(uint32_t(bias[o]) - offset * uint32_t(sum)) : 0;
        for (int64_t t = 0; t < taps;) {
            uint32_t d[64];
            const int64_t n = o < o_count ? dwords(o, t, d) : std::min<int64_t>(64, taps - t);
            if (o >= o_count) std::fill(d, d + n, 0u);
            for (int64_t i = 0; i < n; ++i, out += tile_o * per_channel) {
                if (!v.pairs) {
                    std::memcpy(out, d + i, 4);
                    continue;
                }
                int8_t c[4];
                std::memcpy(c, d + i, 4);
                const int16_t pairs[4] = {c[0], c[2], c[1], c[3]};
                std::memcpy(out, pairs, 8);
            }
            t += n;
        }
    }
}

// qconv2d's packed input for `rows` output rows from output row r0 (all of them: r0 = 0, rows = oh):
// per group of 4 channels, sh·sw phase planes of hph × wph dwords, phase (a, b) row rr holding
// padded row (r0 + rr)·sh + a, columns b, b + sw, …
struct ConvLayout {
    int64_t groups, sh, sw, hph, wph, plane, taps, positions, dwords, row_dwords;
    bool row_used[4] = {}, column_used[4] = {};  // phases some tap reads (strides ≤ 4; larger: all)
    ConvLayout(const ConvGeom& g, int64_t rows)
        : groups((g.c + 3) / 4), sh(g.a.stride_h), sw(g.a.stride_w), hph(rows + (g.kh - 1) * g.a.dil_h / sh),
          wph((g.w + 2 * g.a.pad_w + sw - 1) / sw), plane(hph * wph), taps(groups * g.kh * g.kw), positions(rows * wph),
          row_dwords(sw > 1 ? g.w + 8 : 0) {
        // What the last tap's vectors read past the planes belongs to positions that are dropped,
        // but it must be inside the buffer.
        dwords = std::max(groups * sh * sw * plane, offset(g, groups - 1, g.kh - 1, g.kw - 1) + round_up(positions, max_lanes));
        for (int64_t i = 0; i < g.kh; ++i) row_used[sh <= 4 ? i * g.a.dil_h % sh : 0] = true;
        for (int64_t j = 0; j < g.kw; ++j) column_used[sw <= 4 ? j * g.a.dil_w % sw : 0] = true;
    }
    int64_t offset(const ConvGeom& g, int64_t group, int64_t i, int64_t j) const {
        const int64_t y = i * g.a.dil_h, x = j * g.a.dil_w;
        return ((group * sh + y % sh) * sw + x % sw) * plane + y / sh * wph + x / sw;
    }
    void offsets(const ConvGeom& g, int64_t* offs) const {  // per tap t = (group·kh + i)·kw + j
        for (int64_t t = 0; t < taps; ++t) offs[t] = offset(g, t / (g.kh * g.kw), t / g.kw % g.kh, t % g.kw);
    }
    bool reads_row(int64_t a) const { return sh > 4 || row_used[a]; }
    bool reads_column(int64_t b) const { return sw > 4 || column_used[b]; }
};

// Channel groups [g0, g1) of image x, from output row r0, into xq (the last group also fills the
// tail). A row of 4 channels is interleaved in place at stride 1, else into `row` (row_dwords) and
// then split into the column phases that taps read.
void pack_image(const ConvGeom& g, const ConvLayout& L, const int8_t* x, int64_t r0, uint8_t pad, uint8_t flip, int64_t g0, int64_t g1,
                uint8_t* xq, uint32_t* row) {
    const int64_t group = L.sh * L.sw * L.plane;
    std::memset(xq + 4 * g0 * group, pad, size_t(4 * ((g1 == L.groups ? L.dwords : g1 * group) - g0 * group)));
    const int64_t y0 = std::max<int64_t>(0, r0 * L.sh - g.a.pad_h), y1 = std::min(g.h, (r0 + L.hph) * L.sh - g.a.pad_h);
    for (int64_t q4 = g0; q4 < g1; ++q4)
        for (int64_t y = y0; y < y1; ++y) {
            const int64_t yp = y + g.a.pad_h;
            if (!L.reads_row(yp % L.sh)) continue;
            const int8_t* rows[4];
            for (int e = 0; e < 4; ++e) rows[e] = 4 * q4 + e < g.c ? x + ((4 * q4 + e) * g.h + y) * g.w : nullptr;
            uint8_t* out = xq + 4 * ((q4 * L.sh + yp % L.sh) * L.sw * L.plane + (yp / L.sh - r0) * L.wph);  // phase row, column phase 0
            if (L.sw == 1) {
                interleave4(rows, g.w, flip, pad, out + 4 * g.a.pad_w);
                continue;
            }
            interleave4(rows, g.w, flip, pad, reinterpret_cast<uint8_t*>(row));
            for (int64_t b = 0; b < L.sw; ++b) {  // phase column cc holds input column cc·sw + b − pad_w
                const int64_t cc0 = std::max<int64_t>(0, (g.a.pad_w - b + L.sw - 1) / L.sw), cc1 = (g.w + g.a.pad_w - b + L.sw - 1) / L.sw;
                if (cc0 < cc1 && L.reads_column(b))
                    every(row + cc0 * L.sw + b - g.a.pad_w, L.sw, cc1 - cc0, reinterpret_cast<uint32_t*>(out + 4 * (b * L.plane + cc0)));
            }
        }
}

// n ≤ chunk bytes: whole 16-, 8- and 4-byte moves, the last one ending at n (no call to memcpy for
// a row of 28 outputs).
void copy_short(int8_t* to, const int8_t* from, int64_t n) {
    auto move = [&](int64_t at, auto bytes) {
        decltype(bytes) v;
        std::memcpy(&v, from + at, sizeof v);
        std::memcpy(to + at, &v, sizeof v);
    };
    struct Bytes16 {
        uint64_t a, b;
    };
    if (n >= 16) {
        for (int64_t i = 0; i + 16 <= n; i += 16) move(i, Bytes16{});
        if (n % 16) move(n - 16, Bytes16{});
    } else if (n >= 8) {
        move(0, uint64_t{}), move(n - 8, uint64_t{});
    } else if (n >= 4) {
        move(0, uint32_t{}), move(n - 4, uint32_t{});
    } else {
        for (int64_t i = 0; i < n; ++i) to[i] = from[i];
    }
}

// Output positions [f, f + n) of one channel, v[0…n), to its plane: flat row r holds wph
// positions, the first ow of them outputs.
void store_rows(const int8_t* v, int64_t f, int64_t n, int64_t wph, int64_t ow, int8_t* plane) {
    for (int64_t r = f / wph; r * wph < f + n; ++r) {
        const int64_t q0 = std::max<int64_t>(f - r * wph, 0), q1 = std::min(f + n - r * wph, ow);
        if (q0 < q1) copy_short(plane + r * ow + q0, v + r * wph + q0 - f, q1 - q0);
    }
}

// f(thread, k0, k1) for the items (planes, channels, bands) [k0, k1) of each thread; the caller
// alone takes them all where there is little work.
template <class F> void planes(Context& ctx, int64_t count, int64_t item_work, F f) {
    const int threads = count * item_work < grain ? 1 : int(std::min<int64_t>(ctx.pool.size(), count));
    if (threads == 1) return f(0, int64_t(0), count);
    ctx.pool.run([&](int t) {
        if (t < threads) f(t, count * t / threads, count * (t + 1) / threads);
    });
}

// Pieces of memory carved in 64-byte steps from a base (with a null base, only the size counts).
struct Carver {
    uint8_t* base;
    size_t bytes = 0;
    template <class T> T* take(int64_t count) {
        T* p = base ? reinterpret_cast<T*>(base + bytes) : nullptr;
        bytes += size_t(round_up(count * int64_t(sizeof(T)), 64));
        return p;
    }
};

// What a unit of work keeps on its thread's stack: the int32 sums of 8 channels at a chunk of
// positions, and one channel's requantized codes.
struct Sums {
    alignas(64) int32_t sums[tile_o * chunk];
    alignas(64) int8_t row[chunk];
};

// Block `block` of 8 channels at positions [f, f + n) of a panel: the sums, requantized, then
// handed to store(o, codes) channel by channel.
template <class Store>
void tile_block(const Variant& v, const KernelCall& c, int64_t o_count, const Panel& p, const uint8_t* w, const int32_t* bias,
                int64_t block, int64_t f, int64_t n, Sums& st, Store store) {
    const QuantAttrs& q = c.attrs->quant;
    const int32_t* m = c.in[3].as<int32_t>();
    v.sums(p, w, bias, f, n, st.sums, chunk);
    for (int64_t o = block * tile_o; o < std::min(o_count, (block + 1) * tile_o); ++o) {
        v.requantize(st.sums + (o - block * tile_o) * chunk, n, {{m[2 * o], int(m[2 * o + 1])}, q.y_zero, q.lo, q.hi}, st.row);
        store(o, st.row);
    }
}

const Variant* runnable(Int8Isa isa) { return int8_isa_missing(isa) ? nullptr : variant_of(isa); }
int64_t weight_bytes(const Variant* v, int64_t o, int64_t taps) { return round_up(o, tile_o) * taps * (v && !v->pairs ? 4 : 8); }

// --- qconv2d ---
// Two ways, chosen per call:
// - whole images, when there are more images than threads (batch inference): the weights are
//   packed once into the scratch, and each thread packs its images, one at a time, into its own
//   buffer there and computes all their outputs;
// - bands of output rows, for one image or a few (batch 1): the threads take bands, and each packs
//   its band's input and, block by block, the weights into a buffer on its stack. No scratch: a
//   batch-1 program's arena is its activations only.
constexpr int64_t band_bytes = 56 << 10;  // on the stack, besides Sums (6 KiB)

// A band's buffer: its packed input, a block's packed weights, the tap offsets, a row for packing.
struct Band {
    uint8_t *xq, *wq;
    int64_t* offs;
    uint32_t* row;
    size_t bytes;
    Band(const ConvLayout& L, uint8_t* base) {
        Carver c{base};
        xq = c.take<uint8_t>(4 * L.dwords), wq = c.take<uint8_t>(L.taps * tile_o * 8);
        offs = c.take<int64_t>(L.taps), row = c.take<uint32_t>(L.row_dwords);
        bytes = c.bytes;
    }
};

// Output rows per band: as many as fit band_bytes, yet at least one band per thread; 0 when even
// one row does not fit, and then images go whole.
int64_t band_rows(const ConvGeom& g, int threads) {
    int64_t rows = 0;
    while (rows < (g.oh + threads - 1) / threads && Band(ConvLayout(g, rows + 1), nullptr).bytes <= size_t(band_bytes)) ++rows;
    return rows;
}
bool banded(const ConvGeom& g, int threads) { return (g.n < threads || g.n == 1) && band_rows(g, threads) > 0; }

struct ConvScratch {
    int32_t* bias;
    int64_t* offs;
    uint8_t *wq, *images;
    int64_t image_bytes;
    size_t bytes;
    ConvScratch(const Variant* v, const ConvGeom& g, const ConvLayout& L, int threads, void* base) {
        Carver c{static_cast<uint8_t*>(base)};
        bias = c.take<int32_t>(round_up(g.o, tile_o));
        offs = c.take<int64_t>(L.taps);
        wq = c.take<uint8_t>(weight_bytes(v, g.o, L.taps));
        image_bytes = round_up(4 * (L.dwords + L.row_dwords), 64);
        images = c.take<uint8_t>(threads * image_bytes);
        bytes = c.bytes;
    }
};

}  // namespace

const char* int8_isa_name(Int8Isa isa) {
    switch (isa) {
    case Int8Isa::generic: return "generic";
    case Int8Isa::avx2: return "avx2";
    case Int8Isa::vnni: return "vnni";
    case Int8Isa::neon: return "neon";
    case Int8Isa::sdot: return "sdot";
    }
    return "?";
}

const char* int8_isa_missing(Int8Isa isa) {
#ifdef KILN_INT8_X86
    __builtin_cpu_init();  // needed where this runs before main (GCC's manual); harmless again
#endif
    switch (isa) {
    case Int8Isa::generic: return nullptr;
#ifdef KILN_INT8_X86
    case Int8Isa::vnni:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                       __builtin_cpu_supports("avx512vnni")
                   ? nullptr
                   : "CPU lacks avx512vnni (or avx512f/bw/vl)";
    case Int8Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? nullptr : "CPU lacks avx2";
#else
    case Int8Isa::vnni:
    case Int8Isa::avx2: return "not an x86-64 build";
#endif
#ifdef KILN_INT8_A64
    case Int8Isa::neon: return nullptr;
    case Int8Isa::sdot: return getauxval(AT_HWCAP) & HWCAP_ASIMDDP ? nullptr : "CPU lacks the dot product extension (asimddp)";
#else
    case Int8Isa::neon:
    case Int8Isa::sdot: return "not an aarch64 build";
#endif
    }
    return "unknown";
}

Int8Isa int8_isa() {
    static const Int8Isa chosen = [] {
        Int8Isa best = Int8Isa::generic;
        for (Int8Isa isa : {Int8Isa::vnni, Int8Isa::avx2, Int8Isa::sdot, Int8Isa::neon})
            if (!int8_isa_missing(isa)) {
                best = isa;
                break;
            }
        const char* env = std::getenv("KILN_INT8_ISA");
        if (!env || !*env) return best;
        for (Int8Isa isa : {Int8Isa::generic, Int8Isa::avx2, Int8Isa::vnni, Int8Isa::neon, Int8Isa::sdot})
            if (std::string_view(env) == int8_isa_name(isa)) {
                if (const char* why = int8_isa_missing(isa)) {
                    std::fprintf(stderr, "kiln: KILN_INT8_ISA=%s cannot run here (%s); using %s\n", env, why, int8_isa_name(best));
                    return best;
                }
                return isa;
            }
        std::fprintf(stderr, "kiln: KILN_INT8_ISA=%s is none of generic, avx2, vnni, neon, sdot; using %s\n", env, int8_isa_name(best));
        return best;
    }();
    return chosen;
}

size_t qconv2d_scratch_bytes(Int8Isa isa, const ConvGeom& g, int threads) {
    return banded(g, threads) ? 0 : ConvScratch(variant_of(isa), g, ConvLayout(g, g.oh), threads, nullptr).bytes;
}

void qconv2d_with(Int8Isa isa, const KernelCall& c, Context& ctx) {
    const Variant* v = runnable(isa);
    if (!v) return reference(c, ctx);
    const ConvGeom g(c.in[0].shape, c.in[1].shape, c.attrs->conv);
    const int threads = ctx.pool.size();
    const int8_t *x = c.in[0].as<int8_t>(), *w = c.in[1].as<int8_t>();
    int8_t* y = c.out.as<int8_t>();
    const int32_t x_zero = c.attrs->quant.x_zero;
    const uint8_t flip = v->u8 ? 0x80 : 0, pad = uint8_t(int8_t(x_zero)) ^ flip;
    const int64_t khkw = g.kh * g.kw, taps = (g.c + 3) / 4 * khkw, blocks = round_up(g.o, tile_o) / tile_o, p = g.oh * g.ow;
    auto dwords = [&](int64_t o, int64_t t, uint32_t* d) {  // tap (group·kh + i)·kw + j: channels 4·group … 4·group + 3
        const int64_t q4 = t / khkw, tt = t % khkw, n = std::min<int64_t>(64, khkw - tt);
        const int8_t* rows[4];
        for (int64_t e = 0; e < 4; ++e) rows[e] = 4 * q4 + e < g.c ? w + (o * g.c + 4 * q4 + e) * khkw + tt : nullptr;
        interleave4(rows, n, 0, 0, reinterpret_cast<uint8_t*>(d));
        return n;
    };
    auto weights = [&](int64_t o0, int64_t o1, int64_t first, uint8_t* wq, int32_t* bias) {
        pack_weights(*v, g.o, taps, dwords, w, g.k(), c.in[2].as<int32_t>(), x_zero, o0, o1, first, wq, bias);
    };

    if (banded(g, threads)) {
        const int64_t rows = band_rows(g, threads), bands = (g.oh + rows - 1) / rows;
        planes(ctx, g.n * bands, rows * g.ow * g.o * g.k() / 64, [&](int, int64_t i0, int64_t i1) {
            alignas(64) uint8_t buffer[band_bytes];
            Sums st;
            int32_t bias[tile_o];
            for (int64_t i = i0; i < i1; ++i) {
                const int64_t b = i / bands, r0 = i % bands * rows;
                const ConvLayout L(g, std::min(rows, g.oh - r0));
                const Band band(L, buffer);
                L.offsets(g, band.offs);
                pack_image(g, L, x + b * g.c * g.h * g.w, r0, pad, flip, 0, L.groups, band.xq, band.row);
                for (int64_t block = 0; block < blocks; ++block) {
                    weights(block * tile_o, (block + 1) * tile_o, block, band.wq, bias);
                    for (int64_t f = 0; f < L.positions; f += chunk) {
                        const int64_t n = std::min(chunk, L.positions - f);
                        auto store = [&](int64_t o, const int8_t* codes) {
                            store_rows(codes, f, n, L.wph, g.ow, y + (b * g.o + o) * p + r0 * g.ow);
                        };
                        tile_block(*v, c, g.o, Panel{band.xq, band.offs, L.taps}, band.wq, bias, block, f, n, st, store);
                    }
                }
            }
        });
        return;
    }

    const ConvLayout L(g, g.oh);
    const ConvScratch s(v, g, L, threads, c.scratch);
    L.offsets(g, s.offs);
    planes(ctx, blocks * tile_o, L.taps * 4, [&](int, int64_t o0, int64_t o1) { weights(o0, o1, 0, s.wq, s.bias); });
    const int64_t wbytes = L.taps * tile_o * (v->pairs ? 8 : 4);
    // Each thread its images, packed into its own buffer; with fewer images than threads (a
    // layer too large for bands), each image's channel blocks and position chunks are shared out.
    auto unit = [&](const uint8_t* xq, int64_t b, int64_t block, int64_t f, Sums& st) {
        const int64_t n = std::min(chunk, L.positions - f);
        tile_block(*v, c, g.o, Panel{xq, s.offs, L.taps}, s.wq + block * wbytes, s.bias + block * tile_o, block, f, n, st,
                   [&](int64_t o, const int8_t* codes) { store_rows(codes, f, n, L.wph, g.ow, y + (b * g.o + o) * p); });
    };
    auto row_of = [&](int t) { return reinterpret_cast<uint32_t*>(s.images + t * s.image_bytes + 4 * L.dwords); };
    if (g.n >= threads) {
        ctx.pool.run([&](int t) {
            uint8_t* xq = s.images + t * s.image_bytes;
            Sums st;
            for (int64_t b = g.n * t / threads; b < g.n * (t + 1) / threads; ++b) {
                pack_image(g, L, x + b * g.c * g.h * g.w, 0, pad, flip, 0, L.groups, xq, row_of(t));
                for (int64_t block = 0; block < blocks; ++block)
                    for (int64_t f = 0; f < L.positions; f += chunk) unit(xq, b, block, f, st);
            }
        });
        return;
    }
    const int64_t chunks = (L.positions + chunk - 1) / chunk;
    for (int64_t b = 0; b < g.n; ++b) {
        ctx.pool.run([&](int t) {
            const int64_t g0 = L.groups * t / threads, g1 = L.groups * (t + 1) / threads;
            if (g0 < g1) pack_image(g, L, x + b * g.c * g.h * g.w, 0, pad, flip, g0, g1, s.images, row_of(t));
        });
        ctx.pool.run([&](int t) {
            Sums st;
            for (int64_t i = t; i < blocks * chunks; i += threads) unit(s.images, b, i / chunks, i % chunks * chunk, st);
        });
    }
}

// --- qlinear: taps are groups of 4 of the K codes, positions the rows; x packed as [taps][rows] ---
namespace {
int64_t linear_rows(int64_t n) { return round_up(n, max_lanes); }
struct LinearScratch {
    int32_t* bias;
    int64_t* offs;
    uint8_t *wq, *input;
    size_t bytes;
    LinearScratch(const Variant* v, int64_t n, int64_t o, int64_t taps, void* base) {
        Carver c{static_cast<uint8_t*>(base)};
        bias = c.take<int32_t>(round_up(o, tile_o));
        offs = c.take<int64_t>(taps);
        wq = c.take<uint8_t>(weight_bytes(v, o, taps));
        input = c.take<uint8_t>(4 * taps * linear_rows(n));
        bytes = c.bytes;
    }
};
}  // namespace

// Fewer rows than this (batch 1): plain dot products of x's rows and w's, which the compiler
// vectorises, the threads taking channels — no packing and no scratch (rows would fill a vector of
// positions only partly).
constexpr int64_t few_rows = 8;
void linear_few_rows(const KernelCall& c, Context& ctx) {
    const int64_t n = c.in[0].shape[0], k = c.in[0].shape[1], o_count = c.in[1].shape[0];
    const QuantAttrs& q = c.attrs->quant;
    planes(ctx, o_count, n * k, [&](int, int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) {
            const int8_t* w = c.in[1].as<int8_t>() + o * k;
            int32_t w_sum = 0;  // |w| ≤ 128 and k ≤ 65,536: these sums fit int32
            for (int64_t i = 0; i < k; ++i) w_sum += w[i];
            const uint32_t base = uint32_t(c.in[2].as<int32_t>()[o]) - uint32_t(q.x_zero) * uint32_t(w_sum);
            const quant::Multiplier m{c.in[3].as<int32_t>()[2 * o], int(c.in[3].as<int32_t>()[2 * o + 1])};
            for (int64_t r = 0; r < n; ++r) {
                const int8_t* x = c.in[0].as<int8_t>() + r * k;
                int32_t dot = 0;
                for (int64_t i = 0; i < k; ++i) dot += int32_t(x[i]) * int32_t(w[i]);
                c.out.as<int8_t>()[r * o_count + o] = quant::requantize(int32_t(base + uint32_t(dot)), m, q.y_zero, q.lo, q.hi);
            }
        }
    });
}

size_t qlinear_scratch_bytes(Int8Isa isa, int64_t n, int64_t k, int64_t o) {
    return n < few_rows ? 0 : LinearScratch(variant_of(isa), n, o, (k + 3) / 4, nullptr).bytes;
}

void qlinear_with(Int8Isa isa, const KernelCall& c, Context& ctx) {
    const Variant* v = runnable(isa);
    if (!v) return reference(c, ctx);
    const int64_t n = c.in[0].shape[0], k = c.in[0].shape[1], o_count = c.in[1].shape[0], taps = (k + 3) / 4, rows = linear_rows(n);
    if (n < few_rows) return linear_few_rows(c, ctx);
    const LinearScratch s(v, n, o_count, taps, c.scratch);
    for (int64_t t = 0; t < taps; ++t) s.offs[t] = t * rows;
    const int8_t *x = c.in[0].as<int8_t>(), *w = c.in[1].as<int8_t>();
    auto dwords = [&](int64_t o, int64_t t, uint32_t* d) {  // tap t: codes 4t … 4t + 3 (zeros past k)
        const int64_t m = std::min<int64_t>(64, taps - t);
        if (4 * (t + m) > k) d[m - 1] = 0;  // the last tap's codes past k
        std::memcpy(d, w + o * k + 4 * t, size_t(std::min(4 * m, k - 4 * t)));
        return m;
    };
    const int64_t blocks = round_up(o_count, tile_o) / tile_o, chunks = (n + chunk - 1) / chunk;
    planes(ctx, blocks * tile_o, taps * 4, [&](int, int64_t o0, int64_t o1) {
        pack_weights(*v, o_count, taps, dwords, w, k, c.in[2].as<int32_t>(), c.attrs->quant.x_zero, o0, o1, 0, s.wq, s.bias);
    });
    // Position r of tap t: codes 4t … 4t + 3 of row r (past k, and in the rows past n, zeros).
    const uint32_t flip = v->u8 ? 0x80808080u : 0;
    uint32_t* packed = reinterpret_cast<uint32_t*>(s.input);
    planes(ctx, rows, k, [&](int, int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            for (int64_t t = 0; t < k / 4; ++t) packed[t * rows + r] = r < n ? load_u32(x + r * k + 4 * t) ^ flip : 0;
            if (k % 4 == 0) continue;
            uint32_t last = 0;  // its codes past k meet zero weights
            if (r < n) std::memcpy(&last, x + r * k + k / 4 * 4, size_t(k % 4));
            packed[(taps - 1) * rows + r] = r < n ? last ^ flip : 0;
        }
    });
    int8_t* y = c.out.as<int8_t>();
    const int64_t wbytes = taps * tile_o * (v->pairs ? 8 : 4);
    planes(ctx, blocks * chunks, chunk * taps * tile_o / 16, [&](int, int64_t i0, int64_t i1) {
        Sums st;
        for (int64_t i = i0; i < i1; ++i) {
            const int64_t block = i / chunks, f = i % chunks * chunk, m = std::min(chunk, n - f);
            tile_block(*v, c, o_count, Panel{s.input, s.offs, taps}, s.wq + block * wbytes, s.bias + block * tile_o, block, f, m, st,
                       [&](int64_t o, const int8_t* codes) {
                           for (int64_t r = 0; r < m; ++r) y[(f + r) * o_count + o] = codes[r];
                       });
        }
    });
}

void qconv2d(const KernelCall& c, Context& ctx) { qconv2d_with(int8_isa(), c, ctx); }
void qlinear(const KernelCall& c, Context& ctx) { qlinear_with(int8_isa(), c, ctx); }

// --- the other int8 ops: plain loops the compiler vectorises, the threads taking planes or runs ---

namespace {

// quant::multiply in plain operations, for the multipliers vector_multiplier accepts:
// rounding_doubling_high_mul as floor((a·m0 + 2^30) / 2^31) (see requantize_avx512), then
// rounding_divide_by_pot as one more where the remainder passes half (half + 1 below zero).
struct Multiply {
    int32_t m0, mask, half;
    int left, right;
    explicit Multiply(quant::Multiplier m)
        : m0(m.m0), mask(int32_t((int64_t(1) << (m.shift > 0 ? 0 : -m.shift)) - 1)), half(mask >> 1), left(m.shift > 0 ? m.shift : 0),
          right(m.shift > 0 ? 0 : -m.shift) {}
    int32_t operator()(int32_t x) const {
        x = int32_t((int64_t(int32_t(uint32_t(x) << left)) * m0 + (int64_t(1) << 30)) >> 31);
        return (x >> right) + ((x & mask) > half - (x >> 31) ? 1 : 0);
    }
};

// Runs of elements: [i0, i1) per thread, in blocks copied through locals (the op may run in place:
// the copies tell the compiler that out does not overlap its inputs).
constexpr int64_t block = 256;
template <class F> void elementwise(Context& ctx, int64_t n, F f) {
    ctx.pool.parallel_for((n + block - 1) / block, per_chunk(block * 4), [&](int64_t b0, int64_t b1) {
        for (int64_t i = b0 * block; i < std::min(n, b1 * block); i += block) f(i, std::min(block, n - i));
    });
}

}  // namespace

void qadd(const KernelCall& c, Context& ctx) {
    const QuantAttrs& q = c.attrs->quant;
    const quant::Multiplier ma{q.m0[0], q.shift[0]}, mb{q.m0[1], q.shift[1]}, my{q.m0[2], q.shift[2]};
    if (!vector_multiplier(ma) || !vector_multiplier(mb) || !vector_multiplier(my)) return reference(c, ctx);
    const Multiply fa(ma), fb(mb), fy(my);
    const int8_t *a = c.in[0].as<int8_t>(), *b = c.in[1].as<int8_t>();
    int8_t* y = c.out.as<int8_t>();
    elementwise(ctx, c.out.numel(), [&](int64_t at, int64_t n) {
        int8_t va[block], vb[block], out[block];
        std::memcpy(va, a + at, size_t(n));
        std::memcpy(vb, b + at, size_t(n));
        for (int64_t i = 0; i < n; ++i) {  // quant::add's arithmetic
            const int32_t sa = fa((int32_t(va[i]) - q.x_zero) * (1 << quant::add_left_shift));
            const int32_t sum = sa + fb((int32_t(vb[i]) - q.b_zero) * (1 << quant::add_left_shift));
            out[i] = int8_t(std::clamp(fy(sum), q.lo - q.y_zero, q.hi - q.y_zero) + q.y_zero);  // as quant::requantize
        }
        std::memcpy(y + at, out, size_t(n));
    });
}

namespace {

// Max pooling of codes, separably: each input row's maxima over the windows' columns, then their
// maxima over the windows' rows. Taps outside the plane (padding, ceil_mode's overhang) count as
// −128, which never wins: the reference skips them and starts from −128. Everything by value: int8
// stores could alias anything read through a reference, which would keep the loops scalar.
// At stride 1 (resnet_mini's MaxPool(3, 1, 1)) the plane is padded with −128s into p [hp, wp] and
// both passes run over it flat, in vectors longer than a row; else row by row.
struct MaxPoolBuffers {
    int64_t hp, wp, bytes;
    MaxPoolBuffers(const Pool2dAttrs& a, const Shape& x, const Shape& y)
        : hp(x[2] + 2 * a.pad_h + a.kernel_h), wp(x[3] + 2 * a.pad_w + a.kernel_w),
          bytes(a.stride_h == 1 && a.stride_w == 1 ? 2 * hp * wp : x[2] * y[3] + (y[3] - 1) * a.stride_w + a.kernel_w + a.pad_w + x[3]) {}
};
void max_pool_plane(const Pool2dAttrs a, const MaxPoolBuffers m, const int8_t* x, int64_t h, int64_t w, int64_t oh, int64_t ow, int8_t* y,
                    int8_t* buffer) {
    if (a.stride_h == 1 && a.stride_w == 1) {
        const int64_t wp = m.wp, kh = a.kernel_h, kw = a.kernel_w, n = (oh - 1 + kh) * wp;  // the rows of p that windows read
        int8_t *p = buffer, *rows = buffer + m.hp * wp;
        std::fill(p, p + n + kw, int8_t(-128));
        for (int64_t yy = 0; yy < h; ++yy) std::memcpy(p + (yy + a.pad_h) * wp + a.pad_w, x + yy * w, size_t(w));
        std::memcpy(rows, p, size_t(n));  // rows[f] = max(p[f … f + kw)), columns past ow not used
        for (int64_t j = 1; j < kw; ++j)
            for (int64_t f = 0; f < n; ++f) rows[f] = std::max(rows[f], p[f + j]);
        std::memcpy(p, rows, size_t(oh * wp));  // then p[f] = max(rows[f], rows[f + wp], …)
        for (int64_t i = 1; i < kh; ++i)
            for (int64_t f = 0; f < oh * wp; ++f) p[f] = std::max(p[f], rows[f + i * wp]);
        for (int64_t r = 0; r < oh; ++r) std::memcpy(y + r * ow, p + r * wp, size_t(ow));
        return;
    }
    const int64_t sw = a.stride_w, kw = a.kernel_w, pw = a.pad_w, span = (ow - 1) * sw + kw;  // padded columns read
    const int64_t inside = std::clamp<int64_t>(span - pw, 0, w);
    int8_t *cols = buffer, *padded = buffer + h * ow;  // cols [h, ow]: the rows' maxima; padded: one row among −128s
    for (int64_t yy = 0; yy < h; ++yy) {
        std::fill(padded, padded + pw, int8_t(-128));
        std::memcpy(padded + pw, x + yy * w, size_t(inside));
        std::fill(padded + pw + inside, padded + std::max(span, pw + inside), int8_t(-128));
        if (sw == 2 && kw == 2) {  // MaxPool2d(2): constant strides, in vectors
            for (int64_t q = 0; q < ow; ++q) cols[yy * ow + q] = std::max(padded[2 * q], padded[2 * q + 1]);
            continue;
        }
        for (int64_t q = 0; q < ow; ++q) {
            int8_t top = padded[q * sw];
            for (int64_t j = 1; j < kw; ++j) top = std::max(top, padded[q * sw + j]);
            cols[yy * ow + q] = top;
        }
    }
    for (int64_t r = 0; r < oh; ++r) {
        int8_t* out = y + r * ow;
        std::fill(out, out + ow, int8_t(-128));
        const int64_t y0 = r * a.stride_h - a.pad_h;
        for (int64_t yy = std::max<int64_t>(0, y0); yy < std::min(h, y0 + a.kernel_h); ++yy)
            for (int64_t q = 0; q < ow; ++q) out[q] = std::max(out[q], cols[yy * ow + q]);
    }
}

}  // namespace

// The buffers are on the stack; a plane too large for them (over 48 KiB: at stride 1, 2·(h + 2·pad_h +
// kernel_h)·(w + 2·pad_w + kernel_w) bytes, 150 × 150 at 3 × 3) takes quantized.h's loop.
void qmax_pool2d(const KernelCall& c, Context& ctx) {
    constexpr int64_t max_bytes = 48 << 10;
    const Shape &xs = c.in[0].shape, &ys = c.out.shape;
    const int64_t h = xs[2], w = xs[3], oh = ys[2], ow = ys[3];
    const MaxPoolBuffers m(c.attrs->pool, xs, ys);
    planes(ctx, xs[0] * xs[1], h * w * 2, [&](int, int64_t k0, int64_t k1) {
        alignas(64) int8_t buffer[max_bytes];
        for (int64_t k = k0; k < k1; ++k) {
            const int8_t* x = c.in[0].as<int8_t>() + k * h * w;
            int8_t* y = c.out.as<int8_t>() + k * oh * ow;
            if (m.bytes <= max_bytes) max_pool_plane(c.attrs->pool, m, x, h, w, oh, ow, y, buffer);
            else quant::max_pool2d(c.attrs->pool, x, 1, h, w, oh, ow, y);
        }
    });
}

namespace {

// Windows all inside the plane (no padding, no ceil_mode overhang: AvgPool2d(k) on a multiple of
// k, LeNet-5's) share the divisor d = kh·kw and add no zero points. quantized.h's rounded division
// (s ± ⌊d/2⌋) / d, C's truncation, is sign(s)·⌊(|s| + ⌊d/2⌋) / d⌋: a shift where d is a power of
// two (AvgPool2d(2): (|s| + 2) >> 2), else a float division, exact here: for a = |s| + ⌊d/2⌋,
// a + d < 2^24 (|s| ≤ 128·d, d ≤ 2^16), a/d is an integer k or at least 1/d below k + 1, and
// float's rounding moves it by under (k + 1)·2^−24 ≤ 1/d, so the truncated quotient is k. The
// quotients are in [−128, 127]: no clamp.
constexpr int64_t uniform_max_divisor = 1 << 16, uniform_sums = 4096;
bool uniform_windows(const Pool2dAttrs& a, int64_t h, int64_t w, int64_t oh, int64_t ow) {
    const int64_t span = (ow - 1) * a.stride_w + a.kernel_w;  // columns read
    return oh > 0 && ow > 0 && a.pad_h == 0 && a.pad_w == 0 && (oh - 1) * a.stride_h + a.kernel_h <= h && span <= w &&
           int64_t(a.kernel_h) * a.kernel_w <= uniform_max_divisor && std::max(span, ow * a.stride_w) <= uniform_sums;
}

// c[j] = Σ_{i < kh} top[i·w + j] for j < n: vectors of 16, 8 or 4 columns, the last one moved
// back to end at n (rows are short: 28 and 10 columns in LeNet-5, where a loop vectorised for
// long rows would leave them to its scalar remainder). Loops of a constant count, each pass
// through memory: GCC leaves a count-16 loop kept in registers across a loop of rows scalar.
template <int width> void column_sums_at(const int8_t* top, int64_t w, int64_t kh, int64_t j, int32_t* c) {
    c += j, top += j;
    for (int k = 0; k < width; ++k) c[k] = top[k];
    for (int64_t i = 1; i < kh; ++i)
        for (int k = 0; k < width; ++k) c[k] += top[i * w + k];
}
void column_sums(const int8_t* top, int64_t w, int64_t kh, int64_t n, int32_t* c) {
    if (n >= 16) {
        for (int64_t j = 0; j + 16 <= n; j += 16) column_sums_at<16>(top, w, kh, j, c);
        if (n % 16) column_sums_at<16>(top, w, kh, n - 16, c);
    } else if (n >= 8) {
        column_sums_at<8>(top, w, kh, 0, c);
        if (n > 8) column_sums_at<8>(top, w, kh, n - 8, c);
    } else if (n >= 4) {
        column_sums_at<4>(top, w, kh, 0, c);
        if (n > 4) column_sums_at<4>(top, w, kh, n - 4, c);
    } else {
        for (int64_t j = 0; j < n; ++j) {
            c[j] = top[j];
            for (int64_t i = 1; i < kh; ++i) c[j] += top[i * w + j];
        }
    }
}

// Output rows [0, rows) of uniform windows, output row r reading input rows r·sh … r·sh + kh − 1
// of x: blocks of rows, each row's columns summed over the window's rows into `cols`, then
// those over the window's columns into `sums` — windows that do not overlap (kw ≤ sw) in one
// pass over the block, cols' rows being ow·sw long — then one division over the block. Sums stay
// in locals, so the loops know that the int8 stores alias none of them.
void avg_pool_uniform(const Pool2dAttrs a, const int8_t* x, int64_t w, int64_t rows, int64_t ow, int8_t* y) {
    const int64_t kh = a.kernel_h, kw = a.kernel_w, sh = a.stride_h, sw = a.stride_w, span = (ow - 1) * sw + kw;
    const bool apart = kw <= sw;
    const int64_t wc = apart ? ow * sw : span, block_rows = uniform_sums / wc;  // cols' row length; ≥ ow
    const int32_t d = int32_t(kh * kw), half = d / 2;
    const int shift = std::countr_zero(uint32_t(d));
    const float fd = float(d);
    int32_t cols[uniform_sums], sums[uniform_sums];
    int8_t out[uniform_sums];
    for (int64_t r0 = 0; r0 < rows; r0 += block_rows) {
        const int64_t r1 = std::min(rows, r0 + block_rows), n = (r1 - r0) * ow;
        for (int64_t r = r0; r < r1; ++r) {
            int32_t* c = cols + (r - r0) * wc;
            column_sums(x + r * sh * w, w, kh, span, c);
            if (apart) continue;
            int32_t* s = sums + (r - r0) * ow;
            if (sw == 1) {
                std::copy(c, c + ow, s);
                for (int64_t j = 1; j < kw; ++j)
                    for (int64_t q = 0; q < ow; ++q) s[q] += c[q + j];
            } else {
                for (int64_t q = 0; q < ow; ++q) {
                    int32_t t = 0;
                    for (int64_t j = 0; j < kw; ++j) t += c[q * sw + j];
                    s[q] = t;
                }
            }
        }
        if (apart && kw == 2 && sw == 2) {  // constant strides, in vectors
            for (int64_t i = 0; i < n; ++i) sums[i] = cols[2 * i] + cols[2 * i + 1];
        } else if (apart) {
            for (int64_t i = 0; i < n; ++i) {
                int32_t t = 0;
                for (int64_t j = 0; j < kw; ++j) t += cols[i * sw + j];
                sums[i] = t;
            }
        }
        if ((d & (d - 1)) == 0) {
            for (int64_t i = 0; i < n; ++i) {
                const int32_t m = (std::abs(sums[i]) + half) >> shift;
                out[i] = int8_t(sums[i] < 0 ? -m : m);
            }
        } else {
            for (int64_t i = 0; i < n; ++i) {
                const int32_t m = int32_t(float(std::abs(sums[i]) + half) / fd);
                out[i] = int8_t(sums[i] < 0 ? -m : m);
            }
        }
        std::memcpy(y + r0 * ow, out, size_t(n));
    }
}

// Other windows a row of outputs at a time: each output's window sum (int32, exact), then
// quantized.h's rounded division — in double, exact: a quotient at least 1/divisor from an integer
// stays so for divisors below 2^20 — and the clamp. Columns' windows are computed once per plane.
// Everything by value (see max_pool_plane). False when the row does not fit the stack buffers.
constexpr int64_t max_row = 1024;
bool avg_pool_plane(const Pool2dAttrs a, const int8_t* x, int32_t zero, int64_t h, int64_t w, int64_t oh, int64_t ow, int8_t* y) {
    if (ow > max_row || int64_t(a.kernel_h) * a.kernel_w >= (1 << 20)) return false;
    int32_t c0[max_row], c1[max_row], padded_cols[max_row], sum[max_row];
    for (int64_t q = 0; q < ow; ++q) {  // as PoolWindow: [x0, x1) in the padded row, then inside the plane
        const int64_t x0 = q * a.stride_w - a.pad_w, x1 = std::min<int64_t>(x0 + a.kernel_w, w + a.pad_w);
        padded_cols[q] = int32_t(x1 - x0), c0[q] = int32_t(std::max<int64_t>(x0, 0)), c1[q] = int32_t(std::min(x1, w));
    }
    for (int64_t r = 0; r < oh; ++r) {
        const int64_t y0 = r * a.stride_h - a.pad_h, y1 = std::min<int64_t>(y0 + a.kernel_h, h + a.pad_h);
        const int64_t r0 = std::max<int64_t>(y0, 0), r1 = std::min(y1, h);
        std::fill(sum, sum + ow, 0);
        for (int64_t yy = r0; yy < r1; ++yy) {
            const int8_t* row = x + yy * w;
            int64_t q = 0;
            if (a.kernel_w == 2 && a.stride_w == 2 && a.pad_w == 0)  // AvgPool2d(2): constant strides, in vectors
                for (; q < std::min(ow, w / 2); ++q) sum[q] += int32_t(row[2 * q]) + int32_t(row[2 * q + 1]);
            for (; q < ow; ++q)
                for (int32_t xx = c0[q]; xx < c1[q]; ++xx) sum[q] += row[xx];
        }
        for (int64_t q = 0; q < ow; ++q) {
            const int32_t inside = int32_t(r1 - r0) * (c1[q] - c0[q]);
            const int32_t count = a.count_include_pad ? int32_t(y1 - y0) * padded_cols[q] : inside;
            const int32_t total = sum[q] + (count - inside) * zero;
            const double mean = std::trunc(double(total > 0 ? total + count / 2 : total - count / 2) / double(count));
            y[r * ow + q] = int8_t(mean < -128.0 ? -128 : mean > 127.0 ? 127 : int32_t(mean));
        }
    }
    return true;
}

}  // namespace

void qavg_pool2d(const KernelCall& c, Context& ctx) {
    const Shape &xs = c.in[0].shape, &ys = c.out.shape;
    const int64_t h = xs[2], w = xs[3], oh = ys[2], ow = ys[3];
    const Pool2dAttrs& a = c.attrs->pool;
    const bool uniform = uniform_windows(a, h, w, oh, ow);
    // Where a plane's windows take all its rows, and no window two planes' (AvgPool2d(k) on a
    // multiple of k), a thread's planes are one image of their rows end to end: longer blocks.
    const bool joined = uniform && h == oh * a.stride_h && a.kernel_h <= a.stride_h;
    planes(ctx, xs[0] * xs[1], h * w * 2, [&](int, int64_t k0, int64_t k1) {
        if (joined) return avg_pool_uniform(a, c.in[0].as<int8_t>() + k0 * h * w, w, (k1 - k0) * oh, ow, c.out.as<int8_t>() + k0 * oh * ow);
        for (int64_t k = k0; k < k1; ++k) {
            const int8_t* x = c.in[0].as<int8_t>() + k * h * w;
            int8_t* y = c.out.as<int8_t>() + k * oh * ow;
            if (uniform) avg_pool_uniform(a, x, w, oh, ow, y);
            else if (!avg_pool_plane(a, x, c.attrs->quant.x_zero, h, w, oh, ow, y))
                quant::avg_pool2d(a, x, c.attrs->quant.x_zero, 1, h, w, oh, ow, y);
        }
    });
}

// The rest: quantized.h's loops over each thread's planes or elements.
void qmean(const KernelCall& c, Context& ctx) {
    const QuantAttrs& q = c.attrs->quant;
    const int64_t p = c.in[0].shape[c.in[0].shape.rank - 1];
    ctx.pool.parallel_for(c.out.numel(), per_chunk(p), [&](int64_t k0, int64_t k1) {
        quant::mean(c.in[0].as<int8_t>() + k0 * p, q.x_zero, k1 - k0, p, {q.m0[0], q.shift[0]}, q.y_zero, c.out.as<int8_t>() + k0);
    });
}
void dequantize(const KernelCall& c, Context& ctx) {
    const QuantAttrs& q = c.attrs->quant;
    const int8_t* x = c.in[0].as<int8_t>();
    float* y = c.out.as<float>();
    parallel_elements(ctx, c.out.numel(), [&](int64_t i) { y[i] = quant::dequantize(x[i], {q.scale, q.x_zero}); });
}

namespace {

// quant::quantize: round(double(x) / double(scale)) + the zero point, clamped to [lo, hi]: the
// same double operations in every variant (in lanes: one division, exact, as the reference's), so
// the same bits. std::round (ties away from zero) is trunc(v) ± 1 where |v − trunc(v)| ≥ 1/2 —
// the same for every double (v − trunc(v) is exact; trunc(v + 1/2) is not) — or NEON's frinta,
// which is std::round. NaN gives 0, the reference's int8_t(NaN) as compiled: x86's cvttsd2si
// gives INT32_MIN, whose low byte is 0, and AArch64's fcvtzs 0.
struct Quantizer {
    double scale, zero, lo, hi;
};
void quantize_generic(const float* x, int64_t n, Quantizer q, int8_t* y) {  // scalar: GCC vectorises no trunc (-ftrapping-math)
    for (int64_t i = 0; i < n; ++i) {
        const double v = double(x[i]) / q.scale, t = std::trunc(v);
        const double code = t + (std::fabs(v - t) >= 0.5 ? std::copysign(1.0, v) : 0.0) + q.zero;
        y[i] = int8_t(int32_t(code == code ? (code < q.lo ? q.lo : code > q.hi ? q.hi : code) : 0.0));
    }
}

// A 256-entry table of codes, looked up at x + 128.
void lookup_generic(const int8_t* table, const int8_t* x, int64_t n, int8_t* y) { quant::lookup(table, x, n, y); }

#ifdef KILN_INT8_X86
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12's avx512fintrin.h (its bug 105593)
#endif
// 8 lanes of doubles. The clamp's masks are both taken from the unclamped code, lo's last: as the
// reference's `code < lo ? lo : code > hi ? hi : code`.
KILN_TARGET_VNNI void quantize_avx512(const float* x, int64_t n, Quantizer q, int8_t* y) {
    const __m512d scale = _mm512_set1_pd(q.scale), zero = _mm512_set1_pd(q.zero), lo = _mm512_set1_pd(q.lo), hi = _mm512_set1_pd(q.hi);
    const __m512d half = _mm512_set1_pd(0.5), one = _mm512_set1_pd(1.0);
    for (int64_t i = 0; i < n; i += 8) {
        const __mmask8 lanes = n - i >= 8 ? __mmask8(0xFF) : __mmask8((1u << (n - i)) - 1);
        const __m512d v = _mm512_div_pd(_mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, x + i)), scale);
        __m512d t = _mm512_roundscale_pd(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        const __mmask8 away = _mm512_cmp_pd_mask(_mm512_abs_pd(_mm512_sub_pd(v, t)), half, _CMP_GE_OQ);
        const __mmask8 below = _mm512_cmp_pd_mask(v, _mm512_setzero_pd(), _CMP_LT_OQ);
        t = _mm512_mask_add_pd(t, away & __mmask8(~below), t, one);
        t = _mm512_mask_sub_pd(t, away & below, t, one);
        __m512d code = _mm512_add_pd(t, zero);
        const __mmask8 number = _mm512_cmp_pd_mask(code, code, _CMP_ORD_Q);
        const __mmask8 under = _mm512_cmp_pd_mask(code, lo, _CMP_LT_OQ), over = _mm512_cmp_pd_mask(code, hi, _CMP_GT_OQ);
        code = _mm512_mask_mov_pd(_mm512_mask_mov_pd(code, over, hi), under, lo);
        _mm_mask_storeu_epi8(y + i, lanes, _mm256_cvtepi32_epi8(_mm512_maskz_cvttpd_epi32(number, code)));
    }
}

// vpermi2b looks up 64 codes in a 128-byte table: an index's bit 6 picks one of two registers,
// bits 0…5 a byte there. x + 128's bit 7 is x's sign bit flipped and its low 7 bits are x's, so x
// itself indexes both halves of the table, and x's sign picks the half: entries 0…127 for x < 0.
KILN_TARGET_VBMI void lookup_vbmi(const int8_t* table, const int8_t* x, int64_t n, int8_t* y) {
    __m512i t[4];
    for (int k = 0; k < 4; ++k) t[k] = _mm512_loadu_si512(table + 64 * k);
    for (int64_t i = 0; i < n; i += 64) {
        const __mmask64 lanes = n - i >= 64 ? ~__mmask64(0) : (__mmask64(1) << (n - i)) - 1;
        const __m512i v = _mm512_maskz_loadu_epi8(lanes, x + i);
        const __m512i below = _mm512_permutex2var_epi8(t[0], v, t[1]), above = _mm512_permutex2var_epi8(t[2], v, t[3]);
        _mm512_mask_storeu_epi8(y + i, lanes, _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), above, below));
    }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// 4 lanes of doubles, as quantize_avx512 (blendv takes the last mask's lanes: lo's).
KILN_TARGET_AVX2 void quantize_avx2(const float* x, int64_t n, Quantizer q, int8_t* y) {
    const __m256d scale = _mm256_set1_pd(q.scale), zero = _mm256_set1_pd(q.zero), lo = _mm256_set1_pd(q.lo), hi = _mm256_set1_pd(q.hi);
    const __m256d half = _mm256_set1_pd(0.5), one = _mm256_set1_pd(1.0), sign = _mm256_set1_pd(-0.0);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const __m256d v = _mm256_div_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), scale);
        const __m256d t = _mm256_round_pd(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        const __m256d away = _mm256_cmp_pd(_mm256_andnot_pd(sign, _mm256_sub_pd(v, t)), half, _CMP_GE_OQ);
        const __m256d step = _mm256_and_pd(away, _mm256_or_pd(one, _mm256_and_pd(sign, v)));  // ±1 with v's sign, or 0
        __m256d code = _mm256_add_pd(_mm256_add_pd(t, step), zero);
        const __m256d number = _mm256_cmp_pd(code, code, _CMP_ORD_Q);
        const __m256d under = _mm256_cmp_pd(code, lo, _CMP_LT_OQ), over = _mm256_cmp_pd(code, hi, _CMP_GT_OQ);
        code = _mm256_and_pd(_mm256_blendv_pd(_mm256_blendv_pd(code, hi, over), lo, under), number);  // NaN: +0
        const __m128i ints = _mm256_cvttpd_epi32(code);
        const __m128i words = _mm_packs_epi32(ints, ints);  // in [lo, hi]: no saturation
        const int32_t codes = _mm_cvtsi128_si32(_mm_packs_epi16(words, words));
        std::memcpy(y + i, &codes, 4);
    }
    quantize_generic(x + i, n - i, q, y + i);
}
#endif  // KILN_INT8_X86

#ifdef KILN_INT8_A64
// 2 lanes of doubles, 8 codes a step; frinta rounds as std::round, fcvtzs turns NaN into 0.
void quantize_neon(const float* x, int64_t n, Quantizer q, int8_t* y) {
    const float64x2_t scale = vdupq_n_f64(q.scale), zero = vdupq_n_f64(q.zero), lo = vdupq_n_f64(q.lo), hi = vdupq_n_f64(q.hi);
    auto two = [&](float32x2_t f) {
        const float64x2_t code = vaddq_f64(vrndaq_f64(vdivq_f64(vcvt_f64_f32(f), scale)), zero);
        const uint64x2_t under = vcltq_f64(code, lo), over = vcgtq_f64(code, hi);
        return vmovn_s64(vcvtq_s64_f64(vbslq_f64(under, lo, vbslq_f64(over, hi, code))));
    };
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + 4);
        const int32x4_t ints0 = vcombine_s32(two(vget_low_f32(a)), two(vget_high_f32(a)));
        const int32x4_t ints1 = vcombine_s32(two(vget_low_f32(b)), two(vget_high_f32(b)));
        vst1_s8(y + i, vmovn_s16(vcombine_s16(vmovn_s32(ints0), vmovn_s32(ints1))));  // in [lo, hi]: exact
    }
    quantize_generic(x + i, n - i, q, y + i);
}

// tbl looks up 16 codes in a 64-byte table (4 registers) and gives 0 for indices past it; tbx
// leaves those lanes as they were. So: the table's quarters, each at x + 128 less its start.
void lookup_neon(const int8_t* table, const int8_t* x, int64_t n, int8_t* y) {
    int8x16x4_t t[4];
    for (int k = 0; k < 4; ++k)
        for (int j = 0; j < 4; ++j) t[k].val[j] = vld1q_s8(table + 64 * k + 16 * j);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const uint8x16_t at = veorq_u8(vreinterpretq_u8_s8(vld1q_s8(x + i)), vdupq_n_u8(0x80));  // x + 128
        int8x16_t v = vqtbl4q_s8(t[0], at);
        v = vqtbx4q_s8(v, t[1], vsubq_u8(at, vdupq_n_u8(64)));
        v = vqtbx4q_s8(v, t[2], vsubq_u8(at, vdupq_n_u8(128)));
        vst1q_s8(y + i, vqtbx4q_s8(v, t[3], vsubq_u8(at, vdupq_n_u8(192))));
    }
    quant::lookup(table, x + i, n - i, y + i);
}
#endif  // KILN_INT8_A64

}  // namespace

// quantize and qlookup in `isa`'s instructions (the generic loop where it cannot run). qlookup's
// vpermi2b comes with vnni, where the CPU also has AVX-512 VBMI (Ice Lake, Zen 4 and later).
void quantize_with(Int8Isa isa, const KernelCall& c, Context& ctx) {
    const QuantAttrs& a = c.attrs->quant;
    const Quantizer q{double(a.scale), double(a.y_zero), double(a.lo), double(a.hi)};
    void (*run)(const float*, int64_t, Quantizer, int8_t*) = quantize_generic;
    if (!int8_isa_missing(isa)) {
#ifdef KILN_INT8_X86
        if (isa == Int8Isa::vnni) run = quantize_avx512;
        if (isa == Int8Isa::avx2) run = quantize_avx2;
#endif
#ifdef KILN_INT8_A64
        if (isa == Int8Isa::neon || isa == Int8Isa::sdot) run = quantize_neon;
#endif
    }
    const float* x = c.in[0].as<float>();
    int8_t* y = c.out.as<int8_t>();
    elementwise(ctx, c.out.numel(), [&](int64_t at, int64_t n) { run(x + at, n, q, y + at); });
}
void qlookup_with(Int8Isa isa, const KernelCall& c, Context& ctx) {
    void (*run)(const int8_t*, const int8_t*, int64_t, int8_t*) = lookup_generic;
    if (!int8_isa_missing(isa)) {
#ifdef KILN_INT8_X86
        if (isa == Int8Isa::vnni && __builtin_cpu_supports("avx512vbmi")) run = lookup_vbmi;
#endif
#ifdef KILN_INT8_A64
        if (isa == Int8Isa::neon || isa == Int8Isa::sdot) run = lookup_neon;
#endif
    }
    const int8_t *table = c.in[1].as<int8_t>(), *x = c.in[0].as<int8_t>();
    int8_t* y = c.out.as<int8_t>();
    elementwise(ctx, c.out.numel(), [&](int64_t at, int64_t n) { run(table, x + at, n, y + at); });
}
void quantize(const KernelCall& c, Context& ctx) { quantize_with(int8_isa(), c, ctx); }
void qlookup(const KernelCall& c, Context& ctx) { qlookup_with(int8_isa(), c, ctx); }

}  // namespace kiln::cpu::simd
