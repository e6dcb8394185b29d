// The largest sizes kiln accepts, and overflow-safe arithmetic to check sizes against them.
// Every size that comes from outside — a model file, a checkpoint, a dataset file, a plugin, the
// command line — is checked here before anything is allocated for it or computed from it, so no
// file can make kiln overflow an integer or ask the allocator for an absurd amount. The caps are far
// above what the course's models need (resnet_mini has 0.2 M parameters) and far below where 64-bit
// byte counts and arena offsets could overflow. A machine may still lack the memory for a size
// within them: where kiln allocates such a size, a failure is an Error naming it, not bad_alloc.
#pragma once
#include <cstdint>
#include <string>

#include "kiln/core/shape.h"

namespace kiln::limits {

// One dimension of any tensor (a model file's sizes, an image side, a safetensors dimension).
inline constexpr int64_t dim = INT32_MAX;
// The elements of any one tensor of a graph (2^36: 256 GiB of f32), so that every tensor's bytes,
// and the sum of a whole schedule of them, fit in 64 bits with room to spare.
inline constexpr int64_t tensor_elements = int64_t(1) << 36;
// All the parameters of one model (2^28: 1 GiB of f32), the default of Graph::max_parameters.
inline constexpr int64_t parameters = int64_t(1) << 28;
// One decoded or transformed sample as a plugin delivers it (1 GiB).
inline constexpr int64_t sample_bytes = int64_t(1) << 30;
// One batch buffer of the DataLoader (16 GiB).
inline constexpr int64_t batch_bytes = int64_t(1) << 34;
// Samples of a dataset (the loader keeps an index of 8 bytes per sample).
inline constexpr int64_t samples = int64_t(1) << 32;
// Classes of a dataset or model.
inline constexpr int64_t classes = int64_t(1) << 20;
// How deeply a model file may nest Sequential and Residual entries.
inline constexpr int nesting = 64;

// a · b into out; false when it overflows int64 (the operands are sizes, so ≥ 0).
inline bool mul(int64_t a, int64_t b, int64_t& out) { return !__builtin_mul_overflow(a, b, &out); }
inline bool add(int64_t a, int64_t b, int64_t& out) { return !__builtin_add_overflow(a, b, &out); }

// The number of elements of `shape`, after checking each dimension is in 1..limits::dim (0 too
// when `allow_empty`) and the product is at most `max_elements`. Throws Error(invalid_argument)
// that starts with `what` and names the shape and the limit.
int64_t checked_numel(const Shape& shape, const std::string& what, int64_t max_elements = tensor_elements,
                      bool allow_empty = false);

// "268,435,456" — limits are quoted in messages with thousands separators.
std::string with_commas(int64_t v);

}  // namespace kiln::limits
