// Elementwise math with broadcasting, comparisons and matmul.
#include <cmath>

#include "kiln/tensor/loops.h"
#include "kiln/tensor/tensor.h"

namespace kiln {
namespace {

using detail::visit;

// Applies f elementwise to a and b broadcast together, both converted to T; the result holds R.
template <class T, class R, class F>
Tensor binary_as(const char* what, const Tensor& a, const Tensor& b, F f) {
    const Shape shape = broadcast_shapes(a.shape(), b.shape(), what);
    const Tensor x = a.to(dtype_of<T>()).expand(shape), y = b.to(dtype_of<T>()).expand(shape);
    Tensor out = empty(shape, dtype_of<R>());
    const T* px = static_cast<const T*>(x.data_ptr());
    const T* py = static_cast<const T*>(y.data_ptr());
    R* po = out.data<R>();
    detail::for_each_element<3>(shape, {out.strides(), x.strides(), y.strides()},
                                [&](const auto& o) { po[o[0]] = static_cast<R>(f(px[o[1]], py[o[2]])); });
    return out;
}

// Applies f in the promoted dtype of a and b, which is also the result's dtype.
template <class F> Tensor arithmetic(const char* what, const Tensor& a, const Tensor& b, F f) {
    return visit(promote_types(a.dtype(), b.dtype()), [&](auto tag) {
        using T = decltype(tag);
        return binary_as<T, T>(what, a, b, f);
    });
}

enum class Cmp { eq, ne, lt, le, gt, ge };

// Compares in the promoted dtype and gives u8. The operator is chosen per element so that the
// six comparisons share one loop per dtype (comparisons are rarely hot; compile time matters).
Tensor compare(const char* what, Cmp op, const Tensor& a, const Tensor& b) {
    return visit(promote_types(a.dtype(), b.dtype()), [&](auto tag) {
        using T = decltype(tag);
        return binary_as<T, uint8_t>(what, a, b, [op](T x, T y) {
            switch (op) {
            case Cmp::eq: return x == y;
            case Cmp::ne: return x != y;
            case Cmp::lt: return x < y;
            case Cmp::le: return x <= y;
            case Cmp::gt: return x > y;
            case Cmp::ge: return x >= y;
            }
            return false;
        });
    });
}

// Applies f elementwise, keeping the dtype.
template <class F> Tensor unary(const Tensor& t, F f) {
    Tensor out = empty(t.shape(), t.dtype());
    visit(t.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* pi = static_cast<const T*>(t.data_ptr());
        T* po = static_cast<T*>(out.data_ptr());
        detail::for_each_element<2>(t.shape(), {out.strides(), t.strides()},
                                    [&](const auto& o) { po[o[0]] = static_cast<T>(f(pi[o[1]])); });
    });
    return out;
}

// Applies a float function elementwise; integer inputs are converted, so the result is f32.
template <class F> Tensor float_unary(const Tensor& t, F f) {
    const Tensor x = t.to(DType::f32);
    Tensor out = empty(t.shape(), DType::f32);
    const float* pi = x.data<float>();
    float* po = out.data<float>();
    detail::for_each_element<2>(t.shape(), {out.strides(), x.strides()},
                                [&](const auto& o) { po[o[0]] = f(pi[o[1]]); });
    return out;
}

// The scalar as a 0-d tensor of the dtype it should take part in arithmetic with `t` as
// (see the dtype rules in tensor.h).
Tensor scalar_operand(const Tensor& t, Scalar s) {
    return scalar_tensor(s, s.is_floating() && t.dtype() != DType::f32 ? DType::f32 : t.dtype());
}

}  // namespace

DType promote_types(DType a, DType b) {
    for (DType t : {DType::f32, DType::i64, DType::i32})
        if (a == t || b == t) return t;
    if (a != b) return DType::i32;  // i8 with u8: PyTorch's int16, which kiln lacks
    return a;
}

// ---- Arithmetic ----

