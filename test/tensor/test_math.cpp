// Elementwise math, broadcasting, dtype promotion, reductions, matmul and joining.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "kiln/tensor/tensor.h"
#include "test_util.h"

using namespace kiln;
using kiln::test::expect_error;
using kiln::test::shape_is;
using kiln::test::values_are;

using L = std::vector<int64_t>;

BOOST_AUTO_TEST_CASE(elementwise_broadcasting) {
    Tensor col = tensor({1.f, 2.f, 3.f}, {3, 1});
    Tensor row = tensor({10.f, 20.f});
    BOOST_TEST(shape_is((col + row), "[3, 2]"));
    BOOST_TEST(values_are(col + row, {11, 21, 12, 22, 13, 23}));
    BOOST_TEST(values_are(row - col, {9, 19, 8, 18, 7, 17}));
    BOOST_TEST(values_are(mul(col, row), {10, 20, 20, 40, 30, 60}));
    BOOST_TEST(values_are(row / col, {10, 20, 5, 10, 10.f / 3, 20.f / 3}));
    // A transposed (non-contiguous) operand.
    Tensor m = arange(6).view({2, 3}).to(DType::f32);
    BOOST_TEST(values_are(m.transpose(0, 1) + tensor({100.f, 200.f}), {100, 203, 101, 204, 102, 205}));
    expect_error([] { zeros({3, 4}) + zeros({5, 4}); }, Errc::shape_mismatch,
                 "add: shapes [3, 4] and [5, 4] cannot be broadcast together");
}

BOOST_AUTO_TEST_CASE(scalars_and_type_promotion) {
    Tensor i = tensor({1, 3});  // i32
    BOOST_TEST(((i + tensor({0.5f, 0.5f})).dtype() == DType::f32));
    BOOST_TEST(((i + from_vector(L{1, 1})).dtype() == DType::i64));
    BOOST_TEST(((i + ones({2}, DType::u8)).dtype() == DType::i32));
    BOOST_TEST(((ones({2}, DType::u8) * ones({2}, DType::u8)).dtype() == DType::u8));
    // True division of integers gives f32, like PyTorch.
    Tensor q = i / tensor({2, 2});
    BOOST_TEST((q.dtype() == DType::f32));
    BOOST_TEST(values_are(q, {0.5f, 1.5f}));
    BOOST_TEST(((i + 1).dtype() == DType::i32));
    BOOST_TEST(values_are(i * 2, {2, 6}));
    Tensor h = i + 0.5;
    BOOST_TEST((h.dtype() == DType::f32));
    BOOST_TEST(values_are(h, {1.5f, 3.5f}));
    BOOST_TEST(values_are(2 - tensor({1.f, 5.f}), {1, -3}));
    BOOST_TEST(values_are(1 / tensor({2.f, 4.f}), {0.5f, 0.25f}));
    BOOST_TEST(values_are(3 * tensor({2.f}), {6}));
    BOOST_TEST(values_are(1 + tensor({2.f}), {3}));
    // Integer arithmetic wraps.
    BOOST_TEST(values_are(full({1}, 250, DType::u8) + 10, {4}));
    BOOST_TEST(values_are(tensor({std::numeric_limits<int32_t>::max()}) + 1, {std::numeric_limits<int32_t>::min()}));
    BOOST_TEST((promote_types(DType::u8, DType::i64) == DType::i64));
}

