// Tensor storage, metadata, views, indexing, copies, factories and joining.
#include "kiln/tensor/tensor.h"

#include <cmath>
#include <cstring>
#include <new>

#include "kiln/core/rng.h"
#include "kiln/tensor/loops.h"

namespace kiln {
namespace {

constexpr std::align_val_t storage_alignment{64};

Strides contiguous_strides(const Shape& shape) {
    Strides s{};
    int64_t step = 1;
    for (int d = shape.rank - 1; d >= 0; --d) {
        s[d] = step;
        step *= shape[d];
    }
    return s;
}

std::string strides_str(const Strides& s, int rank) {
    Shape as_shape;
    for (int d = 0; d < rank; ++d) as_shape.push_back(s[d]);
    return as_shape.str();
}

void check_dims(const Shape& shape, const char* what) {
    for (int d = 0; d < shape.rank; ++d)
        if (shape[d] < 0)
            fail(Errc::invalid_argument, std::string(what) + ": negative size in shape " + shape.str());
}

// Resolves a Python-style index (negative counts from the end) into [0, size).
int64_t wrap_index(int64_t index, int64_t size, const char* what, int dim, const Shape& shape) {
    int64_t i = index < 0 ? index + size : index;
    if (i < 0 || i >= size)
        fail(Errc::invalid_argument, std::string(what) + ": index " + std::to_string(index) +
                                         " is out of range for dim " + std::to_string(dim) +
                                         " of shape " + shape.str());
    return i;
}

// Replaces one -1 in `requested` by the size that makes the element count `numel`.
Shape infer_shape(const Shape& requested, int64_t numel, const Shape& from, const char* what) {
    auto invalid = [&] {
        fail(Errc::shape_mismatch, std::string(what) + ": shape " + requested.str() +
                                       " is invalid for a tensor of shape " + from.str());
    };
    Shape s = requested;
    int infer = -1;
    int64_t known = 1;  // product of the given sizes
    for (int d = 0; d < s.rank; ++d) {
        if (s[d] == -1 && infer < 0) infer = d;
        else if (s[d] < 0) invalid();
        else known *= s[d];
    }
    if (infer >= 0) {
        if (known == 0 || numel % known != 0) invalid();
        s[infer] = numel / known;
    }
    if (s.numel() != numel) invalid();
    return s;
}

// Strides that let `shape` walk the same elements as (old_shape, old_strides) in row-major
// order, or false if the memory layout does not allow it. A port of PyTorch's computeStride:
// old dims are grouped into chunks that are contiguous with each other, and each chunk must be
// split exactly by the new dims.
bool view_strides(const Shape& old_shape, const Strides& old_strides, const Shape& shape,
                  Strides& out) {
    if (old_shape.numel() <= 1 || shape.numel() == 0) {  // any strides address ≤ 1 element
        out = contiguous_strides(shape);
        return true;
    }
    int view_d = shape.rank - 1;
    int64_t chunk_base_stride = old_strides[old_shape.rank - 1];
    int64_t tensor_numel = 1, view_numel = 1;
    for (int d = old_shape.rank - 1; d >= 0; --d) {
        tensor_numel *= old_shape[d];
        bool chunk_ends = d == 0 || (old_shape[d - 1] != 1 &&
                                     old_strides[d - 1] != tensor_numel * chunk_base_stride);
        if (!chunk_ends) continue;
        while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
            out[view_d] = view_numel * chunk_base_stride;
            view_numel *= shape[view_d];
            --view_d;
        }
        if (view_numel != tensor_numel) return false;
        if (d > 0) {
            chunk_base_stride = old_strides[d - 1];
            tensor_numel = view_numel = 1;
        }
    }
    return view_d == -1;
}

}  // namespace

// ---- Construction and metadata ----

Tensor::Tensor() : shape_{0}, strides_{1} {}

Tensor::Tensor(std::shared_ptr<void> storage, DType dtype, const Shape& shape,
               const Strides& strides, int64_t offset)
    : storage_(std::move(storage)), dtype_(dtype), shape_(shape), strides_(strides), offset_(offset) {}

Tensor::Tensor(const Tensor&) = default;
Tensor::Tensor(Tensor&&) noexcept = default;
Tensor& Tensor::operator=(const Tensor&) = default;
Tensor& Tensor::operator=(Tensor&&) noexcept = default;
Tensor::~Tensor() = default;

