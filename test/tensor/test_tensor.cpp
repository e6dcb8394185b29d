// Tensor construction, views, indexing, copies and printing.
#define BOOST_TEST_MODULE tensor
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <sstream>

#include "kiln/core/rng.h"
#include "kiln/tensor/tensor.h"
#include "test_util.h"

using namespace kiln;
// ---- The shared helpers declared in test_util.h ----

namespace kiln::test {
namespace {

std::vector<double> values(const Tensor& t) {
    if (t.dtype() == DType::f32) {
        std::vector<float> f = t.to_vector<float>();
        return {f.begin(), f.end()};
    }
    std::vector<int64_t> i = t.to_vector<int64_t>();
    return {i.begin(), i.end()};
}

std::string show(const std::vector<double>& v) {
    std::ostringstream os;
    os << '{';
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
    return os.str() + '}';
}

}  // namespace

boost::test_tools::assertion_result values_are(const Tensor& t, const std::vector<double>& expected,
                                               double tolerance) {
    const std::vector<double> got = values(t);
    bool ok = got.size() == expected.size();
    for (size_t i = 0; ok && i < got.size(); ++i) ok = std::abs(got[i] - expected[i]) <= tolerance;
    boost::test_tools::assertion_result result(ok);
    if (!ok) result.message() << "values " << show(got) << " != expected " << show(expected);
    return result;
}

boost::test_tools::assertion_result shape_is(const Tensor& t, const std::string& expected) {
    boost::test_tools::assertion_result result(t.shape().str() == expected);
    if (!result) result.message() << "shape " << t.shape().str() << " != expected " << expected;
    return result;
}

void expect_error(const std::function<void()>& fn, Errc code, const std::string& message) {
    try {
        fn();
        BOOST_ERROR("expected kiln::Error: " + message);
    } catch (const Error& e) {
        BOOST_TEST(errc_name(e.code()) == errc_name(code));
        BOOST_TEST(std::string(e.what()) == message);
    }
}

}  // namespace kiln::test

// ---- Tests ----

using kiln::test::expect_error;
using kiln::test::shape_is;
using kiln::test::values_are;

BOOST_AUTO_TEST_CASE(factories_fill_shape_and_dtype) {
    Tensor z = zeros({2, 3});
    BOOST_TEST(shape_is(z, "[2, 3]"));
    BOOST_TEST((z.dtype() == DType::f32));
    BOOST_TEST(values_are(z, std::vector<double>(6, 0)));
    BOOST_TEST(values_are(ones({4}, DType::u8), std::vector<double>(4, 1)));
    Tensor f = full({2, 2}, 7, DType::i32);
    BOOST_TEST((f.dtype() == DType::i32));
    BOOST_TEST(values_are(f, std::vector<double>(4, 7)));
    BOOST_TEST((full({1}, 2.5).dtype() == DType::f32));
    BOOST_TEST(f.is_contiguous());
    BOOST_TEST(reinterpret_cast<uintptr_t>(f.data_ptr()) % 64 == 0);

    Tensor like = full_like(f, 3);
    BOOST_TEST((like.dtype() == DType::i32));
    BOOST_TEST((like.shape() == f.shape()));
    BOOST_TEST(values_are(zeros_like(f), std::vector<double>(4, 0)));
    BOOST_TEST(values_are(ones_like(f), std::vector<double>(4, 1)));

    expect_error([] { zeros({2, -1}); }, Errc::invalid_argument, "zeros: negative size in shape [2, -1]");
    Tensor def;
    BOOST_TEST(def.numel() == 0);
    BOOST_TEST(shape_is(def, "[0]"));
}

BOOST_AUTO_TEST_CASE(from_cpp_data) {
    Tensor a = tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3});
    BOOST_TEST(shape_is(a, "[2, 3]"));
    BOOST_TEST(a.at<float>({1, 2}) == 6.f);
    Tensor b = tensor({{1, 2}, {3, 4}});
    BOOST_TEST((b.dtype() == DType::i32));
    BOOST_TEST(b.at<int32_t>({1, 0}) == 3);
    BOOST_TEST((tensor({1.0, 2.0}).dtype() == DType::f32));  // doubles are stored as f32
    BOOST_TEST((from_vector(std::vector<int64_t>{5, 6}).dtype() == DType::i64));
    BOOST_TEST((from_vector(std::vector<uint8_t>{255}).dtype() == DType::u8));
    BOOST_TEST((scalar_tensor(3).dtype() == DType::i64));
    BOOST_TEST(scalar_tensor(2.5).dim() == 0);
    expect_error([] { tensor({1.f, 2.f, 3.f}, {2, 2}); }, Errc::shape_mismatch,
                 "from_vector: 3 values do not fill shape [2, 2]");
    expect_error([] { tensor({{1, 2}, {3}}); }, Errc::invalid_argument,
                 "tensor: rows have different lengths (2 and 1)");
}