BOOST_AUTO_TEST_CASE(unary_functions) {
    Tensor i = tensor({-3, 0, 2});
    BOOST_TEST(values_are(-i, {3, 0, -2}));
    BOOST_TEST(values_are(abs(i), {3, 0, 2}));
    BOOST_TEST((abs(i).dtype() == DType::i32));
    BOOST_TEST(values_are(relu(i), {0, 0, 2}));
    Tensor e = exp(tensor({0.f, 1.f}));
    BOOST_TEST(values_are(e, {1.f, std::exp(1.f)}));
    BOOST_TEST(values_are(log(e), {0, 1}, 1e-6));
    Tensor r = sqrt(tensor({4, 9}));
    BOOST_TEST((r.dtype() == DType::f32));
    BOOST_TEST(values_are(r, {2, 3}));
    BOOST_TEST(values_are(pow(tensor({2.f, 3.f}), 2), {4, 9}));
    Tensor ip = pow(tensor({2, 3}), 3);
    BOOST_TEST((ip.dtype() == DType::i32));
    BOOST_TEST(values_are(ip, {8, 27}));
    BOOST_TEST(values_are(pow(tensor({4.f}), 0.5), {2}));
    BOOST_TEST(values_are(pow(tensor({2.f, 3.f}, {2, 1}), tensor({1.f, 2.f})), {2, 4, 3, 9}));
    BOOST_TEST(values_are(clamp(tensor({-2.f, 0.5f, 3.f}), 0, 1), {0, 0.5f, 1}));
    BOOST_TEST(values_are(sigmoid(tensor({0.f, -100.f, 100.f})), {0.5, 0, 1}, 1e-6));
    BOOST_TEST(!std::isnan(sigmoid(tensor({-1000.f})).item<float>()));
    BOOST_TEST(values_are(tanh(tensor({0.f, 1.f})), {0.f, std::tanh(1.f)}));
    BOOST_TEST(values_are(maximum(tensor({1.f, 5.f}), tensor({3.f})), {3, 5}));
    BOOST_TEST(values_are(minimum(tensor({1.f, 5.f}), tensor({3.f})), {1, 3}));
    BOOST_TEST(std::isnan(maximum(tensor({NAN}), tensor({1.f})).item<float>()));
    BOOST_TEST(std::isnan(maximum(tensor({1.f}), tensor({NAN})).item<float>()));
}

BOOST_AUTO_TEST_CASE(comparisons_give_u8) {
    Tensor g = gt(tensor({1, 5, 3}), 2);
    BOOST_TEST((g.dtype() == DType::u8));
    BOOST_TEST(values_are(g, {0, 1, 1}));
    BOOST_TEST(values_are(eq(arange(3).view({3, 1}), arange(3)), {1, 0, 0, 0, 1, 0, 0, 0, 1}));
    BOOST_TEST(values_are(lt(tensor({1, 2}), 1.5), {1, 0}));
    BOOST_TEST(values_are(le(tensor({1.f, 2.f}), tensor({1.f, 1.f})), {1, 0}));
    BOOST_TEST(values_are(ge(tensor({1.f, 2.f}), 2), {0, 1}));
    BOOST_TEST(values_are(ne(tensor({1.f, NAN}), tensor({1.f, NAN})), {0, 1}));
    BOOST_TEST(equal(arange(3), tensor({0, 1, 2})));  // values compare after promotion
    BOOST_TEST(!equal(arange(3), arange(4)));
    BOOST_TEST(allclose(tensor({1.f, 100.f}), tensor({1.000001f, 100.0001f})));
    BOOST_TEST(!allclose(tensor({1.f}), tensor({1.1f})));
    BOOST_TEST(!allclose(tensor({NAN}), tensor({NAN})));
}

BOOST_AUTO_TEST_CASE(reductions_along_axes) {
    Tensor m = tensor({{1.f, 5.f, 3.f}, {4.f, 2.f, 6.f}});
    BOOST_TEST(m.sum().item<float>() == 21.f);
    BOOST_TEST(m.sum().dim() == 0);
    BOOST_TEST(values_are(m.sum(0), {5, 7, 9}));
    BOOST_TEST(values_are(m.sum(1), {9, 12}));
    BOOST_TEST(shape_is(m.sum(1, true), "[2, 1]"));
    BOOST_TEST(shape_is(m.sum(0, true), "[1, 3]"));
    BOOST_TEST(values_are(m.sum(-1), {9, 12}));
    BOOST_TEST(values_are(m.mean(0), {2.5f, 3.5f, 4.5f}));
    BOOST_TEST(m.mean().item<float>() == 3.5f);
    BOOST_TEST(values_are(m.max(1), {5, 6}));
    BOOST_TEST(values_are(m.min(0), {1, 2, 3}));
    BOOST_TEST(m.max().item<float>() == 6.f);
    BOOST_TEST(m.min().item<float>() == 1.f);
    Tensor am = m.argmax(1);
    BOOST_TEST((am.dtype() == DType::i64));
    BOOST_TEST(values_are(am, {1, 2}));
    BOOST_TEST(values_are(m.argmin(1), {0, 1}));
    BOOST_TEST(m.argmax().item<int64_t>() == 5);  // index into the flattened tensor
    BOOST_TEST(m.argmin().item<int64_t>() == 0);
    BOOST_TEST(shape_is(m.argmax(0, true), "[1, 3]"));
    expect_error([&] { m.sum(2); }, Errc::invalid_argument, "sum: axis 2 is out of range for shape [2, 3]");

    Tensor c = arange(24).view({2, 3, 4});
    BOOST_TEST(values_are(c.sum(1), {12, 15, 18, 21, 48, 51, 54, 57}));
    // 0-d tensors reduce along dim 0 and stay 0-d.
    BOOST_TEST(scalar_tensor(3.f).sum(0, true).dim() == 0);
}