int64_t Tensor::size(int d) const { return shape_[shape_.axis(d, "size")]; }
int64_t Tensor::stride(int d) const { return strides_[shape_.axis(d, "stride")]; }

bool Tensor::is_contiguous() const {
    int64_t expected = 1;
    for (int d = shape_.rank - 1; d >= 0; --d) {
        if (shape_[d] != 1 && strides_[d] != expected) return numel() == 0;
        expected *= shape_[d];
    }
    return true;
}

bool Tensor::shares_storage(const Tensor& other) const {
    return storage_ != nullptr && storage_ == other.storage_;
}

void* Tensor::data_ptr() const {
    return static_cast<char*>(storage_.get()) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
}

void Tensor::check_dtype(DType expected, const char* what) const {
    if (dtype_ != expected)
        fail(Errc::invalid_argument, std::string(what) + ": tensor is " + dtype_name(dtype_) +
                                         ", not " + dtype_name(expected));
}

void* Tensor::element_ptr(std::initializer_list<int64_t> index, DType expected) const {
    check_dtype(expected, "at");
    if (static_cast<int>(index.size()) != shape_.rank)
        fail(Errc::invalid_argument, "at: " + std::to_string(index.size()) +
                                         " indices given for a tensor of shape " + shape_.str());
    int64_t off = offset_;
    int d = 0;
    for (int64_t i : index) {
        off += wrap_index(i, shape_[d], "at", d, shape_) * strides_[d];
        ++d;
    }
    return static_cast<char*>(storage_.get()) + off * static_cast<int64_t>(dtype_size(dtype_));
}

Tensor Tensor::with_layout(const Shape& shape, const Strides& strides, int64_t offset) const {
    return Tensor(storage_, dtype_, shape, strides, offset);
}

// ---- Views ----

Tensor Tensor::view(const Shape& requested) const {
    Shape shape = infer_shape(requested, numel(), shape_, "view");
    Strides strides{};
    if (!view_strides(shape_, strides_, shape, strides))
        fail(Errc::invalid_argument, "view: a tensor of shape " + shape_.str() + " and strides " +
                                         strides_str(strides_, shape_.rank) +
                                         " cannot be viewed as " + shape.str() + "; use reshape");
    return with_layout(shape, strides, offset_);
}

Tensor Tensor::reshape(const Shape& requested) const {
    Shape shape = infer_shape(requested, numel(), shape_, "reshape");
    Strides strides{};
    if (view_strides(shape_, strides_, shape, strides)) return with_layout(shape, strides, offset_);
    return clone().view(shape);
}

Tensor Tensor::flatten(int start_dim, int end_dim) const {
    if (shape_.rank == 0) return reshape({1});
    int start = shape_.axis(start_dim, "flatten"), stop = shape_.axis(end_dim, "flatten");
    if (start > stop)
        fail(Errc::invalid_argument, "flatten: start_dim " + std::to_string(start_dim) +
                                         " comes after end_dim " + std::to_string(end_dim));
    Shape shape;
    for (int d = 0; d < start; ++d) shape.push_back(shape_[d]);
    int64_t merged = 1;
    for (int d = start; d <= stop; ++d) merged *= shape_[d];
    shape.push_back(merged);
    for (int d = stop + 1; d < shape_.rank; ++d) shape.push_back(shape_[d]);
    return reshape(shape);
}

Tensor Tensor::permute(const std::vector<int>& dims) const {
    if (static_cast<int>(dims.size()) != shape_.rank)
        fail(Errc::invalid_argument, "permute: " + std::to_string(dims.size()) +
                                         " dims given for a tensor of shape " + shape_.str());
    Shape shape = shape_;
    Strides strides{};
    bool used[Shape::max_rank] = {};
    for (int d = 0; d < shape_.rank; ++d) {
        int from = shape_.axis(dims[d], "permute");
        if (used[from])
            fail(Errc::invalid_argument, "permute: dim " + std::to_string(dims[d]) + " repeats");
        used[from] = true;
        shape[d] = shape_[from];
        strides[d] = strides_[from];
    }
    return with_layout(shape, strides, offset_);
}

