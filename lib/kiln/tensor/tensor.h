// kiln::Tensor — an eager, host-memory n-d array in the spirit of torch.Tensor.
//
// A Tensor is a view: a dtype, a shape, strides (in elements) and an offset into 64-byte-aligned
// storage shared by every view of it. view/reshape (when possible), flatten, permute, transpose,
// squeeze, unsqueeze, expand, select/operator[] and slice return views, so writing through one
// changes the tensor it came from; clone() and contiguous() (when needed) copy. Copying a Tensor
// object is cheap and aliases the same storage, like assigning a torch.Tensor in Python.
//
// Dtype rules (kept simple, PyTorch-like):
// - tensor ⊕ tensor: f32 if either is f32, else i64 if either is i64, else i32 if either is i32
//   or they are i8 and u8 (PyTorch's int16, which kiln lacks), else their dtype (u8 or i8).
// - tensor ⊕ scalar: an integral scalar keeps the tensor's dtype; a floating scalar turns an
//   integer tensor into f32.
// - division is true division, so integers divide to f32; exp/log/sqrt/sigmoid/tanh of integers
//   give f32; comparisons give u8 (0 or 1); sum of integers gives i64; mean always gives f32;
//   argmax/argmin give i64.
// - integer arithmetic wraps on overflow; float → integer conversion truncates toward zero.
//
// Every user mistake throws kiln::Error naming the function and the shapes involved.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "kiln/core/dtype.h"
#include "kiln/core/error.h"
#include "kiln/core/shape.h"

namespace kiln {

class Generator;

// A number handed to a tensor op. It remembers whether it was written as an integer or a
// floating-point value so that `int_tensor + 2` stays integral while `int_tensor + 0.5` is f32.
class Scalar {
public:
    template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
    Scalar(T v) : floating_(std::is_floating_point_v<T>), d_(static_cast<double>(v)), i_(to_int(v)) {}

    bool is_floating() const { return floating_; }
    double to_double() const { return d_; }
    int64_t to_int64() const { return i_; }

private:
    template <class T> static int64_t to_int(T v) {
        // Integers stay exact (a double loses precision past 2^53); floats truncate like a cast,
        // with NaN and out-of-range values mapped to 0 instead of undefined behaviour.
        if constexpr (std::is_integral_v<T>) return static_cast<int64_t>(v);
        else return v >= -9.2e18 && v <= 9.2e18 ? static_cast<int64_t>(v) : 0;
    }
    bool floating_;
    double d_;
    int64_t i_;
};

// The element type kiln stores for a C++ number type: floating → float (f32), bool and uint8_t
// → uint8_t (u8), other integers up to 32 bits → int32_t (i32), the rest → int64_t (i64).
template <class T>
using stored_t = std::conditional_t<
    std::is_floating_point_v<T>, float,
    std::conditional_t<sizeof(T) == 1 && std::is_unsigned_v<T>, uint8_t,
                       std::conditional_t<(sizeof(T) < 4 || (sizeof(T) == 4 && std::is_signed_v<T>)),
                                          int32_t, int64_t>>>;
template <class T> constexpr DType dtype_for() { return dtype_of<stored_t<T>>(); }

using Strides = std::array<int64_t, Shape::max_rank>;

class Tensor {
public:
    // An empty 1-D f32 tensor (shape [0]) without storage, like torch.Tensor().
    Tensor();
    // Adopts raw parts; storage must hold every element the shape, strides and offset reach.
    // The factories below are the usual way to make a tensor.
    Tensor(std::shared_ptr<void> storage, DType dtype, const Shape& shape, const Strides& strides,
           int64_t offset);
    // Defined out of line so that code using many temporary tensors does not inline the shared
    // storage's reference counting at every one (it costs compile time, not speed).
    Tensor(const Tensor&);
    Tensor(Tensor&&) noexcept;
    Tensor& operator=(const Tensor&);
    Tensor& operator=(Tensor&&) noexcept;
    ~Tensor();

    // ---- Metadata ----
    DType dtype() const { return dtype_; }
    const Shape& shape() const { return shape_; }
    int dim() const { return shape_.rank; }
    int64_t size(int d) const;  // negative d counts from the end
    int64_t numel() const { return shape_.numel(); }
    const Strides& strides() const { return strides_; }  // the first dim() entries are used
    int64_t stride(int d) const;
    int64_t storage_offset() const { return offset_; }
    bool is_contiguous() const;
    bool shares_storage(const Tensor& other) const;

    // Pointer to the first element (the offset applied). data<T>() throws if T is not the dtype.
    void* data_ptr() const;
    template <class T> T* data() const {
        check_dtype(dtype_of<T>(), "data");
        return static_cast<T*>(data_ptr());
    }

