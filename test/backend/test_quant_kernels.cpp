// The CPU backend's fast int8 qconv2d and qlinear (backend/cpu/simd/quantized.cpp) against the
// integer reference kernels, byte for byte, in every instruction-set variant this CPU runs (the
// others are reported as skipped, with the reason): random geometries (odd channel counts, C not a
// multiple of 4, 1×1 to 5×5 and non-square kernels, strides 1–3, padding, dilation, batch 1 and
// more, on 1 and 3 threads: whole images per thread and images shared by the threads), extreme
// codes and zero points, sums near the int32 limit (65,536 products, the graph's cap), and
// multipliers and sums over their whole ranges for the requantization. Each run checks the guard
// bytes around the output and the scratch (the kernel's scratch size must be enough), and that the
// fast kernel ran where it has scratch (it writes there; the reference does not). Then the other
// int8 ops through the fast table, and quantize and qlookup in every variant too: quantize on the
// values where rounding and the clamp could go astray (ties, their neighbours, ±inf, NaN,
// denormals, huge values, any bit pattern), average pooling on windows of every sum.
#define BOOST_TEST_MODULE quant_kernels
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kiln/backend/cpu/simd/common.h"
#include "kiln/backend/reference/quantized.h"
#include "kiln/backend/reference/kernels.h"
#include "quick.h"

using namespace kiln;
using cpu::simd::Int8Isa;

namespace {

constexpr Int8Isa all_isas[] = {Int8Isa::generic, Int8Isa::avx2, Int8Isa::vnni, Int8Isa::neon, Int8Isa::sdot};
constexpr size_t guard = 64;
constexpr uint8_t sentinel = 0xA5;

// The variants this CPU runs, reported once.
const std::vector<Int8Isa>& runnable() {
    static const std::vector<Int8Isa> isas = [] {
        std::vector<Int8Isa> v;
        for (Int8Isa isa : all_isas) {
            if (const char* why = cpu::simd::int8_isa_missing(isa)) {
                std::printf("int8 variant %-7s skipped: %s\n", cpu::simd::int8_isa_name(isa), why);
                continue;
            }
            std::printf("int8 variant %-7s runs\n", cpu::simd::int8_isa_name(isa));
            v.push_back(isa);
        }
        std::printf("int8 variant chosen at run time: %s\n", cpu::simd::int8_isa_name(cpu::simd::int8_isa()));
        return v;
    }();
    return isas;
}

struct Machine {  // a CPU backend's context on `threads` threads
    ThreadPool pool;
    cpu::Gemm gemm;
    explicit Machine(int threads) : pool(threads), gemm(pool) {}
    cpu::Context context() { return {pool, gemm}; }
};
Machine& machine(int threads) {
    static Machine one(1), three(3);
    return threads == 1 ? one : three;
}

// One qconv2d or qlinear call and its data.
struct Call {
    Op op;
    Attrs attrs;
    Shape xs, ws, ys;
    std::vector<int8_t> x, w;
    std::vector<int32_t> bias, mult;
    std::string what;