Tensor Tensor::transpose(int dim0, int dim1) const {
    int a = shape_.axis(dim0, "transpose"), b = shape_.axis(dim1, "transpose");
    if (shape_.rank == 0) return *this;
    Shape shape = shape_;
    Strides strides = strides_;
    std::swap(shape[a], shape[b]);
    std::swap(strides[a], strides[b]);
    return with_layout(shape, strides, offset_);
}

Tensor Tensor::squeeze() const {
    Shape shape;
    Strides strides{};
    for (int d = 0; d < shape_.rank; ++d) {
        if (shape_[d] == 1) continue;
        strides[shape.rank] = strides_[d];
        shape.push_back(shape_[d]);
    }
    return with_layout(shape, strides, offset_);
}

Tensor Tensor::squeeze(int dim) const {
    int a = shape_.axis(dim, "squeeze");
    if (shape_.rank == 0 || shape_[a] != 1) return *this;
    Shape shape;
    Strides strides{};
    for (int d = 0; d < shape_.rank; ++d) {
        if (d == a) continue;
        strides[shape.rank] = strides_[d];
        shape.push_back(shape_[d]);
    }
    return with_layout(shape, strides, offset_);
}

Tensor Tensor::unsqueeze(int dim) const {
    int a = dim < 0 ? dim + shape_.rank + 1 : dim;
    if (a < 0 || a > shape_.rank)
        fail(Errc::invalid_argument, "unsqueeze: dim " + std::to_string(dim) +
                                         " is out of range for shape " + shape_.str());
    Shape shape;
    Strides strides{};
    for (int d = 0; d <= shape_.rank; ++d) {
        if (d == a) {
            // Any stride works for a size-1 dim; this one keeps contiguous tensors contiguous.
            strides[shape.rank] = d < shape_.rank ? strides_[d] * shape_[d] : 1;
            shape.push_back(1);
        }
        if (d < shape_.rank) {
            strides[shape.rank] = strides_[d];
            shape.push_back(shape_[d]);
        }
    }
    return with_layout(shape, strides, offset_);
}

Tensor Tensor::expand(const Shape& target) const {
    auto mismatch = [&] {
        fail(Errc::shape_mismatch, "expand: a tensor of shape " + shape_.str() +
                                       " cannot be expanded to " + target.str());
    };
    if (target.rank < shape_.rank) mismatch();
    Shape shape = target;
    Strides strides{};
    const int lead = target.rank - shape_.rank;  // new dims prepended on the left
    for (int d = 0; d < target.rank; ++d) {
        int src = d - lead;
        int64_t have = src >= 0 ? shape_[src] : 1;
        int64_t want = target[d] == -1 && src >= 0 ? have : target[d];
        if (want < 0 || (have != want && have != 1)) mismatch();
        shape[d] = want;
        strides[d] = src >= 0 && have == want ? strides_[src] : 0;
    }
    return with_layout(shape, strides, offset_);
}

// ---- Indexing ----

Tensor Tensor::select(int dim, int64_t index) const {
    if (shape_.rank == 0)
        fail(Errc::invalid_argument, "select: cannot index a 0-d tensor");
    int a = shape_.axis(dim, "select");
    int64_t i = wrap_index(index, shape_[a], "select", a, shape_);
    Shape shape;
    Strides strides{};
    for (int d = 0; d < shape_.rank; ++d) {
        if (d == a) continue;
        strides[shape.rank] = strides_[d];
        shape.push_back(shape_[d]);
    }
    return with_layout(shape, strides, offset_ + i * strides_[a]);
}

Tensor Tensor::slice(int dim, int64_t start, int64_t stop, int64_t step) const {
    if (shape_.rank == 0)
        fail(Errc::invalid_argument, "slice: cannot slice a 0-d tensor");
    int a = shape_.axis(dim, "slice");
    if (step <= 0)
        fail(Errc::invalid_argument, "slice: step must be positive, got " + std::to_string(step));
    const int64_t n = shape_[a];
    auto clamp_bound = [n](int64_t b) {
        if (b < 0) b += n;
        return b < 0 ? 0 : b > n ? n : b;
    };
    start = clamp_bound(start);
    stop = clamp_bound(stop);
    Shape shape = shape_;
    Strides strides = strides_;
    shape[a] = stop > start ? (stop - start + step - 1) / step : 0;
    strides[a] = strides_[a] * step;
    return with_layout(shape, strides, offset_ + start * strides_[a]);
}

