// Reading one IDX file (raw or gzip-compressed) with every size checked against the data that is
// really there before anything is allocated for it.
//
// IDX layout: 2 zero bytes, a type byte (0x08 = unsigned byte, the only type read here), a byte with
// the number of dimensions, then each dimension as a big-endian u32, then the data, row-major.
// A raw file's length must equal header + product of the dimensions. A gzip file's decompressed
// length is unknown until it has been decompressed, so its buffer grows with the data that actually
// arrives (never to what the header claims) and must end exactly where the header says.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kiln/data/plugin.h"

namespace kiln_idx {

// Thrown inside the plugin only; the C entry points turn it into a status and a message.
struct Failure : std::runtime_error {
    Failure(kiln_status s, const std::string& message) : std::runtime_error(message), status(s) {}
    kiln_status status;
};

struct IdxArray {
    std::vector<uint32_t> dims;
    std::vector<uint8_t> data;  // product(dims) bytes
};

// Reads `path`, which must hold unsigned bytes in `ndim` dimensions, none of them 0. `what` names
// the content for messages ("images", "labels"); dim_names names each dimension ("count", "rows"…).
// Throws Failure with a message beginning with the path.
IdxArray read_idx(const std::string& path, int ndim, const char* what, const char* const* dim_names);

}  // namespace kiln_idx
