// safetensors (https://github.com/huggingface/safetensors): the weight format PyTorch users share.
// Layout: an 8-byte little-endian header length N, N bytes of JSON, then the tensors' raw bytes:
//
//   {"__metadata__": {"format": "pt"},
//    "fc1.weight": {"dtype": "F32", "shape": [10, 2], "data_offsets": [0, 80]}, ...}
//
// data_offsets are [begin, end) relative to the first byte after the header. kiln reads and
// writes F32, I32, I64 and U8 (its own dtypes).
//
// Saving is atomic: the file is written beside the target, flushed to disk and renamed over it,
// so a crash or a failed write leaves the previous file intact. Loading validates the whole
// header against the file size before it allocates any tensor; a bad file throws
// Error(Errc::format) whose message starts with the file's path.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kiln/core/dtype.h"
#include "kiln/core/shape.h"

namespace kiln::io {

struct NamedTensor {
    std::string name;
    DType dtype = DType::f32;
    Shape shape;
    std::vector<uint8_t> data;  // shape.numel() × dtype_size(dtype) bytes, little-endian
};

using Metadata = std::map<std::string, std::string>;  // the header's "__metadata__"

struct SafetensorsFile {
    std::vector<NamedTensor> tensors;  // in the order of their data in the file
    Metadata metadata;
    const NamedTensor* find(const std::string& name) const;  // nullptr if absent
};

// Writes the tensors in the reference implementation's order (larger elements first so every
// tensor stays aligned, then by name), the header padded with spaces to a multiple of 8 bytes.
// Throws Error(invalid_argument) for duplicate names or data of the wrong size, Error(io) if the
// file cannot be written.
void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const Metadata& metadata = {});

SafetensorsFile load_safetensors(const std::string& path);
// The header's metadata alone, after the same checks of the whole header; no tensor data is read.
Metadata load_safetensors_metadata(const std::string& path);

// "F32", "I32", "I64", "U8".
const char* safetensors_dtype_name(DType dtype);

}  // namespace kiln::io