BOOST_AUTO_TEST_CASE(reductions_over_non_contiguous_views) {
    Tensor m = tensor({{1.f, 5.f, 3.f}, {4.f, 2.f, 6.f}});
    Tensor t = m.transpose(0, 1);  // [[1, 4], [5, 2], [3, 6]]
    BOOST_TEST(values_are(t.sum(1), {5, 7, 9}));
    BOOST_TEST(values_are(t.sum(0), {9, 12}));
    BOOST_TEST(values_are(t.argmax(0), {1, 2}));
    BOOST_TEST(values_are(t.argmax(1), {1, 0, 1}));
    BOOST_TEST(t.argmax().item<int64_t>() == 5);  // flattened in t's own row-major order
    BOOST_TEST(t.argmin().item<int64_t>() == 0);
    Tensor s = m.slice(1, 0, Tensor::to_end, 2);  // [[1, 3], [4, 6]]
    BOOST_TEST(values_are(s.sum(0), {5, 9}));
    BOOST_TEST(s.sum().item<float>() == 14.f);
    BOOST_TEST(values_are(tensor({1.f, 2.f}).expand({3, 2}).sum(0), {3, 6}));
}

BOOST_AUTO_TEST_CASE(reduction_dtypes_ties_nan_and_empty) {
    Tensor i = tensor({1, 2, 3});
    BOOST_TEST((i.sum().dtype() == DType::i64));
    BOOST_TEST(i.sum().item<int64_t>() == 6);
    BOOST_TEST(from_vector(std::vector<uint8_t>{200, 100}).sum().item<int64_t>() == 300);  // no u8 wrap
    BOOST_TEST((i.mean().dtype() == DType::f32));
    BOOST_TEST(i.mean().item<float>() == 2.f);
    BOOST_TEST((i.max().dtype() == DType::i32));

    // Ties pick the first occurrence, like PyTorch.
    BOOST_TEST(tensor({1, 3, 3, 0, 3}).argmax().item<int64_t>() == 1);
    BOOST_TEST(tensor({2.f, 0.f, 0.f}).argmin().item<int64_t>() == 1);
    BOOST_TEST(values_are(tensor({{1, 1}, {0, 0}}).argmax(1), {0, 0}));
    BOOST_TEST(values_are(tensor({{1, 1}, {1, 1}}).argmin(0), {0, 0}));

    // NaN wins max/min and argmax/argmin.
    Tensor n = tensor({1.f, NAN, 5.f});
    BOOST_TEST(std::isnan(n.max().item<float>()));
    BOOST_TEST(std::isnan(n.min().item<float>()));
    BOOST_TEST(n.argmax().item<int64_t>() == 1);
    BOOST_TEST(n.argmin().item<int64_t>() == 1);

    BOOST_TEST(zeros({0}).sum().item<float>() == 0.f);
    BOOST_TEST(std::isnan(zeros({0}).mean().item<float>()));
    BOOST_TEST(values_are(zeros({2, 0}).sum(1), {0, 0}));
    expect_error([] { zeros({0}).max(); }, Errc::invalid_argument, "max: cannot reduce an empty tensor of shape [0]");
    expect_error([] { zeros({2, 0}).argmax(1); }, Errc::invalid_argument,
                 "argmax: cannot reduce dim 1 of size 0 in shape [2, 0]");
}

