// The program format: a compiled model as one block of bytes — what kiln-export writes (as a file,
// or as a C array in flash) and what the micro runtime (micro.h) runs in the caller's arena.
// Everything is little-endian with fixed-width fields at their natural alignment; the block starts
// 8-byte aligned.
//
//   Header                              at 0
//   TensorRecord[n_tensors]             every tensor a step touches: region, offset, dtype, shape
//   StepRecord[n_steps]                 the schedule: op, attributes, tensor indices, scratch
//   StateRecord[n_state]                named parameters, buffers and optimizer state
//   strings                             NUL-terminated names (state entries, classes, the model)
//   state image                         the persistent region's initial bytes (the weights)
//
// A step's attributes are kiln's Attrs struct as stored, so the header records the op table and
// Attrs' layout, and a runtime refuses a program made with another of either (as it refuses
// another format version). The CRC-32 covers every byte after the header.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kiln/op/op.h"

namespace kiln::micro {

inline constexpr char magic[8] = {'K', 'I', 'L', 'N', 'P', 'R', 'O', 'G'};
inline constexpr uint32_t format_version = 1;
inline constexpr uint32_t program_alignment = 8;  // of the block, the arena and the state region

// FNV-1a, the hash behind the two signatures below.
constexpr uint32_t fnv1a(uint32_t h, uint32_t byte) { return (h ^ byte) * 16777619u; }

// The op table as this build numbers it: every op's name in order.
constexpr uint32_t op_table_signature() {
    uint32_t h = 2166136261u;
    for (const OpInfo& info : op_flags::op_table) {
        for (const char* c = info.name; *c; ++c) h = fnv1a(h, uint8_t(*c));
        h = fnv1a(h, ',');
    }
    return h;
}

// Attrs as this target lays it out: its size and where each member starts.
constexpr uint32_t attrs_layout_signature() {
    const size_t fields[] = {sizeof(Attrs),          alignof(Attrs),          offsetof(Attrs, matmul),
                             offsetof(Attrs, axis),  offsetof(Attrs, scale),  offsetof(Attrs, dropout),
                             offsetof(Attrs, expand), offsetof(Attrs, sgd),   offsetof(Attrs, adam),
                             offsetof(Attrs, conv),  offsetof(Attrs, pool),   offsetof(Attrs, bn),
                             offsetof(Attrs, select), offsetof(DropoutAttrs, salt)};
    uint32_t h = 2166136261u;
    for (size_t f : fields) h = fnv1a(h, uint32_t(f));
    return h;
}

struct Section {
    uint32_t offset = 0, bytes = 0;  // from the start of the block
};

enum class Region : uint8_t { none = 0, arena = 1, state = 2 };

struct TensorRecord {
    uint32_t offset;  // in its region
    Region region;
    uint8_t dtype;    // kiln::DType
    uint8_t rank;
    uint8_t reserved;
    int32_t dims[Shape::max_rank];  // at the compiled batch
};

struct StepRecord {
    Attrs attrs;
    uint8_t op;  // kiln::Op
    uint8_t n_in;
    uint8_t reserved[2];
    int32_t out;  // tensor index, -1: the op has no output
    int32_t in[max_op_inputs];
    uint32_t scratch_offset, scratch_bytes;  // in the arena
};

struct StateRecord {
    uint32_t name;    // offset in the strings
    int32_t tensor;
    uint8_t kind;     // 0 parameter, 1 buffer, 2 optimizer state (kiln::StateEntry::Kind)
    uint8_t reserved[3];
};

enum : uint32_t { flag_trains = 1 };

struct Header {
    char magic[8];
    uint32_t version;        // format_version
    uint32_t total_bytes;    // the whole block, this header included
    uint32_t checksum;       // CRC-32 (IEEE) of bytes [sizeof(Header), total_bytes)
    uint32_t op_table;       // op_table_signature()
    uint32_t attrs_layout;   // attrs_layout_signature()
    uint32_t flags;
    uint32_t batch;
    uint32_t arena_bytes;    // the arena a caller must provide
    uint32_t state_bytes;    // the persistent region: parameters, buffers, optimizer state
    uint32_t lower_bound;    // the planner's lower bound on the arena (for reports)
    Section tensors, steps, state, strings, state_image;
    uint32_t forward_steps;  // steps [0, forward_steps) are the forward pass (+ loss)
    int32_t input, labels, output, loss;  // tensor indices, -1: none
    uint32_t classes;
    uint32_t class_names;    // offset in the strings of the first; the others follow it
    uint32_t model_name;     // offset in the strings
    // The input as the run's eval transforms make it from u8 pixels: ToTensor's v / pixel_divisor,
    // then Normalize's (x − mean[c]) / std[c] (0 and 1 when the run normalizes nothing).
    float pixel_divisor;
    float mean[4], std[4];
    float lr;                // the training program's learning rate at export
    uint32_t reserved;
    uint64_t seed;           // the program's dropout seed
};

static_assert(sizeof(TensorRecord) == 32 && sizeof(StateRecord) == 12 && sizeof(Header) % 8 == 0 &&
              sizeof(StepRecord) % 8 == 0 && alignof(Attrs) <= program_alignment,
              "the format's records have the same size on every target");

// CRC-32 (IEEE 802.3, reflected), bitwise: small code beats speed here.
inline uint32_t crc32(const uint8_t* p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; ++i) {
        c ^= p[i];
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

}  // namespace kiln::micro