BOOST_AUTO_TEST_CASE(arange_and_linspace_endpoints) {
    Tensor a = arange(5);
    BOOST_TEST((a.dtype() == DType::i64));
    BOOST_TEST(values_are(a, {0, 1, 2, 3, 4}));
    BOOST_TEST(values_are(arange(1, 10, 3), {1, 4, 7}));
    BOOST_TEST(values_are(arange(5, 0, -2), {5, 3, 1}));
    BOOST_TEST(arange(3, 3).numel() == 0);
    Tensor f = arange(0, 1, 0.25);  // end excluded, as in PyTorch
    BOOST_TEST((f.dtype() == DType::f32));
    BOOST_TEST(values_are(f, {0, 0.25f, 0.5f, 0.75f}));
    expect_error([] { arange(0, 5, 0); }, Errc::invalid_argument, "arange: step must be nonzero");
    BOOST_CHECK_THROW(arange(0, 5, -1), Error);

    Tensor l = linspace(0, 1, 5);
    BOOST_TEST(values_are(l, {0, 0.25f, 0.5f, 0.75f, 1}));
    // The last value is exactly end even where (end - start) / (steps - 1) is inexact.
    Tensor odd = linspace(-1, 0.7, 7);
    BOOST_TEST(odd.at<float>({0}) == -1.f);
    BOOST_TEST(odd.at<float>({6}) == 0.7f);
    BOOST_TEST(values_are(linspace(3, 9, 1), {3}));
    BOOST_TEST(linspace(0, 1, 0).numel() == 0);
}

BOOST_AUTO_TEST_CASE(seeded_random_is_reproducible) {
    Generator g1(7), g2(7), g3(8);
    Tensor a = rand({3, 4}, g1), b = rand({3, 4}, g2), c = rand({3, 4}, g3);
    BOOST_TEST(equal(a, b));
    BOOST_TEST(!equal(a, c));
    BOOST_TEST(a.min().item<float>() >= 0.f);
    BOOST_TEST(a.max().item<float>() < 1.f);
    // The stream continues: the next draw differs from the first.
    BOOST_TEST(!equal(rand({3, 4}, g1), a));
    Generator h1(3), h2(3);
    BOOST_TEST(equal(randn({5}, h1), randn({5}, h2)));
    Generator g(1);
    Tensor n = randn({20000}, g);
    BOOST_TEST(std::abs(n.mean().item<float>()) < 0.05f);
    BOOST_TEST(std::abs(mul(n, n).mean().item<float>() - 1.f) < 0.05f);
    Tensor r = randint(-2, 3, {1000}, g);
    BOOST_TEST((r.dtype() == DType::i64));
    BOOST_TEST(r.min().item<int64_t>() == -2);
    BOOST_TEST(r.max().item<int64_t>() == 2);
    BOOST_TEST((rand_like(n, g).shape() == n.shape()));
    BOOST_CHECK_THROW(randn_like(r, g), Error);
}

BOOST_AUTO_TEST_CASE(views_share_storage) {
    Tensor base = arange(6).to(DType::f32);
    Tensor v = base.view({2, 3});
    BOOST_TEST(v.shares_storage(base));
    v.at<float>({1, 1}) = 40.f;
    BOOST_TEST(base.at<float>({4}) == 40.f);

    Tensor t = v.transpose(0, 1);  // [3, 2], not contiguous
    BOOST_TEST(!t.is_contiguous());
    BOOST_TEST(t.stride(0) == 1);
    BOOST_TEST(t.stride(1) == 3);
    t.at<float>({2, 0}) = -1.f;  // = v[0][2] = base[2]
    BOOST_TEST(base.at<float>({2}) == -1.f);

    v[0].fill_(9);  // a row through operator[]
    BOOST_TEST(values_are(base, {9, 9, 9, 3, 40, 5}));

    // reshape is a view when it can be and a copy when it cannot.
    BOOST_TEST(v.reshape({3, 2}).shares_storage(base));
    Tensor copied = t.reshape({6});
    BOOST_TEST(!copied.shares_storage(base));
    BOOST_TEST(values_are(copied, {9, 3, 9, 40, 9, 5}));
    expect_error([&] { t.view({6}); }, Errc::invalid_argument,
                 "view: a tensor of shape [3, 2] and strides [1, 3] cannot be viewed as [6]; use reshape");
    // A view can split a dim of a non-contiguous tensor when the memory allows it.
    Tensor split = arange(24).view({2, 3, 4}).permute({1, 0, 2}).view({3, 2, 2, 2});
    BOOST_TEST(split.at<int64_t>({1, 1, 0, 1}) == 17);

    BOOST_TEST(shape_is(v.view({-1}), "[6]"));
    BOOST_TEST(shape_is(v.reshape({-1, 2}), "[3, 2]"));
    expect_error([&] { v.reshape({4, -1}); }, Errc::shape_mismatch,
                 "reshape: shape [4, -1] is invalid for a tensor of shape [2, 3]");

    Tensor c = t.contiguous();
    BOOST_TEST(c.is_contiguous());
    BOOST_TEST(!c.shares_storage(base));
    BOOST_TEST(v.contiguous().shares_storage(base));  // already contiguous: no copy
    Tensor k = v.clone();
    k.fill_(0);
    BOOST_TEST(base.at<float>({0}) == 9.f);
}