    KernelCall kernel_call(void* y, void* scratch) {
        KernelCall c{};
        c.op = op;
        c.attrs = &attrs;
        c.out = {y, DType::i8, ys};
        c.in[0] = {x.data(), DType::i8, xs};
        c.in[1] = {w.data(), DType::i8, ws};
        c.in[2] = {bias.data(), DType::i32, Shape{ws[0]}};
        c.in[3] = {mult.data(), DType::i32, Shape{ws[0], 2}};
        c.n_in = 4;
        c.scratch = scratch;
        return c;
    }
};

std::vector<int8_t> run_reference(Call& call) {
    std::vector<int8_t> y(size_t(call.ys.numel()));
    const KernelCall c = call.kernel_call(y.data(), nullptr);
    reference::kernels[static_cast<int>(call.op)](c);
    return y;
}

bool untouched(const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (p[i] != sentinel) return false;
    return true;
}

// The fast kernel of `isa` on `threads` threads, with guard bytes around the output and scratch.
std::vector<int8_t> run_fast(Int8Isa isa, Call& call, int threads) {
    const size_t out_bytes = size_t(call.ys.numel());
    const size_t scratch_bytes = call.op == Op::qconv2d
                                     ? cpu::simd::qconv2d_scratch_bytes(isa, ConvGeom(call.xs, call.ws, call.attrs.conv), threads)
                                     : cpu::simd::qlinear_scratch_bytes(isa, call.xs[0], call.xs[1], call.ws[0]);
    std::vector<uint8_t> out(out_bytes + 2 * guard, sentinel), scratch(scratch_bytes + 2 * guard, sentinel);
    const KernelCall c = call.kernel_call(out.data() + guard, scratch.data() + guard);
    cpu::Context ctx = machine(threads).context();
    if (call.op == Op::qconv2d)
        cpu::simd::qconv2d_with(isa, c, ctx);
    else
        cpu::simd::qlinear_with(isa, c, ctx);
    BOOST_TEST(untouched(out.data(), guard), call.what << ": wrote before its output");
    BOOST_TEST(untouched(out.data() + guard + out_bytes, guard), call.what << ": wrote past its output");
    BOOST_TEST(untouched(scratch.data(), guard), call.what << ": wrote before its scratch");
    BOOST_TEST(untouched(scratch.data() + guard + scratch_bytes, guard),
               call.what << ": wrote past its " << scratch_bytes << " bytes of scratch");
    if (scratch_bytes > 0) BOOST_TEST(!untouched(scratch.data() + guard, scratch_bytes), call.what << ": the fast kernel did not run");
    return {reinterpret_cast<int8_t*>(out.data() + guard), reinterpret_cast<int8_t*>(out.data() + guard + out_bytes)};
}

// Every runnable variant on 1 and 3 threads gives the reference's bytes; the first difference is reported.
int compare_all(Call& call) {
    const std::vector<int8_t> want = run_reference(call);
    int runs = 0;
    for (Int8Isa isa : runnable())
        for (int threads : {1, 3}) {
            const std::vector<int8_t> got = run_fast(isa, call, threads);
            size_t i = 0;
            while (i < want.size() && got[i] == want[i]) ++i;
            BOOST_TEST(i == want.size(), call.what << " [" << cpu::simd::int8_isa_name(isa) << ", " << threads << " threads]: output " << i
                                                   << " is " << int(i < got.size() ? got[i] : 0) << ", the reference's "
                                                   << int(i < want.size() ? want[i] : 0));
            ++runs;
        }
    return runs;
}

// Codes: uniform, or only the extremes.
struct Codes {
    std::mt19937& gen;
    std::vector<int8_t> uniform(int64_t n, int lo = -128, int hi = 127) {
        std::uniform_int_distribution<int> d(lo, hi);
        std::vector<int8_t> v(static_cast<size_t>(n));
        for (int8_t& c : v) c = int8_t(d(gen));
        return v;
    }
    std::vector<int8_t> extremes(int64_t n, const std::vector<int>& values) {
        std::uniform_int_distribution<size_t> d(0, values.size() - 1);
        std::vector<int8_t> v(static_cast<size_t>(n));
        for (int8_t& c : v) c = int8_t(values[d(gen)]);
        return v;
    }
};

// Per-channel multipliers as the exporter makes them (M0 in [2^30, 2^31), shift a few powers
// down), scaled so that most outputs land inside the int8 range: sums of k products of ~64·64.
std::vector<int32_t> multipliers(std::mt19937& gen, int64_t o, int64_t k) {
    std::uniform_int_distribution<int32_t> m0(1 << 30, INT32_MAX);
    const int base = -int(std::log2(64.0 * 64.0 * std::sqrt(double(k)) / 64.0)) - 1;
    std::uniform_int_distribution<int> jitter(-2, 1);
    std::vector<int32_t> m(size_t(2 * o));
    for (int64_t i = 0; i < o; ++i) m[size_t(2 * i)] = m0(gen), m[size_t(2 * i + 1)] = std::max(-31, std::min(30, base + jitter(gen)));
    return m;
}

Call conv_call(std::mt19937& gen, Shape xs, Shape ws, Conv2dAttrs a, int32_t x_zero, bool relu) {
    Call c{Op::qconv2d, {}, xs, ws, {}, {}, {}, {}, {}, {}};
    c.attrs.conv = a;
    const ConvGeom g(xs, ws, a);
    c.ys = Shape{g.n, g.o, g.oh, g.ow};
    Codes codes{gen};
    c.x = codes.uniform(xs.numel());
    c.w = codes.uniform(ws.numel(), -127, 127);
    c.bias = std::vector<int32_t>(size_t(ws[0]));
    std::uniform_int_distribution<int32_t> b(-20000, 20000);
    for (int32_t& v : c.bias) v = b(gen);
    c.mult = multipliers(gen, ws[0], g.k());
    c.attrs.quant.x_zero = x_zero;
    c.attrs.quant.y_zero = std::uniform_int_distribution<int>(-20, 20)(gen);
    c.attrs.quant.lo = relu ? c.attrs.quant.y_zero : -128;
    c.what = "qconv2d x" + xs.str() + " w" + ws.str() + " stride " + std::to_string(a.stride_h) + "x" + std::to_string(a.stride_w) +
             " pad " + std::to_string(a.pad_h) + "x" + std::to_string(a.pad_w) + " dil " + std::to_string(a.dil_h) + "x" +
             std::to_string(a.dil_w) + " x_zero " + std::to_string(x_zero);
    return c;
}

Call linear_call(std::mt19937& gen, int64_t n, int64_t k, int64_t o, int32_t x_zero) {
    Call c{Op::qlinear, {}, Shape{n, k}, Shape{o, k}, Shape{n, o}, {}, {}, {}, {}, {}};
    Codes codes{gen};
    c.x = codes.uniform(n * k);
    c.w = codes.uniform(o * k, -127, 127);
    c.bias = std::vector<int32_t>(size_t(o));
    std::uniform_int_distribution<int32_t> b(-20000, 20000);
    for (int32_t& v : c.bias) v = b(gen);
    c.mult = multipliers(gen, o, k);
    c.attrs.quant.x_zero = x_zero;
    c.attrs.quant.y_zero = std::uniform_int_distribution<int>(-20, 20)(gen);
    c.what = "qlinear [" + std::to_string(n) + "," + std::to_string(k) + "] -> " + std::to_string(o) + " x_zero " + std::to_string(x_zero);
    return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_portable_variant_always_runs) {
    BOOST_TEST(cpu::simd::int8_isa_missing(Int8Isa::generic) == nullptr);
    BOOST_TEST(cpu::simd::int8_isa_missing(cpu::simd::int8_isa()) == nullptr);
    BOOST_TEST(!runnable().empty());
}

BOOST_AUTO_TEST_CASE(qconv2d_random_geometries_match_the_reference) {
    std::mt19937 gen(15);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
    const int cases = testing::full_or_quick(300, 60, "60 random qconv2d geometries, not 300");
    int runs = 0;
    for (int i = 0; i < cases; ++i) {
        const int kernels[] = {1, 1, 2, 3, 3, 3, 5};
        int kh = kernels[pick(0, 6)], kw = pick(0, 3) == 0 ? kernels[pick(0, 6)] : kh;  // a quarter not square
        Conv2dAttrs a{};
        a.stride_h = pick(1, 3) == 3 ? pick(1, 3) : pick(1, 2), a.stride_w = pick(0, 3) == 0 ? pick(1, 3) : a.stride_h;
        a.dil_h = pick(0, 5) == 0 ? 2 : 1, a.dil_w = pick(0, 5) == 0 ? 2 : a.dil_h;
        a.pad_h = pick(0, 2), a.pad_w = pick(0, 3) == 0 ? pick(0, 2) : a.pad_h;
        const int64_t n = pick(1, 4), c = pick(0, 2) == 0 ? pick(1, 5) : pick(1, 21), o = pick(1, 21);
        const int64_t h = pick(std::max(1, (kh - 1) * a.dil_h + 1 - 2 * a.pad_h), 20),
                      w = pick(std::max(1, (kw - 1) * a.dil_w + 1 - 2 * a.pad_w), 20);
        const int32_t zeros[] = {-128, 127, 0, -7, 33};
        Call call = conv_call(gen, Shape{n, c, h, w}, Shape{o, c, kh, kw}, a, zeros[pick(0, 4)], pick(0, 1) == 1);
        runs += compare_all(call);
    }
    std::printf("qconv2d: %d random geometries, %d fast runs\n", cases, runs);
}

BOOST_AUTO_TEST_CASE(qconv2d_resnet_mini_shapes_match_the_reference) {
    std::mt19937 gen(16);
    struct Layer {
        Shape x, w;
        Conv2dAttrs a;
    };
    const Conv2dAttrs same{.pad_h = 1, .pad_w = 1}, down{.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1},
        shortcut{.stride_h = 2, .stride_w = 2};
    const Layer layers[] = {{{2, 1, 28, 28}, {16, 1, 3, 3}, same},   {{5, 16, 28, 28}, {16, 16, 3, 3}, same},
                            {{1, 16, 28, 28}, {32, 16, 3, 3}, down}, {{4, 16, 28, 28}, {32, 16, 1, 1}, shortcut},
                            {{3, 32, 14, 14}, {32, 32, 3, 3}, same}, {{2, 32, 14, 14}, {64, 32, 3, 3}, down},
                            {{3, 64, 7, 7}, {64, 64, 3, 3}, same},   {{1, 6, 14, 14}, {16, 6, 5, 5}, {}}};
    for (const Layer& l : layers) {
        Call call = conv_call(gen, l.x, l.w, l.a, -3, true);
        compare_all(call);
    }
}

BOOST_AUTO_TEST_CASE(qlinear_random_shapes_match_the_reference) {
    std::mt19937 gen(17);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
    const int cases = testing::full_or_quick(150, 40, "40 random qlinear shapes, not 150");
    for (int i = 0; i < cases; ++i) {
        const int64_t n = pick(0, 3) == 0 ? pick(1, 3) : pick(1, 400), k = pick(0, 1) ? pick(1, 40) : pick(1, 1000), o = pick(1, 40);
        const int32_t zeros[] = {-128, 127, 0, 11};
        Call call = linear_call(gen, n, k, o, zeros[pick(0, 3)]);
        compare_all(call);
    }
}

// Codes only at the ends of their ranges, x_zero at both ends: the largest products and the
// u8 codes 0 and 255 of the VNNI path (x_zero + 128 = 0 or 255 in the padding).
BOOST_AUTO_TEST_CASE(extreme_codes_and_zero_points_match_the_reference) {
    std::mt19937 gen(18);
    Codes codes{gen};
    for (int32_t x_zero : {-128, 127})
        for (int trial = 0; trial < 3; ++trial) {
            Call conv = conv_call(gen, Shape{3, 7, 9, 11}, Shape{10, 7, 3, 3},
                                  {.stride_h = 1 + trial % 2, .stride_w = 1, .pad_h = 2, .pad_w = 1}, x_zero, false);
            conv.x = codes.extremes(conv.xs.numel(), {-128, 127});
            conv.w = codes.extremes(conv.ws.numel(), {-128, -127, 127});
            compare_all(conv);
            Call linear = linear_call(gen, 37, 203, 11, x_zero);
            linear.x = codes.extremes(linear.xs.numel(), {-128, 127});
            linear.w = codes.extremes(linear.ws.numel(), {-128, -127, 127});
            compare_all(linear);
        }
}

// 65,536 products per output, the graph's cap, each ±255·128: the sums reach ±2^31·0.996, in
// int32 on every path (the VNNI path's u8 sums and its correction included).
BOOST_AUTO_TEST_CASE(sums_near_the_int32_limit_match_the_reference) {
    std::mt19937 gen(19);
    for (int sign : {-1, 1}) {
        Call linear = linear_call(gen, 3, 65536, 9, -128);
        std::fill(linear.x.begin(), linear.x.end(), int8_t(127));  // x − x_zero = 255
        std::fill(linear.w.begin(), linear.w.end(), int8_t(sign < 0 ? -128 : 127));
        linear.w[5] = 0;  // one channel's sum stays far from the limit
        std::fill(linear.bias.begin(), linear.bias.end(), 0);
        for (int64_t o = 0; o < 9; ++o) linear.mult[size_t(2 * o)] = 1 << 30, linear.mult[size_t(2 * o + 1)] = -24 + int(o);
        compare_all(linear);
        // C·kh·kw = 65,536 (4,096 channels of 4×4) and 65,529 (7,281 of 3×3: C not a multiple of 4).
        for (const Shape& ws : {Shape{3, 4096, 4, 4}, Shape{2, 7281, 3, 3}}) {
            Call conv = conv_call(gen, Shape{1, ws[1], 5, 5}, ws, {}, -128, false);
            std::fill(conv.x.begin(), conv.x.end(), int8_t(127));
            std::fill(conv.w.begin(), conv.w.end(), int8_t(sign < 0 ? -128 : 127));
            std::fill(conv.bias.begin(), conv.bias.end(), 0);
            for (int64_t o = 0; o < ws[0]; ++o) conv.mult[size_t(2 * o)] = 1 << 30, conv.mult[size_t(2 * o + 1)] = -24;
            compare_all(conv);
        }
    }
}

// The requantization on sums over the whole int32 range (the bias, plus a small dot product) and
// multipliers over theirs: any M0 — INT32_MIN's saturating product, 0, negative — and shifts from
// −31 to 31, with left shifts that wrap, as quant::multiply does.
BOOST_AUTO_TEST_CASE(requantization_matches_over_whole_ranges) {
    std::mt19937 gen(20);
    std::uniform_int_distribution<int32_t> any(INT32_MIN, INT32_MAX);
    std::uniform_int_distribution<int> shift(-31, 31);
    for (int trial = 0; trial < 20; ++trial) {
        Call linear = linear_call(gen, 203, 3, 24, 5);
        for (int32_t& b : linear.bias) b = trial % 2 ? any(gen) : std::uniform_int_distribution<int32_t>(-70000, 70000)(gen);
        for (size_t o = 0; o < 24; ++o) {
            // INT32_MIN with a left shift of 31 meets INT32_MIN (every odd sum): the saturating product.
            const int32_t special[][2] = {{INT32_MIN, 0}, {INT32_MIN, 31}, {0, -1}, {-5, -2}, {INT32_MAX, -3}, {1 << 30, -4}};
            linear.mult[2 * o] = o < 6       ? special[o][0]
                                 : trial % 3 ? std::uniform_int_distribution<int32_t>(1 << 30, INT32_MAX)(gen)
                                             : any(gen);
            linear.mult[2 * o + 1] = o < 6 ? special[o][1] : trial % 4 == 0 ? shift(gen) : std::uniform_int_distribution<int>(-20, 2)(gen);
        }
        // y_zero 0 in some: the saturated INT32_MAX then stays apart from INT32_MIN at the clamp.
        linear.attrs.quant.y_zero = trial % 3 == 0 ? 0 : std::uniform_int_distribution<int>(-128, 127)(gen);
        linear.attrs.quant.lo = std::uniform_int_distribution<int>(-128, linear.attrs.quant.y_zero)(gen);
        linear.attrs.quant.hi = std::uniform_int_distribution<int>(linear.attrs.quant.y_zero, 127)(gen);
        compare_all(linear);
    }
}

// --- the other int8 ops: the fast table's kernels (one variant each) against the reference ---

namespace {

struct Buffer {
    DType dtype;
    Shape shape;
    std::vector<uint8_t> bytes;
};
Buffer codes_of(std::mt19937& gen, Shape s, int lo = -128, int hi = 127) {
    Buffer b{DType::i8, s, std::vector<uint8_t>(size_t(s.numel()))};
    std::uniform_int_distribution<int> d(lo, hi);
    for (uint8_t& c : b.bytes) c = uint8_t(int8_t(d(gen)));
    return b;
}

// A fast kernel other than the table's: one variant of it.
using FastKernel = std::function<void(const KernelCall&, cpu::Context&)>;

// Output bytes of op on `in`: reference::kernels (threads 0) or `fast` (by default cpu::fast_kernels')
// on 1 or 3 threads, with guard bytes around the output and the scratch; in_place: the output is
// in[0]'s buffer.
std::vector<uint8_t> run_op(Op op, const Attrs& attrs, std::vector<Buffer> in, const Shape& out_shape, DType out_dtype, int threads,
                            bool in_place, const std::string& what, const FastKernel& fast = {}) {
    const size_t out_bytes = size_t(out_shape.numel()) * dtype_size(out_dtype);
    std::vector<uint8_t> out(out_bytes + 2 * guard, sentinel);
    if (in_place) std::copy(in[0].bytes.begin(), in[0].bytes.end(), out.begin() + guard);
    KernelCall c{};
    c.op = op;
    c.attrs = &attrs;
    c.out = {out.data() + guard, out_dtype, out_shape};
    c.n_in = int(in.size());
    for (size_t i = 0; i < in.size(); ++i)
        c.in[i] = {in_place && i == 0 ? out.data() + guard : in[i].bytes.data(), in[i].dtype, in[i].shape};
    if (threads == 0) {
        reference::kernels[static_cast<int>(op)](c);
    } else {
        BOOST_REQUIRE(cpu::fast_kernels[static_cast<int>(op)] != nullptr);
        const size_t scratch_bytes = cpu::fast_scratch_bytes(c, threads);
        std::vector<uint8_t> scratch(scratch_bytes + 2 * guard, sentinel);
        c.scratch = scratch.data() + guard;
        cpu::Context ctx = machine(threads).context();
        if (fast) fast(c, ctx);
        else cpu::fast_kernels[static_cast<int>(op)](c, ctx);
        BOOST_TEST((untouched(scratch.data(), guard) && untouched(scratch.data() + guard + scratch_bytes, guard)),
                   what << ": wrote outside its scratch");
    }
    BOOST_TEST((untouched(out.data(), guard) && untouched(out.data() + guard + out_bytes, guard)), what << ": wrote outside its output");
    return {out.begin() + guard, out.begin() + guard + std::ptrdiff_t(out_bytes)};
}

// The fast kernel on 1 and 3 threads (and in place where the op may run so) gives the reference's bytes.
void compare_op(Op op, const Attrs& attrs, const std::vector<Buffer>& in, const Shape& out_shape, DType out_dtype,
                const std::string& what, const FastKernel& fast = {}) {
    const bool may_be_in_place = op_info(op).in_place();
    const std::vector<uint8_t> want = run_op(op, attrs, in, out_shape, out_dtype, 0, false, what);
    for (int threads : {1, 3})
        for (bool in_place : {false, true}) {
            if (in_place && !may_be_in_place) continue;
            const std::vector<uint8_t> got = run_op(op, attrs, in, out_shape, out_dtype, threads, in_place, what, fast);
            size_t i = 0;
            while (i < want.size() && got[i] == want[i]) ++i;
            BOOST_TEST(i == want.size(), what << " [" << threads << " threads" << (in_place ? ", in place" : "") << "]: byte " << i
                                              << " is " << int(i < got.size() ? int8_t(got[i]) : 0) << ", the reference's "
                                              << int(i < want.size() ? int8_t(want[i]) : 0));
        }
}

// compare_op for the table's kernel and for each variant this CPU runs (op_with: quantize_with or qlookup_with).
void compare_variants(Op op, void (*op_with)(Int8Isa, const KernelCall&, cpu::Context&), const Attrs& attrs, const std::vector<Buffer>& in,
                      const Shape& out_shape, DType out_dtype, const std::string& what) {
    compare_op(op, attrs, in, out_shape, out_dtype, what);
    for (Int8Isa isa : runnable())
        compare_op(op, attrs, in, out_shape, out_dtype, what + " [" + cpu::simd::int8_isa_name(isa) + "]",
                   [isa, op_with](const KernelCall& c, cpu::Context& ctx) { op_with(isa, c, ctx); });
}

Buffer floats_of(const std::vector<float>& v) {
    Buffer b{DType::f32, Shape{int64_t(v.size())}, std::vector<uint8_t>(v.size() * 4)};
    std::memcpy(b.bytes.data(), v.data(), b.bytes.size());
    return b;
}

}  // namespace

BOOST_AUTO_TEST_CASE(pooling_matches_the_reference) {
    std::mt19937 gen(21);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
    const int cases = testing::full_or_quick(200, 50, "50 random pooling geometries, not 200");
    for (int i = 0; i < cases; ++i) {
        Pool2dAttrs a;
        a.kernel_h = pick(1, 4), a.kernel_w = pick(0, 2) ? a.kernel_h : pick(1, 4);
        a.stride_h = pick(0, 2) ? 1 : pick(1, 3), a.stride_w = pick(0, 2) ? a.stride_h : pick(1, 3);
        if (pick(0, 3) == 0) a.stride_h = a.kernel_h, a.stride_w = a.kernel_w;  // MaxPool2d(k)
        a.pad_h = pick(0, a.kernel_h / 2), a.pad_w = pick(0, a.kernel_w / 2);
        a.ceil_mode = pick(0, 2) == 0, a.count_include_pad = pick(0, 1) == 1;
        const Shape xs{pick(1, 3), pick(1, 5), pick(1, 30), pick(1, 30)};
        const int64_t oh = window_out_size(xs[2], a.kernel_h, a.stride_h, a.pad_h, 1, a.ceil_mode);
        const int64_t ow = window_out_size(xs[3], a.kernel_w, a.stride_w, a.pad_w, 1, a.ceil_mode);
        if (oh < 1 || ow < 1) continue;
        Attrs attrs;
        attrs.pool = a;
        attrs.quant.x_zero = pick(-128, 127);
        // Often all −128 near the edges: the padding's stand-in must not be confused with a code.
        const Buffer x = codes_of(gen, xs, pick(0, 3) == 0 ? -128 : -128, pick(0, 3) == 0 ? -120 : 127);
        const std::string what = "pool " + xs.str() + " kernel " + std::to_string(a.kernel_h) + "x" + std::to_string(a.kernel_w) +
                                 " stride " + std::to_string(a.stride_h) + "x" + std::to_string(a.stride_w) + " pad " +
                                 std::to_string(a.pad_h) + "x" + std::to_string(a.pad_w) + (a.ceil_mode ? " ceil" : "");
        compare_op(Op::qmax_pool2d, attrs, {x}, Shape{xs[0], xs[1], oh, ow}, DType::i8, "qmax_" + what);
        compare_op(Op::qavg_pool2d, attrs, {x}, Shape{xs[0], xs[1], oh, ow}, DType::i8, "qavg_" + what);
    }
}

// TensorFlow Lite's add with realistic scales, and with any multipliers (those the vector path
// does not take fall back to the reference's arithmetic).
BOOST_AUTO_TEST_CASE(qadd_matches_the_reference) {
    std::mt19937 gen(22);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
    std::uniform_real_distribution<float> scale(0.001f, 0.2f);
    for (int i = 0; i < 60; ++i) {
        const Shape s{pick(1, 3), pick(1, 17), pick(1, 30), pick(1, 30)};
        Attrs attrs;
        QuantAttrs& q = attrs.quant;
        const bool relu = pick(0, 1) == 1;
        const quant::AddParams p =
            quant::add_params({scale(gen), pick(-128, 127)}, {scale(gen), pick(-128, 127)}, {scale(gen), pick(-128, 127)}, relu);
        q.x_zero = p.a_zero, q.b_zero = p.b_zero, q.y_zero = p.y_zero, q.lo = p.lo, q.hi = p.hi;
        q.m0[0] = p.a.m0, q.shift[0] = p.a.shift, q.m0[1] = p.b.m0, q.shift[1] = p.b.shift, q.m0[2] = p.y.m0, q.shift[2] = p.y.shift;
        if (i % 4 == 3) {  // any multipliers
            const int32_t special[] = {INT32_MIN, 0, INT32_MAX, 1 << 30};
            for (int k = 0; k < 3; ++k)
                q.m0[k] = pick(0, 3) == 0 ? special[pick(0, 3)] : std::uniform_int_distribution<int32_t>(INT32_MIN, INT32_MAX)(gen),
                q.shift[k] = pick(-31, k == 2 ? 31 : 10);
        }
        if (i % 4 == 1) {  // halves: (a − a_zero)/2 and the sum/2 round their ties, away from zero and up
            q.m0[0] = q.m0[1] = q.m0[2] = 1 << 30, q.shift[0] = q.shift[1] = -20, q.shift[2] = -pick(1, 3);
        }
        if (i % 8 == 2) {  // (−128 − 0)·2^20 shifted left by 4 is INT32_MIN: with M0 = INT32_MIN, the saturating product
            q.x_zero = 0, q.m0[0] = INT32_MIN, q.shift[0] = 4, q.m0[1] = 0;
        }
        compare_op(Op::qadd, attrs, {codes_of(gen, s), codes_of(gen, s)}, s, DType::i8, "qadd " + s.str() + " case " + std::to_string(i));
    }
}

BOOST_AUTO_TEST_CASE(mean_quantize_dequantize_and_lookup_match_the_reference) {
    std::mt19937 gen(23);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
    for (int i = 0; i < 30; ++i) {
        const Shape s{pick(1, 40), pick(1, 70), pick(1, 200)};
        Attrs attrs;
        attrs.quant.x_zero = pick(-128, 127), attrs.quant.y_zero = pick(-128, 127);
        const quant::Multiplier m = quant::mean_multiplier(0.05f, s[2], std::uniform_real_distribution<float>(0.01f, 0.1f)(gen));
        attrs.quant.m0[0] = m.m0, attrs.quant.shift[0] = m.shift;
        compare_op(Op::qmean, attrs, {codes_of(gen, s)}, Shape{s[0], s[1]}, DType::i8, "qmean " + s.str());
        attrs.quant.scale = std::uniform_real_distribution<float>(0.001f, 0.5f)(gen);
        compare_op(Op::dequantize, attrs, {codes_of(gen, s)}, s, DType::f32, "dequantize " + s.str());
        Buffer x{DType::f32, s, std::vector<uint8_t>(size_t(s.numel()) * 4)};
        for (int64_t k = 0; k < s.numel(); ++k) {  // ties of the rounding (k/2 · scale) among them
            const float v =
                k % 5 == 0 ? attrs.quant.scale * float(pick(-300, 300)) / 2.0f : std::uniform_real_distribution<float>(-3.0f, 3.0f)(gen);
            std::memcpy(x.bytes.data() + 4 * k, &v, 4);
        }
        attrs.quant.lo = pick(-128, 0), attrs.quant.hi = pick(0, 127);
        compare_variants(Op::quantize, cpu::simd::quantize_with, attrs, {x}, s, DType::i8, "quantize " + s.str());
        compare_variants(Op::qlookup, cpu::simd::qlookup_with, attrs, {codes_of(gen, s), codes_of(gen, Shape{256})}, s, DType::i8,
                         "qlookup " + s.str());
    }
}

// Every code through tables of every kind, at lengths around the vectors' (16, 64) and the
// threads' blocks (256), in place too.
BOOST_AUTO_TEST_CASE(qlookup_matches_in_every_variant) {
    std::mt19937 gen(24);
    Attrs attrs;
    for (int64_t n : {1, 15, 16, 17, 63, 64, 65, 127, 255, 256, 257, 1000, 4099, 70001}) {
        Buffer x = codes_of(gen, Shape{n});
        for (int64_t i = 0; i < std::min<int64_t>(n, 256); ++i) x.bytes[size_t(i)] = uint8_t(i);  // each code, in order
        for (int kind = 0; kind < 3; ++kind) {
            Buffer table = codes_of(gen, Shape{256});
            for (int i = 0; i < 256; ++i)
                if (kind == 1) table.bytes[size_t(i)] = uint8_t(i);            // each entry its index
                else if (kind == 2) table.bytes[size_t(i)] = uint8_t(255 - i);  // descending
            compare_variants(Op::qlookup, cpu::simd::qlookup_with, attrs, {x, table}, x.shape, DType::i8,
                             "qlookup n " + std::to_string(n) + " table " + std::to_string(kind));
        }
    }
}

// quantize at scales where ties (k + 1/2)·scale are exact floats, and others; on each: the ties,
// the floats next to them, whole multiples, ±0, ±inf, NaNs, denormals, huge values and random bit
// patterns — with zero points and clamps at both ends, at lengths that leave the vectors' tails.
BOOST_AUTO_TEST_CASE(quantize_of_special_values_matches_in_every_variant) {
    std::mt19937 gen(25);
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    const float scales[] = {1.0f, 0.5f, 0.375f, 3.0f, 1.0f / 256.0f, 0.0117f, 0.1f, 7.3e-5f, 2.5e-3f, 1e30f, 1e-39f /* denormal */};
    struct Encoding {
        int32_t zero, lo, hi;
    };
    const Encoding encodings[] = {{0, -128, 127}, {-128, -128, 127}, {127, -128, 127}, {-7, -7, 127}, {5, -100, 50}, {3, 3, 3},
                                  {0, 10, -10}};  // lo > hi: the reference's order, lo first
    int exact_ties = 0;
    for (float scale : scales) {
        std::vector<float> v;
        for (int k = -300; k <= 300; ++k) {
            const float tie = (float(k) + 0.5f) * scale, whole = float(k) * scale;
            for (float f : {tie, whole})
                v.insert(v.end(), {f, std::nextafter(f, inf), std::nextafter(f, -inf)});
            const double q = double(tie) / double(scale);
            exact_ties += q - std::floor(q) == 0.5;
        }
        using limits = std::numeric_limits<float>;
        for (float f : {0.0f, -0.0f, inf, -inf, nan, -nan, limits::signaling_NaN(), limits::denorm_min(), -limits::denorm_min(), 1e-40f,
                        -1e-40f, limits::min(), -limits::min(), limits::max(), -limits::max(), 1e10f, -1e10f, 2147483648.0f,
                        -2147483648.0f, 4503599627370496.0f, -9007199254740992.0f, 3e38f})
            v.push_back(f);
        for (int i = 0; i < 1500; ++i) {  // any bit pattern
            const uint32_t bits = uint32_t(gen());
            float f;
            std::memcpy(&f, &bits, 4);
            v.push_back(f);
        }
        std::shuffle(v.begin() + 3 * 2 * 601, v.end(), gen);  // the specials among the random ones, ties kept in order
        for (const Encoding& e : encodings) {
            Attrs attrs;
            attrs.quant.scale = scale, attrs.quant.y_zero = e.zero, attrs.quant.lo = e.lo, attrs.quant.hi = e.hi;
            const std::string what = "quantize scale " + std::to_string(scale) + " zero " + std::to_string(e.zero) + " [" +
                                     std::to_string(e.lo) + ", " + std::to_string(e.hi) + "]";
            compare_variants(Op::quantize, cpu::simd::quantize_with, attrs, {floats_of(v)}, Shape{int64_t(v.size())}, DType::i8, what);
            for (size_t n = 1; n <= 19; ++n) {  // short runs: the vectors' tails
                const std::vector<float> part(v.end() - std::ptrdiff_t(n), v.end());
                compare_variants(Op::quantize, cpu::simd::quantize_with, attrs, {floats_of(part)}, Shape{int64_t(n)}, DType::i8,
                                 what + " n " + std::to_string(n));
            }
        }
    }
    BOOST_TEST(exact_ties > 2500);  // most scales above make (k + 1/2)·scale an exact tie
}

// Windows inside the plane (no padding, no ceil_mode overhang) share a divisor: the fast path's.
// Kernels and strides of all kinds (tiling, overlapping, with gaps; planes joined where windows
// tile whole planes), codes uniform or at the extremes (sums ±128·d), then every window sum
// −128·d … 127·d for divisors that are and are not powers of two, and the largest windows.
BOOST_AUTO_TEST_CASE(average_pooling_of_whole_windows_matches_the_reference) {
    std::mt19937 gen(26);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
    auto pool = [&](Pool2dAttrs a, const Buffer& x, const std::string& what) {
        const int64_t oh = window_out_size(x.shape[2], a.kernel_h, a.stride_h, a.pad_h, 1, a.ceil_mode);
        const int64_t ow = window_out_size(x.shape[3], a.kernel_w, a.stride_w, a.pad_w, 1, a.ceil_mode);
        Attrs attrs;
        attrs.pool = a;
        attrs.quant.x_zero = pick(-128, 127);
        compare_op(Op::qavg_pool2d, attrs, {x}, Shape{x.shape[0], x.shape[1], oh, ow}, DType::i8,
                   what + " x" + x.shape.str() + " kernel " + std::to_string(a.kernel_h) + "x" + std::to_string(a.kernel_w) + " stride " +
                       std::to_string(a.stride_h) + "x" + std::to_string(a.stride_w));
    };
    const int cases = testing::full_or_quick(300, 80, "80 random whole-window poolings, not 300");
    for (int i = 0; i < cases; ++i) {
        Pool2dAttrs a;
        a.kernel_h = pick(1, 7), a.kernel_w = pick(0, 2) ? a.kernel_h : pick(1, 7);
        const int kind = pick(0, 2);  // tiling, any stride, tiling whole planes
        a.stride_h = kind == 1 ? pick(1, 8) : a.kernel_h, a.stride_w = kind == 1 ? pick(1, 8) : a.kernel_w;
        const int64_t oh = pick(1, 12), ow = pick(1, 40);
        const int64_t h = (oh - 1) * a.stride_h + a.kernel_h + (kind == 2 ? a.stride_h - a.kernel_h : pick(0, 2));
        const int64_t w = (ow - 1) * a.stride_w + a.kernel_w + pick(0, 2);
        const int range = pick(0, 3);  // uniform, −128s, 127s, both ends
        Buffer x = codes_of(gen, Shape{pick(1, 3), pick(1, 9), h, w}, range == 2 ? 127 : -128, range == 1 ? -128 : 127);
        if (range == 3)
            for (uint8_t& b : x.bytes) b = pick(0, 1) ? 0x80 : 0x7F;
        pool(a, x, "whole windows");
    }
    for (auto [ih, iw] : {std::pair<int64_t, int64_t>{28, 28}, {10, 10}, {29, 31}})  // LeNet-5's AvgPool2d(2), and odd planes
        pool({.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2}, codes_of(gen, Shape{3, 16, ih, iw}), "AvgPool2d(2)");
    // Every sum of a 1×d window: codes ⌊s/d⌋ and one more, s − d·⌊s/d⌋ of them.
    for (int64_t d : {1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 16, 25, 49, 63, 64, 100, 127}) {
        const int64_t sums = 255 * d + 1;
        Buffer x{DType::i8, Shape{1, 1, 1, sums * d}, std::vector<uint8_t>(size_t(sums * d))};
        for (int64_t k = 0; k < sums; ++k) {
            const int64_t s = -128 * d + k, base = (s - (s % d + d) % d) / d, more = s - base * d;
            for (int64_t j = 0; j < d; ++j) x.bytes[size_t(k * d + j)] = uint8_t(int8_t(base + (j < more ? 1 : 0)));
        }
        pool({.kernel_h = 1, .kernel_w = int(d), .stride_h = 1, .stride_w = int(d)}, x, "every sum");
    }
    // The largest divisor the fast path takes (2^16), one below (a float division), and one past it.
    for (auto [kh, kw] : {std::pair<int, int>{256, 256}, {255, 257}, {257, 256}}) {
        Buffer x = codes_of(gen, Shape{1, 2, kh + 1, kw});
        for (uint8_t& b : x.bytes) b = pick(0, 7) ? (pick(0, 1) ? 0x80 : 0x7F) : uint8_t(pick(0, 255));
        pool({.kernel_h = kh, .kernel_w = kw, .stride_h = 1, .stride_w = 1}, x, "largest windows");
    }
}
