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
inline constexpr uint32_t format_version = 2;
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
                             offsetof(Attrs, select), offsetof(Attrs, quant), offsetof(DropoutAttrs, salt)};
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
    uint32_t output_steps;   // steps [0, output_steps) compute the output: an inference call runs them
    uint64_t seed;           // the program's dropout seed
};

static_assert(sizeof(TensorRecord) == 32 && sizeof(StateRecord) == 12 && sizeof(Header) % 8 == 0 &&
              sizeof(StepRecord) % 8 == 0 && alignof(Attrs) <= program_alignment,
              "the format's records have the same size on every target");

// Copies a's attribute values into `out`, whose bytes are zero, field by field: a struct copy would
// also carry a's padding bytes (indeterminate), and the same program must give the same bytes. A
// field added to an attributes struct (op/op.h) needs a line here; the sizes fail the build first.
inline void store_attrs(Attrs& out, const Attrs& a) {
    static_assert(sizeof(MatmulAttrs) == 2 && sizeof(AxisAttrs) == 8 && sizeof(ScaleAttrs) == 8 && sizeof(DropoutAttrs) == 16 &&
                      sizeof(ExpandAttrs) == 1 && sizeof(SgdAttrs) == 16 && sizeof(AdamAttrs) == 20 && sizeof(Conv2dAttrs) == 24 &&
                      sizeof(Pool2dAttrs) == 28 && sizeof(BatchNormAttrs) == 12 && sizeof(SelectAttrs) == 8 && sizeof(QuantAttrs) == 48,
                  "an attributes struct changed: copy its new field below");
    out.matmul.trans_a = a.matmul.trans_a, out.matmul.trans_b = a.matmul.trans_b;
    out.axis.axis = a.axis.axis, out.axis.all = a.axis.all, out.axis.keepdim = a.axis.keepdim;
    out.scale.mul = a.scale.mul, out.scale.add = a.scale.add;
    out.dropout.p = a.dropout.p, out.dropout.salt = a.dropout.salt;
    out.expand.mean = a.expand.mean;
    out.sgd.momentum = a.sgd.momentum, out.sgd.dampening = a.sgd.dampening, out.sgd.weight_decay = a.sgd.weight_decay;
    out.sgd.nesterov = a.sgd.nesterov, out.sgd.maximize = a.sgd.maximize;
    out.adam.beta1 = a.adam.beta1, out.adam.beta2 = a.adam.beta2, out.adam.eps = a.adam.eps, out.adam.weight_decay = a.adam.weight_decay;
    out.adam.decoupled = a.adam.decoupled, out.adam.maximize = a.adam.maximize;
    out.conv.stride_h = a.conv.stride_h, out.conv.stride_w = a.conv.stride_w, out.conv.pad_h = a.conv.pad_h;
    out.conv.pad_w = a.conv.pad_w, out.conv.dil_h = a.conv.dil_h, out.conv.dil_w = a.conv.dil_w;
    out.pool.kernel_h = a.pool.kernel_h, out.pool.kernel_w = a.pool.kernel_w, out.pool.stride_h = a.pool.stride_h;
    out.pool.stride_w = a.pool.stride_w, out.pool.pad_h = a.pool.pad_h, out.pool.pad_w = a.pool.pad_w;
    out.pool.ceil_mode = a.pool.ceil_mode, out.pool.count_include_pad = a.pool.count_include_pad;
    out.bn.eps = a.bn.eps, out.bn.momentum = a.bn.momentum, out.bn.cumulative = a.bn.cumulative;
    out.select.index = a.select.index;
    out.quant = a.quant;  // all int32 and float: no padding bytes
}

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