    // ---- Views (share storage) ----
    // view needs the new shape to be expressible with strides over the same memory and throws
    // otherwise; reshape is a view when possible and a copy when not. One dim may be -1.
    Tensor view(const Shape& shape) const;
    Tensor reshape(const Shape& shape) const;
    Tensor flatten(int start_dim = 0, int end_dim = -1) const;  // reshape-like: a view if possible
    Tensor permute(const std::vector<int>& dims) const;
    Tensor transpose(int dim0, int dim1) const;
    Tensor squeeze() const;          // drops every size-1 dim
    Tensor squeeze(int dim) const;   // drops dim if its size is 1, else returns the same view
    Tensor unsqueeze(int dim) const; // inserts a size-1 dim; dim in [-dim()-1, dim()]
    // Broadcasts size-1 dims (stride 0) and prepends new ones; -1 keeps a size. Do not write
    // through an expanded tensor: several elements share one memory location.
    Tensor expand(const Shape& shape) const;

    // ---- Indexing (views; negative indices count from the end, as in Python) ----
    Tensor select(int dim, int64_t index) const;  // removes dim
    Tensor operator[](int64_t index) const { return select(0, index); }
    // Python's t[start:stop:step] along dim: out-of-range bounds are clamped; step must be > 0.
    static constexpr int64_t to_end = std::numeric_limits<int64_t>::max();
    Tensor slice(int dim, int64_t start, int64_t stop = to_end, int64_t step = 1) const;

    // ---- Element access ----
    // The single element of a one-element tensor, converted to T.
    template <class T> T item() const;
    // A reference to one element, for reading or assigning; T must be the dtype's C++ type and
    // there must be one index per dim.
    template <class T> T& at(std::initializer_list<int64_t> index) const {
        return *static_cast<T*>(element_ptr(index, dtype_of<T>()));
    }
    // All elements in row-major order, converted to T.
    template <class T> std::vector<T> to_vector() const;

    // ---- Writing in place (through views too) ----
    Tensor& fill_(Scalar value);
    // Copies src, broadcast to this shape and converted to this dtype, into this tensor.
    Tensor& copy_from(const Tensor& src);

    // ---- Copies ----
    Tensor contiguous() const;     // this tensor itself if already contiguous
    Tensor clone() const;          // always a fresh contiguous copy
    Tensor to(DType dtype) const;  // this tensor itself if the dtype already matches

    // ---- Reductions (dim may be negative; keepdim leaves a size-1 dim in its place) ----
    // Without dim they reduce every element to a 0-d tensor.
    Tensor sum() const;
    Tensor sum(int dim, bool keepdim = false) const;
    Tensor mean() const;
    Tensor mean(int dim, bool keepdim = false) const;
    Tensor min() const;
    Tensor min(int dim, bool keepdim = false) const;
    Tensor max() const;
    Tensor max(int dim, bool keepdim = false) const;
    // Index of the first extreme value (NaN counts as extreme); without dim, the index into the
    // flattened tensor.
    Tensor argmax() const;
    Tensor argmax(int dim, bool keepdim = false) const;
    Tensor argmin() const;
    Tensor argmin(int dim, bool keepdim = false) const;

    // PyTorch-style printout, e.g. "tensor([[1., 2.],\n        [3., 4.]])".
    std::string str() const;

private:
    void check_dtype(DType expected, const char* what) const;
    void* element_ptr(std::initializer_list<int64_t> index, DType expected) const;
    Tensor with_layout(const Shape& shape, const Strides& strides, int64_t offset) const;

    std::shared_ptr<void> storage_;
    DType dtype_ = DType::f32;
    Shape shape_;
    Strides strides_{};
    int64_t offset_ = 0;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- Factories (dtype defaults to f32, as in PyTorch) ----
Tensor empty(const Shape& shape, DType dtype = DType::f32);  // uninitialised
Tensor zeros(const Shape& shape, DType dtype = DType::f32);
Tensor ones(const Shape& shape, DType dtype = DType::f32);
Tensor full(const Shape& shape, Scalar value, DType dtype = DType::f32);
// start, start+step, … up to but excluding end. i64 when every argument is an integer, f32
// otherwise.
Tensor arange(Scalar end);
Tensor arange(Scalar start, Scalar end, Scalar step = 1);
// `steps` evenly spaced f32 values; the first is exactly start and the last exactly end.
Tensor linspace(double start, double end, int64_t steps);
Tensor rand(const Shape& shape, Generator& gen);   // f32 uniform in [0, 1)
Tensor randn(const Shape& shape, Generator& gen);  // f32 standard normal
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen);  // i64 in [low, high)
Tensor empty_like(const Tensor& t);  // same shape and dtype
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, Scalar value);
Tensor rand_like(const Tensor& t, Generator& gen);   // t must be f32
Tensor randn_like(const Tensor& t, Generator& gen);  // t must be f32