BOOST_AUTO_TEST_CASE(permute_squeeze_unsqueeze_flatten) {
    Tensor x = zeros({2, 1, 3, 1});
    BOOST_TEST(shape_is(x.squeeze(), "[2, 3]"));
    BOOST_TEST(shape_is(x.squeeze(1), "[2, 3, 1]"));
    BOOST_TEST(shape_is(x.squeeze(0), "[2, 1, 3, 1]"));  // size 2: unchanged, as in PyTorch
    BOOST_TEST(shape_is(x.squeeze(-1), "[2, 1, 3]"));
    Tensor y = zeros({2, 3});
    BOOST_TEST(shape_is(y.unsqueeze(0), "[1, 2, 3]"));
    BOOST_TEST(shape_is(y.unsqueeze(2), "[2, 3, 1]"));
    BOOST_TEST(shape_is(y.unsqueeze(-1), "[2, 3, 1]"));
    BOOST_TEST(y.unsqueeze(1).is_contiguous());
    BOOST_CHECK_THROW(y.unsqueeze(3), Error);

    Tensor p = arange(24).view({2, 3, 4}).permute({2, 0, 1});
    BOOST_TEST(shape_is(p, "[4, 2, 3]"));
    BOOST_TEST(p.at<int64_t>({3, 1, 2}) == 23);  // original [1, 2, 3]
    BOOST_TEST(p.at<int64_t>({1, 0, 2}) == 9);   // original [0, 2, 1]
    expect_error([&] { p.permute({0, 0, 1}); }, Errc::invalid_argument, "permute: dim 0 repeats");
    BOOST_CHECK_THROW(p.permute({0, 1}), Error);

    Tensor f = arange(24).view({2, 3, 4});
    BOOST_TEST(shape_is(f.flatten(), "[24]"));
    BOOST_TEST(shape_is(f.flatten(1), "[2, 12]"));
    BOOST_TEST(shape_is(f.flatten(0, 1), "[6, 4]"));

    Tensor e = tensor({1.f, 2.f, 3.f}, {3, 1}).expand({2, 3, 4});
    BOOST_TEST(shape_is(e, "[2, 3, 4]"));
    BOOST_TEST(e.stride(0) == 0);
    BOOST_TEST(e.at<float>({1, 2, 3}) == 3.f);
    expect_error([] { zeros({2, 3}).expand({4, 3}); }, Errc::shape_mismatch,
                 "expand: a tensor of shape [2, 3] cannot be expanded to [4, 3]");
}

