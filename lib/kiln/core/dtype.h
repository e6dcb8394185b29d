// Element types kiln stores. f32 is the compute type; i32/i64 hold class labels and counters
// (BatchNorm's num_batches_tracked is i64, as in PyTorch); u8 holds decoded images; i8 holds the
// codes of int8 inference (issue 15: weights and activations, with i32 biases and multipliers).
#pragma once
#include <cstddef>
#include <cstdint>

namespace kiln {

enum class DType : uint8_t { f32, i32, i64, u8, i8 };  // the last is DType::i8 (formats check against it)

constexpr size_t dtype_size(DType t) {
    switch (t) {
    case DType::f32: return 4;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::u8: return 1;
    case DType::i8: return 1;
    }
    return 0;
}

constexpr const char* dtype_name(DType t) {
    switch (t) {
    case DType::f32: return "f32";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::u8: return "u8";
    case DType::i8: return "i8";
    }
    return "?";
}

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }
template <> constexpr DType dtype_of<int8_t>() { return DType::i8; }

}  // namespace kiln