// Copies shape.numel() elements of `dtype`, laid out row-major, from C++ memory.
Tensor from_data(const void* data, DType dtype, const Shape& shape);
// The dtype follows the element type (see stored_t: float/double → f32, int → i32,
// int64_t → i64, uint8_t → u8); values.size() must equal shape.numel().
template <class T> Tensor from_vector(const std::vector<T>& values, const Shape& shape);
template <class T> Tensor from_vector(const std::vector<T>& values) {
    return from_vector(values, Shape{static_cast<int64_t>(values.size())});
}
// tensor({1.f, 2.f, 3.f, 4.f}, {2, 2}), tensor({1, 2, 3}) or tensor({{1, 2}, {3, 4}}).
template <class T> Tensor tensor(std::initializer_list<T> values, const Shape& shape) {
    return from_vector(std::vector<T>(values), shape);
}
template <class T> Tensor tensor(std::initializer_list<T> values) {
    return from_vector(std::vector<T>(values));
}
template <class T> Tensor tensor(std::initializer_list<std::initializer_list<T>> rows);
// A 0-d tensor holding one value: f32 for a floating scalar, i64 for an integral one, unless a
// dtype is given.
Tensor scalar_tensor(Scalar value);
Tensor scalar_tensor(Scalar value, DType dtype);

// ---- Joining (dtypes are promoted as for arithmetic) ----
Tensor cat(const std::vector<Tensor>& tensors, int dim = 0);    // same sizes except along dim
Tensor stack(const std::vector<Tensor>& tensors, int dim = 0);  // same shapes; inserts a new dim

// ---- Elementwise math with numpy broadcasting ----
DType promote_types(DType a, DType b);
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);  // true division
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);  // NaN propagates
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, Scalar b);
Tensor sub(const Tensor& a, Scalar b);
Tensor mul(const Tensor& a, Scalar b);
Tensor div(const Tensor& a, Scalar b);
Tensor pow(const Tensor& a, Scalar exponent);

Tensor neg(const Tensor& t);
Tensor abs(const Tensor& t);
Tensor exp(const Tensor& t);
Tensor log(const Tensor& t);
Tensor sqrt(const Tensor& t);
Tensor relu(const Tensor& t);
Tensor sigmoid(const Tensor& t);
Tensor tanh(const Tensor& t);
Tensor clamp(const Tensor& t, Scalar lo, Scalar hi);  // min(max(t, lo), hi)

// Comparisons give u8 tensors of 0/1.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, Scalar b);
Tensor ne(const Tensor& a, Scalar b);
Tensor lt(const Tensor& a, Scalar b);
Tensor le(const Tensor& a, Scalar b);
Tensor gt(const Tensor& a, Scalar b);
Tensor ge(const Tensor& a, Scalar b);

// Whole-tensor checks like torch.equal (same shape and values) and torch.allclose
// (|a - b| <= atol + rtol·|b| everywhere after broadcasting; NaN is never close).
bool equal(const Tensor& a, const Tensor& b);
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, Scalar b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, Scalar b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, Scalar b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, Scalar b) { return div(a, b); }
Tensor operator+(Scalar a, const Tensor& b);
Tensor operator-(Scalar a, const Tensor& b);
Tensor operator*(Scalar a, const Tensor& b);
Tensor operator/(Scalar a, const Tensor& b);
inline Tensor operator-(const Tensor& t) { return neg(t); }

// ---- Linear algebra ----
// torch.matmul: 1-D·1-D is a dot product, 2-D·2-D a matrix product, a 1-D operand acts as a row
// (left) or column (right) vector whose dim is removed from the result, and ≥3-D operands are
// batches of matrices whose batch dims broadcast. A mismatch throws Errc::shape_mismatch naming
// both shapes: "matmul: shapes [3, 4] and [5, 6] do not match (4 != 5)".
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- Template definitions ----
template <class T> T Tensor::item() const {
    if (numel() != 1)
        fail(Errc::invalid_argument, "item: tensor of shape " + shape_.str() + " has " +
                                         std::to_string(numel()) + " elements, not 1");
    return to_vector<T>()[0];
}

template <class T> std::vector<T> Tensor::to_vector() const {
    Tensor c = to(dtype_for<T>()).contiguous();
    const auto* p = static_cast<const stored_t<T>*>(c.data_ptr());
    return std::vector<T>(p, p + c.numel());
}

template <class T> Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
    if (static_cast<int64_t>(values.size()) != shape.numel())
        fail(Errc::shape_mismatch, "from_vector: " + std::to_string(values.size()) +
                                       " values do not fill shape " + shape.str());
    if constexpr (std::is_same_v<T, stored_t<T>>) {
        return from_data(values.data(), dtype_for<T>(), shape);
    } else {
        std::vector<stored_t<T>> converted(values.begin(), values.end());
        return from_data(converted.data(), dtype_for<T>(), shape);
    }
}

template <class T> Tensor tensor(std::initializer_list<std::initializer_list<T>> rows) {
    const size_t cols = rows.size() ? rows.begin()->size() : 0;
    std::vector<T> values;
    for (const auto& row : rows) {
        if (row.size() != cols)
            fail(Errc::invalid_argument, "tensor: rows have different lengths (" +
                                             std::to_string(cols) + " and " +
                                             std::to_string(row.size()) + ")");
        values.insert(values.end(), row.begin(), row.end());
    }
    return from_vector(values, Shape{static_cast<int64_t>(rows.size()), static_cast<int64_t>(cols)});
}

}  // namespace kiln