BOOST_AUTO_TEST_CASE(select_and_slice_follow_python) {
    Tensor m = arange(12).view({3, 4});
    BOOST_TEST(values_are(m[1], {4, 5, 6, 7}));
    BOOST_TEST(values_are(m[-1], {8, 9, 10, 11}));
    BOOST_TEST(values_are(m.select(1, -2), {2, 6, 10}));
    BOOST_TEST(m[1][2].item<int>() == 6);
    BOOST_TEST(m[1][2].dim() == 0);
    expect_error([&] { m[3]; }, Errc::invalid_argument, "select: index 3 is out of range for dim 0 of shape [3, 4]");
    expect_error([&] { m.at<int64_t>({0, -5}); }, Errc::invalid_argument,
                 "at: index -5 is out of range for dim 1 of shape [3, 4]");
    expect_error([&] { m.at<float>({0, 0}); }, Errc::invalid_argument, "at: tensor is i64, not f32");
    expect_error([&] { m.at<int64_t>({0}); }, Errc::invalid_argument,
                 "at: 1 indices given for a tensor of shape [3, 4]");

    // m[:, 1:] , m[:, ::2], m[-2:], m[:, -3:-1], m[:, 1::2]
    BOOST_TEST(shape_is(m.slice(1, 1), "[3, 3]"));
    BOOST_TEST(values_are(m.slice(1, 0, Tensor::to_end, 2), {0, 2, 4, 6, 8, 10}));
    BOOST_TEST(values_are(m.slice(0, -2), {4, 5, 6, 7, 8, 9, 10, 11}));
    BOOST_TEST(values_are(m.slice(1, -3, -1)[0], {1, 2}));
    BOOST_TEST(values_are(m.slice(1, 1, 100, 2)[2], {9, 11}));
    BOOST_TEST(m.slice(0, 2, 1).numel() == 0);      // empty, like m[2:1]
    BOOST_TEST(shape_is(m.slice(0, -100, 1), "[1, 4]"));  // clamped
    BOOST_CHECK_THROW(m.slice(0, 0, 2, 0), Error);
    BOOST_CHECK_THROW(m.slice(0, 0, 2, -1), Error);

    // Writing through a slice changes the original.
    m.slice(1, 0, Tensor::to_end, 3).fill_(-1);
    BOOST_TEST(values_are(m[0], {-1, 1, 2, -1}));
    BOOST_TEST(values_are(m[2], {-1, 9, 10, -1}));

    expect_error([&] { m.item<int>(); }, Errc::invalid_argument, "item: tensor of shape [3, 4] has 12 elements, not 1");
}

BOOST_AUTO_TEST_CASE(copy_from_broadcasts_and_converts) {
    Tensor m = zeros({2, 3});
    m.copy_from(tensor({1, 2, 3}));  // i32 row broadcast into f32 rows
    BOOST_TEST(values_are(m, {1, 2, 3, 1, 2, 3}));
    m.slice(1, 1).copy_from(tensor({{7.f}, {8.f}}));
    BOOST_TEST(values_are(m, {1, 7, 7, 1, 8, 8}));
    expect_error([&] { m.copy_from(zeros({2})); }, Errc::shape_mismatch,
                 "copy_from: a tensor of shape [2] cannot be broadcast to [2, 3]");
    // Overlapping source and destination read the source as it was.
    Tensor r = arange(5);
    r.slice(0, 1).copy_from(r.slice(0, 0, 4));
    BOOST_TEST(values_are(r, {0, 0, 1, 2, 3}));
}

BOOST_AUTO_TEST_CASE(dtype_conversion) {
    Tensor f = tensor({-1.7f, -0.5f, 0.5f, 2.9f, 255.f});
    BOOST_TEST(values_are(f.to(DType::i32), {-1, 0, 0, 2, 255}));
    Tensor u = f.slice(0, 3).to(DType::u8);
    BOOST_TEST(values_are(u, {2, 255}));
    BOOST_TEST(values_are(tensor({300}).to(DType::u8), {44}));  // wraps
    BOOST_TEST(f.to(DType::f32).shares_storage(f));  // same dtype: the tensor itself
    Tensor big = from_vector(std::vector<int64_t>{(int64_t(1) << 40) + 1});
    BOOST_TEST(big.item<int64_t>() == (int64_t(1) << 40) + 1);  // no detour through float
    BOOST_TEST(tensor({2.75f}).item<int>() == 2);
    BOOST_TEST(f.to_vector<double>()[0] == double(-1.7f));
}

BOOST_AUTO_TEST_CASE(prints_like_pytorch) {
    BOOST_TEST(tensor({{1.f, 2.f}, {3.f, 4.f}}).str() == "tensor([[1., 2.],\n        [3., 4.]])");
    BOOST_TEST(tensor({0.5f, -1.25f}).str() == "tensor([ 0.5000, -1.2500])");
    BOOST_TEST(tensor({1e-5f, 1.f}).str() == "tensor([1.0000e-05, 1.0000e+00])");
    BOOST_TEST(arange(3).str() == "tensor([0, 1, 2])");
    BOOST_TEST(tensor({1, -20}).str() == "tensor([  1, -20], dtype=i32)");
    BOOST_TEST(scalar_tensor(2.5).str() == "tensor(2.5000)");
    BOOST_TEST(arange(8).view({2, 2, 2}).str() ==
               "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]])");
    BOOST_TEST(zeros({0}).str() == "tensor([])");
    BOOST_TEST(zeros({2, 0}, DType::u8).str() == "tensor([], size=[2, 0], dtype=u8)");
    BOOST_TEST(tensor({NAN, INFINITY, 1.f}).str() == "tensor([nan, inf,  1.])");
    BOOST_TEST(arange(2000).str() == "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])");
    std::ostringstream os;
    os << arange(2).view({1, 2}).transpose(0, 1);
    BOOST_TEST(os.str() == "tensor([[0],\n        [1]])");
}
