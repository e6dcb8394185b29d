// Shape: up to 6 dimensions held inline, so shapes can be copied on hot paths without the heap.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>

namespace kiln {

struct Shape {
    static constexpr int max_rank = 6;
    int64_t dims[max_rank] = {};
    int rank = 0;

    Shape() = default;
    Shape(std::initializer_list<int64_t> d);  // throws Error if more than max_rank dims

    int64_t operator[](int i) const { return dims[i]; }
    int64_t& operator[](int i) { return dims[i]; }
    // The product of the dimensions; INT64_MAX when it overflows (never undefined behaviour).
    // Shapes from outside are checked with limits::checked_numel before they are used.
    int64_t numel() const {
        int64_t n = 1;
        for (int i = 0; i < rank; ++i)
            if (__builtin_mul_overflow(n, dims[i], &n)) return INT64_MAX;
        return n;
    }
    int64_t back() const { return dims[rank - 1]; }
    void push_back(int64_t d);  // throws Error past max_rank
    // Resolves a negative axis (-1 = last) and checks it; `what` names the caller in the error.
    int axis(int a, const char* what) const;
    std::string str() const;  // "[32, 784]"

    friend bool operator==(const Shape& a, const Shape& b) {
        if (a.rank != b.rank) return false;
        for (int i = 0; i < a.rank; ++i)
            if (a.dims[i] != b.dims[i]) return false;
        return true;
    }
};

// Numpy/PyTorch broadcasting of two shapes; throws Error(shape_mismatch) naming both and `what`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* what);

}  // namespace kiln