Tensor add(const Tensor& a, const Tensor& b) {
    return arithmetic("add", a, b, [](auto x, auto y) { return detail::wrap_add(x, y); });
}

Tensor sub(const Tensor& a, const Tensor& b) {
    return arithmetic("sub", a, b, [](auto x, auto y) { return detail::wrap_sub(x, y); });
}

Tensor mul(const Tensor& a, const Tensor& b) {
    return arithmetic("mul", a, b, [](auto x, auto y) { return detail::wrap_mul(x, y); });
}

Tensor div(const Tensor& a, const Tensor& b) {
    return binary_as<float, float>("div", a, b, [](float x, float y) { return x / y; });
}

Tensor pow(const Tensor& a, const Tensor& b) {
    // Integer powers go through double; a negative integer exponent truncates toward zero.
    return arithmetic("pow", a, b, [](auto x, auto y) {
        return detail::convert<decltype(x)>(std::pow(double(x), double(y)));
    });
}

Tensor maximum(const Tensor& a, const Tensor& b) {
    return arithmetic("maximum", a, b, [](auto x, auto y) { return detail::is_nan(x) || x > y ? x : y; });
}

Tensor minimum(const Tensor& a, const Tensor& b) {
    return arithmetic("minimum", a, b, [](auto x, auto y) { return detail::is_nan(x) || x < y ? x : y; });
}

Tensor add(const Tensor& a, Scalar b) { return add(a, scalar_operand(a, b)); }
Tensor sub(const Tensor& a, Scalar b) { return sub(a, scalar_operand(a, b)); }
Tensor mul(const Tensor& a, Scalar b) { return mul(a, scalar_operand(a, b)); }
Tensor div(const Tensor& a, Scalar b) { return div(a, scalar_operand(a, b)); }
Tensor pow(const Tensor& a, Scalar exponent) { return pow(a, scalar_operand(a, exponent)); }
Tensor operator+(Scalar a, const Tensor& b) { return add(scalar_operand(b, a), b); }
Tensor operator-(Scalar a, const Tensor& b) { return sub(scalar_operand(b, a), b); }
Tensor operator*(Scalar a, const Tensor& b) { return mul(scalar_operand(b, a), b); }
Tensor operator/(Scalar a, const Tensor& b) { return div(scalar_operand(b, a), b); }

// ---- Unary functions ----

Tensor neg(const Tensor& t) {
    return unary(t, [](auto x) { return detail::wrap_sub(decltype(x)(0), x); });
}

Tensor abs(const Tensor& t) {
    return unary(t, [](auto x) { return x < 0 ? detail::wrap_sub(decltype(x)(0), x) : x; });
}

Tensor relu(const Tensor& t) {
    // x > 0 is false for NaN, so test "not ≤ 0" to let NaN through as PyTorch does.
    return unary(t, [](auto x) { return !(x <= 0) ? x : decltype(x)(0); });
}

Tensor exp(const Tensor& t) { return float_unary(t, [](float x) { return std::exp(x); }); }
Tensor log(const Tensor& t) { return float_unary(t, [](float x) { return std::log(x); }); }
Tensor sqrt(const Tensor& t) { return float_unary(t, [](float x) { return std::sqrt(x); }); }
Tensor tanh(const Tensor& t) { return float_unary(t, [](float x) { return std::tanh(x); }); }

Tensor sigmoid(const Tensor& t) {
    // exp of a large positive argument overflows, so use the form whose exp is ≤ 1.
    return float_unary(t, [](float x) {
        if (x >= 0) return 1.0f / (1.0f + std::exp(-x));
        float e = std::exp(x);
        return e / (1.0f + e);
    });
}

Tensor clamp(const Tensor& t, Scalar lo, Scalar hi) {
    return minimum(maximum(t, scalar_operand(t, lo)), scalar_operand(t, hi));
}

