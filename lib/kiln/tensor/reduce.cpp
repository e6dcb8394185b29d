// Reductions: sum, mean, min, max, argmax, argmin, along one dim or over every element.
#include "kiln/tensor/loops.h"
#include "kiln/tensor/tensor.h"

namespace kiln {
namespace {

using detail::is_nan;

// Reduces t (element type T) along dim a: for every position of the other dims, calls
// fold(first, n, stride) on the line of n elements starting at `first`, `stride` elements apart,
// and stores the R it returns. Works on any strides, so transposed or sliced inputs need no copy.
template <class R, class T, class Fold>
Tensor reduce_lines(const Tensor& t, int a, bool keepdim, Fold fold) {
    Shape outer;
    Strides outer_strides{};
    for (int d = 0; d < t.dim(); ++d) {
        if (d == a) continue;
        outer_strides[outer.rank] = t.strides()[d];
        outer.push_back(t.shape()[d]);
    }
    Tensor out = empty(outer, dtype_of<R>());
    const T* in = static_cast<const T*>(t.data_ptr());
    R* po = out.data<R>();
    const int64_t n = t.shape()[a], stride = t.strides()[a];
    detail::for_each_element<2>(outer, {out.strides(), outer_strides},
                                [&](const auto& o) { po[o[0]] = fold(in + o[1], n, stride); });
    return keepdim ? out.unsqueeze(a) : out;
}

// Checks dim and calls op(T{}, tensor, resolved_dim) with T the element type. A 0-d tensor is
// reduced as a [1] tensor and the result made 0-d again (0-d stays 0-d even with keepdim).
template <class Op>
Tensor reduce(const Tensor& t, int dim, const char* what, bool needs_elements, Op op) {
    const int a = t.shape().axis(dim, what);
    if (t.dim() == 0) return reduce(t.reshape({1}), 0, what, needs_elements, op).reshape(Shape{});
    if (needs_elements && t.shape()[a] == 0)
        fail(Errc::invalid_argument, std::string(what) + ": cannot reduce dim " + std::to_string(dim) +
                                         " of size 0 in shape " + t.shape().str());
    return detail::visit(t.dtype(), [&](auto tag) { return op(tag, t, a); });
}

// The tensor as one line for a whole-tensor reduction.
Tensor flat(const Tensor& t, const char* what, bool needs_elements) {
    if (needs_elements && t.numel() == 0)
        fail(Errc::invalid_argument, std::string(what) + ": cannot reduce an empty tensor of shape " +
                                         t.shape().str());
    return t.reshape({-1});
}

// The first extreme value or its index: `better(v, best)` is v > best for max, v < best for min.
// NaN beats everything, as in PyTorch.
template <class Better> auto extreme_value(Better better) {
    return [better](const auto* p, int64_t n, int64_t stride) {
        auto best = p[0];
        for (int64_t i = 1; i < n && !is_nan(best); ++i)
            if (is_nan(p[i * stride]) || better(p[i * stride], best)) best = p[i * stride];
        return best;
    };
}

template <class Better> auto extreme_index(Better better) {
    return [better](const auto* p, int64_t n, int64_t stride) {
        int64_t best = 0;
        for (int64_t i = 1; i < n && !is_nan(p[best * stride]); ++i)
            if (is_nan(p[i * stride]) || better(p[i * stride], p[best * stride])) best = i;
        return best;
    };
}

auto greater = [](auto x, auto y) { return x > y; };
auto less = [](auto x, auto y) { return x < y; };

}  // namespace

Tensor Tensor::sum(int dim, bool keepdim) const {
    return reduce(*this, dim, "sum", false, [&](auto tag, const Tensor& t, int a) {
        using T = decltype(tag);
        // f32 sums accumulate in double; integer sums in i64 (wrapping), as PyTorch returns i64.
        using Acc = std::conditional_t<detail::is_float_v<T>, double, int64_t>;
        using R = std::conditional_t<detail::is_float_v<T>, float, int64_t>;
        return reduce_lines<R, T>(t, a, keepdim, [](const T* p, int64_t n, int64_t stride) {
            Acc acc = 0;
            for (int64_t i = 0; i < n; ++i) acc = detail::wrap_add(acc, Acc(p[i * stride]));
            return R(acc);
        });
    });
}

Tensor Tensor::mean(int dim, bool keepdim) const {
    return reduce(*this, dim, "mean", false, [&](auto tag, const Tensor& t, int a) {
        using T = decltype(tag);
        return reduce_lines<float, T>(t, a, keepdim, [](const T* p, int64_t n, int64_t stride) {
            double acc = 0;
            for (int64_t i = 0; i < n; ++i) acc += double(p[i * stride]);
            return float(acc / double(n));  // NaN for an empty line, like PyTorch
        });
    });
}

Tensor Tensor::max(int dim, bool keepdim) const {
    return reduce(*this, dim, "max", true, [&](auto tag, const Tensor& t, int a) {
        using T = decltype(tag);
        return reduce_lines<T, T>(t, a, keepdim, extreme_value(greater));
    });
}

Tensor Tensor::min(int dim, bool keepdim) const {
    return reduce(*this, dim, "min", true, [&](auto tag, const Tensor& t, int a) {
        using T = decltype(tag);
        return reduce_lines<T, T>(t, a, keepdim, extreme_value(less));
    });
}

Tensor Tensor::argmax(int dim, bool keepdim) const {
    return reduce(*this, dim, "argmax", true, [&](auto tag, const Tensor& t, int a) {
        using T = decltype(tag);
        return reduce_lines<int64_t, T>(t, a, keepdim, extreme_index(greater));
    });
}

Tensor Tensor::argmin(int dim, bool keepdim) const {
    return reduce(*this, dim, "argmin", true, [&](auto tag, const Tensor& t, int a) {
        using T = decltype(tag);
        return reduce_lines<int64_t, T>(t, a, keepdim, extreme_index(less));
    });
}

Tensor Tensor::sum() const { return flat(*this, "sum", false).sum(0); }
Tensor Tensor::mean() const { return flat(*this, "mean", false).mean(0); }
Tensor Tensor::max() const { return flat(*this, "max", true).max(0); }
Tensor Tensor::min() const { return flat(*this, "min", true).min(0); }
Tensor Tensor::argmax() const { return flat(*this, "argmax", true).argmax(0); }
Tensor Tensor::argmin() const { return flat(*this, "argmin", true).argmin(0); }

}  // namespace kiln