// ---- Writing and copies ----

Tensor& Tensor::fill_(Scalar value) {
    detail::visit(dtype_, [&](auto tag) {
        using T = decltype(tag);
        T v = detail::scalar_as<T>(value);
        T* p = static_cast<T*>(data_ptr());
        detail::for_each_element<1>(shape_, {strides_}, [&](const auto& o) { p[o[0]] = v; });
    });
    return *this;
}

Tensor& Tensor::copy_from(const Tensor& source) {
    Tensor src;
    try {
        src = source.expand(shape_);
    } catch (const Error&) {
        fail(Errc::shape_mismatch, "copy_from: a tensor of shape " + source.shape().str() +
                                       " cannot be broadcast to " + shape_.str());
    }
    if (shares_storage(src)) src = src.clone();  // overlapping memory: read from a snapshot
    detail::visit(dtype_, [&](auto dst_tag) {
        using D = decltype(dst_tag);
        D* out = static_cast<D*>(data_ptr());
        detail::visit(src.dtype_, [&](auto src_tag) {
            using S = decltype(src_tag);
            const S* in = static_cast<const S*>(src.data_ptr());
            detail::for_each_element<2>(shape_, {strides_, src.strides_}, [&](const auto& o) {
                out[o[0]] = detail::convert<D>(in[o[1]]);
            });
        });
    });
    return *this;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::clone() const { return empty(shape_, dtype_).copy_from(*this); }

Tensor Tensor::to(DType dtype) const {
    return dtype == dtype_ ? *this : empty(shape_, dtype).copy_from(*this);
}

// ---- Factories ----

Tensor empty(const Shape& shape, DType dtype) {
    check_dims(shape, "empty");
    const size_t bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
    std::shared_ptr<void> storage(::operator new(bytes, storage_alignment),
                                  [](void* p) { ::operator delete(p, storage_alignment); });
    return Tensor(std::move(storage), dtype, shape, contiguous_strides(shape), 0);
}

Tensor zeros(const Shape& shape, DType dtype) {
    check_dims(shape, "zeros");
    Tensor t = empty(shape, dtype);
    std::memset(t.data_ptr(), 0, static_cast<size_t>(t.numel()) * dtype_size(dtype));  // 0 is all-zero bits in every dtype
    return t;
}

Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1, dtype); }

Tensor full(const Shape& shape, Scalar value, DType dtype) {
    check_dims(shape, "full");
    Tensor t = empty(shape, dtype);
    t.fill_(value);
    return t;
}

Tensor arange(Scalar end) { return arange(0, end, 1); }

Tensor arange(Scalar start, Scalar end, Scalar step) {
    const bool integral = !start.is_floating() && !end.is_floating() && !step.is_floating();
    const double span = end.to_double() - start.to_double(), s = step.to_double();
    if (s == 0) fail(Errc::invalid_argument, "arange: step must be nonzero");
    if (span != 0 && (span > 0) != (s > 0))
        fail(Errc::invalid_argument, "arange: step " + std::to_string(s) + " never goes from " +
                                         std::to_string(start.to_double()) + " to " +
                                         std::to_string(end.to_double()));
    if (integral) {
        const int64_t a = start.to_int64(), st = step.to_int64(), diff = end.to_int64() - a;
        const int64_t n = (diff + st - (st > 0 ? 1 : -1)) / st;  // ceil(diff / st)
        Tensor t = empty({n}, DType::i64);
        int64_t* p = t.data<int64_t>();
        for (int64_t i = 0; i < n; ++i) p[i] = a + i * st;
        return t;
    }
    const auto n = static_cast<int64_t>(std::ceil(span / s));
    Tensor t = empty({n}, DType::f32);
    float* p = t.data<float>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(start.to_double() + double(i) * s);
    return t;
}