// ---- Comparisons ----

Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", Cmp::eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare("ne", Cmp::ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", Cmp::lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", Cmp::le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", Cmp::gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", Cmp::ge, a, b); }
Tensor eq(const Tensor& a, Scalar b) { return eq(a, scalar_operand(a, b)); }
Tensor ne(const Tensor& a, Scalar b) { return ne(a, scalar_operand(a, b)); }
Tensor lt(const Tensor& a, Scalar b) { return lt(a, scalar_operand(a, b)); }
Tensor le(const Tensor& a, Scalar b) { return le(a, scalar_operand(a, b)); }
Tensor gt(const Tensor& a, Scalar b) { return gt(a, scalar_operand(a, b)); }
Tensor ge(const Tensor& a, Scalar b) { return ge(a, scalar_operand(a, b)); }

bool equal(const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && ne(a, b).sum().item<int64_t>() == 0;
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
    const Tensor close = binary_as<float, uint8_t>("allclose", a, b, [=](float x, float y) {
        return std::abs(double(x) - double(y)) <= atol + rtol * std::abs(double(y));
    });
    return close.numel() == 0 || close.min().item<int>() == 1;
}

// ---- matmul ----

Tensor matmul(const Tensor& a, const Tensor& b) {
    const std::string shapes = a.shape().str() + " and " + b.shape().str();
    if (a.dim() == 0 || b.dim() == 0)
        fail(Errc::invalid_argument, "matmul: both operands need at least 1 dim, got shapes " + shapes);
    // A 1-D left operand is a row vector [1, k], a 1-D right operand a column vector [k, 1].
    const Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
    const Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
    const int64_t m = a2.size(-2), k = a2.size(-1), kb = b2.size(-2), n = b2.size(-1);
    if (k != kb)
        fail(Errc::shape_mismatch, "matmul: shapes " + shapes + " do not match (" +
                                       std::to_string(k) + " != " + std::to_string(kb) + ")");

    Shape batch_a = a2.shape(), batch_b = b2.shape();
    batch_a.rank -= 2;
    batch_b.rank -= 2;
    Shape batch;
    try {
        batch = broadcast_shapes(batch_a, batch_b, "matmul");
    } catch (const Error&) {
        fail(Errc::shape_mismatch, "matmul: batch dims of shapes " + shapes + " cannot be broadcast");
    }

    // Bring both operands to contiguous [batches, rows, cols] blocks of the common dtype.
    const int64_t batches = batch.numel();
    const DType dtype = promote_types(a.dtype(), b.dtype());
    auto blocks = [&](const Tensor& t, int64_t rows, int64_t cols) {
        Shape s = batch;
        s.push_back(rows);
        s.push_back(cols);
        return t.to(dtype).expand(s).reshape({batches, rows, cols}).contiguous();
    };
    const Tensor x = blocks(a2, m, k), y = blocks(b2, k, n);
    Tensor out = zeros({batches, m, n}, dtype);

    visit(dtype, [&](auto tag) {
        using T = decltype(tag);
        const T* px = static_cast<const T*>(x.data_ptr());
        const T* py = static_cast<const T*>(y.data_ptr());
        T* po = static_cast<T*>(out.data_ptr());
        for (int64_t bi = 0; bi < batches; ++bi) {
            const T* xa = px + bi * m * k;
            const T* yb = py + bi * k * n;
            T* c = po + bi * m * n;
            // i-p-j order: the inner loop runs along contiguous rows of y and c.
            for (int64_t i = 0; i < m; ++i)
                for (int64_t p = 0; p < k; ++p) {
                    const T xip = xa[i * k + p];
                    for (int64_t j = 0; j < n; ++j)
                        c[i * n + j] = detail::wrap_add(c[i * n + j], detail::wrap_mul(xip, yb[p * n + j]));
                }
        }
    });

    // Result shape: the batch dims, then m unless a was 1-D, then n unless b was 1-D.
    Shape result = batch;
    if (a.dim() > 1) result.push_back(m);
    if (b.dim() > 1) result.push_back(n);
    return out.view(result);
}

}  // namespace kiln
