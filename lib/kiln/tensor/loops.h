// Internal helpers shared by the tensor .cpp files (not installed): dtype dispatch, value
// conversion, wrapping integer arithmetic and the strided n-d loop every kernel is built on.
#pragma once
#include <array>
#include <cstdint>
#include <type_traits>

#include "kiln/tensor/tensor.h"

namespace kiln::detail {

// Calls f(T{}) where T is the C++ type of dtype; f reads it back as decltype(tag).
template <class F> decltype(auto) visit(DType dtype, F&& f) {
    switch (dtype) {
    case DType::i32: return f(int32_t{});
    case DType::i64: return f(int64_t{});
    case DType::u8: return f(uint8_t{});
    case DType::i8: return f(int8_t{});
    case DType::f32: break;
    }
    return f(float{});
}

template <class T> constexpr bool is_float_v = std::is_floating_point_v<T>;

template <class T> bool is_nan(T v) {
    if constexpr (is_float_v<T>) return v != v;
    else return false;
}

// Value conversion between element types. Float → integer truncates toward zero; NaN and values
// beyond the i64 range give 0 rather than undefined behaviour. Narrowing integers wrap.
template <class To, class From> To convert(From v) {
    if constexpr (std::is_integral_v<To> && is_float_v<From>)
        return v >= From(-9.2e18) && v <= From(9.2e18) ? static_cast<To>(static_cast<int64_t>(v)) : To(0);
    else
        return static_cast<To>(v);
}

template <class T> T scalar_as(Scalar s) {
    if constexpr (is_float_v<T>) return static_cast<T>(s.to_double());
    else return s.is_floating() ? convert<T>(s.to_double()) : static_cast<T>(s.to_int64());
}

// Signed overflow is undefined in C++, but integer tensors wrap like PyTorch's, so integer
// add/sub/mul go through the unsigned type (the conversion back wraps by definition in C++20).
template <class T> T wrap_add(T a, T b) {
    if constexpr (std::is_integral_v<T>) return T(std::make_unsigned_t<T>(a) + std::make_unsigned_t<T>(b));
    else return a + b;
}
template <class T> T wrap_sub(T a, T b) {
    if constexpr (std::is_integral_v<T>) return T(std::make_unsigned_t<T>(a) - std::make_unsigned_t<T>(b));
    else return a - b;
}
template <class T> T wrap_mul(T a, T b) {
    if constexpr (std::is_integral_v<T>) return T(std::make_unsigned_t<T>(a) * std::make_unsigned_t<T>(b));
    else return a * b;
}

// Calls fn(offsets) once for every element of `shape` in row-major order, where offsets[k] is
// the element's offset (in elements) in operand k, which walks the shape with strides[k].
// Dims that every operand steps through as one block are merged first, so contiguous operands
// run as a single flat loop.
template <size_t N, class F>
void for_each_element(const Shape& shape, std::array<Strides, N> strides, F&& fn) {
    if (shape.numel() == 0) return;
    Shape dims;  // the merged shape; strides are rewritten in place to match it
    for (int d = 0; d < shape.rank; ++d) {
        if (shape[d] == 1) continue;  // a size-1 dim never moves an offset
        bool merge = dims.rank > 0;
        for (size_t k = 0; k < N && merge; ++k)
            merge = strides[k][dims.rank - 1] == strides[k][d] * shape[d];
        int into = merge ? dims.rank - 1 : dims.rank++;
        dims[into] = merge ? dims[into] * shape[d] : shape[d];
        for (size_t k = 0; k < N; ++k) strides[k][into] = strides[k][d];
    }
    std::array<int64_t, N> base{};
    if (dims.rank == 0) {
        fn(base);
        return;
    }
    const int inner_dim = dims.rank - 1;
    const int64_t inner = dims[inner_dim];
    int64_t index[Shape::max_rank] = {};
    for (;;) {
        std::array<int64_t, N> off = base;
        for (int64_t i = 0; i < inner; ++i) {
            fn(off);
            for (size_t k = 0; k < N; ++k) off[k] += strides[k][inner_dim];
        }
        // Advance the outer dims like an odometer.
        int d = inner_dim - 1;
        for (; d >= 0; --d) {
            for (size_t k = 0; k < N; ++k) base[k] += strides[k][d];
            if (++index[d] < dims[d]) break;
            for (size_t k = 0; k < N; ++k) base[k] -= strides[k][d] * dims[d];
            index[d] = 0;
        }
        if (d < 0) return;
    }
}

}  // namespace kiln::detail