BOOST_AUTO_TEST_CASE(matmul_values) {
    Tensor a = tensor({{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}});
    Tensor b = tensor({{7.f, 8.f}, {9.f, 10.f}, {11.f, 12.f}});
    Tensor ab = matmul(a, b);
    BOOST_TEST(shape_is(ab, "[2, 2]"));
    BOOST_TEST(values_are(ab, {58, 64, 139, 154}));
    // Transposed (non-contiguous) operand: aᵀa.
    BOOST_TEST(values_are(matmul(a.transpose(0, 1), a), {17, 22, 27, 22, 29, 36, 27, 36, 45}));
    // Vectors.
    Tensor dot = matmul(tensor({1.f, 2.f, 3.f}), tensor({4.f, 5.f, 6.f}));
    BOOST_TEST(dot.dim() == 0);
    BOOST_TEST(dot.item<float>() == 32.f);
    Tensor mv = matmul(a, tensor({1.f, 0.f, -1.f}));
    BOOST_TEST(shape_is(mv, "[2]"));
    BOOST_TEST(values_are(mv, {-2, -2}));
    Tensor vm = matmul(tensor({1.f, 1.f}), a);
    BOOST_TEST(shape_is(vm, "[3]"));
    BOOST_TEST(values_are(vm, {5, 7, 9}));
    // Batches: a stack of [a, 2a] times one matrix broadcasts the matrix.
    Tensor batch = matmul(stack({a, a * 2}), b);
    BOOST_TEST(shape_is(batch, "[2, 2, 2]"));
    BOOST_TEST(values_are(batch, {58, 64, 139, 154, 116, 128, 278, 308}));
    Tensor bb = matmul(ones({2, 1, 2, 3}), ones({4, 3, 5}));
    BOOST_TEST(shape_is(bb, "[2, 4, 2, 5]"));
    BOOST_TEST(values_are(bb, std::vector<double>(80, 3)));
    BOOST_TEST(shape_is(matmul(ones({4, 2, 3}), tensor({1.f, 1.f, 1.f})), "[4, 2]"));
    // Integer matmul stays integral; mixed dtypes promote.
    Tensor ii = matmul(tensor({{1, 2}, {3, 4}}), tensor({{5, 6}, {7, 8}}));
    BOOST_TEST((ii.dtype() == DType::i32));
    BOOST_TEST(values_are(ii, {19, 22, 43, 50}));
    BOOST_TEST((matmul(arange(2), ones({2, 2})).dtype() == DType::f32));
}

BOOST_AUTO_TEST_CASE(matmul_errors_name_both_shapes) {
    expect_error([] { matmul(zeros({3, 4}), zeros({5, 6})); }, Errc::shape_mismatch,
                 "matmul: shapes [3, 4] and [5, 6] do not match (4 != 5)");
    expect_error([] { matmul(zeros({3}), zeros({4})); }, Errc::shape_mismatch,
                 "matmul: shapes [3] and [4] do not match (3 != 4)");
    expect_error([] { matmul(zeros({2, 3, 4}), zeros({5, 4, 2})); }, Errc::shape_mismatch,
                 "matmul: batch dims of shapes [2, 3, 4] and [5, 4, 2] cannot be broadcast");
    expect_error([] { matmul(scalar_tensor(1.f), zeros({2})); }, Errc::invalid_argument,
                 "matmul: both operands need at least 1 dim, got shapes [] and [2]");
}

BOOST_AUTO_TEST_CASE(cat_and_stack) {
    Tensor a = tensor({{1, 2}, {3, 4}});
    Tensor c0 = cat({a, tensor({{5, 6}})});
    BOOST_TEST(shape_is(c0, "[3, 2]"));
    BOOST_TEST(values_are(c0, {1, 2, 3, 4, 5, 6}));
    Tensor c1 = cat({a, a}, 1);
    BOOST_TEST(shape_is(c1, "[2, 4]"));
    BOOST_TEST(values_are(c1, {1, 2, 1, 2, 3, 4, 3, 4}));
    BOOST_TEST(equal(cat({a, a}, -1), c1));
    BOOST_TEST(values_are(cat({a.transpose(0, 1), a}, 0), {1, 3, 2, 4, 1, 2, 3, 4}));
    BOOST_TEST((cat({a, ones({1, 2})}).dtype() == DType::f32));
    expect_error([&] { cat({a, zeros({1, 3})}); }, Errc::shape_mismatch,
                 "cat: shapes [2, 2] and [1, 3] differ outside dim 0");
    BOOST_CHECK_THROW(cat({}), Error);

    Tensor x = tensor({1, 2, 3}), y = tensor({4, 5, 6});
    Tensor s0 = stack({x, y});
    BOOST_TEST(shape_is(s0, "[2, 3]"));
    BOOST_TEST(values_are(s0, {1, 2, 3, 4, 5, 6}));
    Tensor s1 = stack({x, y}, 1);
    BOOST_TEST(shape_is(s1, "[3, 2]"));
    BOOST_TEST(values_are(s1, {1, 4, 2, 5, 3, 6}));
    BOOST_TEST(equal(stack({x, y}, -1), s1));
    Tensor s2 = stack({a, a * 10}, 1);
    BOOST_TEST(shape_is(s2, "[2, 2, 2]"));
    BOOST_TEST(values_are(s2, {1, 2, 10, 20, 3, 4, 30, 40}));
    expect_error([&] { stack({x, tensor({1, 2})}); }, Errc::shape_mismatch, "stack: shapes [3] and [2] differ");
}