Tensor linspace(double start, double end, int64_t steps) {
    if (steps < 0)
        fail(Errc::invalid_argument, "linspace: steps must be non-negative, got " + std::to_string(steps));
    Tensor t = empty({steps}, DType::f32);
    float* p = t.data<float>();
    if (steps == 1) p[0] = static_cast<float>(start);
    // Like PyTorch, the first half counts up from start and the second half down from end, so
    // both endpoints are exact.
    const double step = steps > 1 ? (end - start) / double(steps - 1) : 0;
    for (int64_t i = 0; i < steps && steps > 1; ++i)
        p[i] = static_cast<float>(i < steps / 2 ? start + step * double(i)
                                                : end - step * double(steps - 1 - i));
    return t;
}

Tensor rand(const Shape& shape, Generator& gen) {
    check_dims(shape, "rand");
    Tensor t = empty(shape, DType::f32);
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen.uniform();
    return t;
}

Tensor randn(const Shape& shape, Generator& gen) {
    check_dims(shape, "randn");
    Tensor t = empty(shape, DType::f32);
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen.normal();
    return t;
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen) {
    check_dims(shape, "randint");
    if (high <= low)
        fail(Errc::invalid_argument, "randint: empty range [" + std::to_string(low) + ", " +
                                         std::to_string(high) + ")");
    Tensor t = empty(shape, DType::i64);
    int64_t* p = t.data<int64_t>();
    const auto range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = low + static_cast<int64_t>(gen.below(range));
    return t;
}

Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
Tensor full_like(const Tensor& t, Scalar value) { return full(t.shape(), value, t.dtype()); }

Tensor rand_like(const Tensor& t, Generator& gen) {
    if (t.dtype() != DType::f32)
        fail(Errc::invalid_argument, std::string("rand_like: needs an f32 tensor, got ") + dtype_name(t.dtype()));
    return rand(t.shape(), gen);
}

Tensor randn_like(const Tensor& t, Generator& gen) {
    if (t.dtype() != DType::f32)
        fail(Errc::invalid_argument, std::string("randn_like: needs an f32 tensor, got ") + dtype_name(t.dtype()));
    return randn(t.shape(), gen);
}

Tensor from_data(const void* data, DType dtype, const Shape& shape) {
    check_dims(shape, "from_data");
    Tensor t = empty(shape, dtype);
    if (t.numel() > 0) std::memcpy(t.data_ptr(), data, static_cast<size_t>(t.numel()) * dtype_size(dtype));
    return t;
}

Tensor scalar_tensor(Scalar value) {
    return scalar_tensor(value, value.is_floating() ? DType::f32 : DType::i64);
}

Tensor scalar_tensor(Scalar value, DType dtype) { return full(Shape{}, value, dtype); }

// ---- Joining ----

Tensor cat(const std::vector<Tensor>& tensors, int dim) {
    if (tensors.empty()) fail(Errc::invalid_argument, "cat: needs at least one tensor");
    const Shape& first = tensors[0].shape();
    if (first.rank == 0) fail(Errc::invalid_argument, "cat: cannot concatenate 0-d tensors");
    const int a = first.axis(dim, "cat");
    Shape shape = first;
    shape[a] = 0;
    DType dtype = tensors[0].dtype();
    for (size_t i = 0; i < tensors.size(); ++i) {
        const Shape& s = tensors[i].shape();
        bool fits = s.rank == first.rank;
        for (int d = 0; d < s.rank && fits; ++d) fits = d == a || s[d] == first[d];
        if (!fits)
            fail(Errc::shape_mismatch, "cat: shapes " + first.str() + " and " + s.str() +
                                           " differ outside dim " + std::to_string(a));
        shape[a] += s[a];
        dtype = promote_types(dtype, tensors[i].dtype());
    }
    Tensor out = empty(shape, dtype);
    int64_t at = 0;
    for (const Tensor& t : tensors) {
        out.slice(a, at, at + t.size(a)).copy_from(t);
        at += t.size(a);
    }
    return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int dim) {
    if (tensors.empty()) fail(Errc::invalid_argument, "stack: needs at least one tensor");
    std::vector<Tensor> parts;
    for (const Tensor& t : tensors) {
        if (!(t.shape() == tensors[0].shape()))
            fail(Errc::shape_mismatch, "stack: shapes " + tensors[0].shape().str() + " and " +
                                           t.shape().str() + " differ");
        parts.push_back(t.unsqueeze(dim));
    }
    return cat(parts, dim < 0 ? dim + tensors[0].dim() + 1 : dim);
}

}  // namespace kiln
