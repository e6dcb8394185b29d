// The micro runtime (micro.h): checks a program (format.h) once, then runs its steps through the
// reference kernels (on NEON targets, an inference program's conv2d through the CPU backend's direct convolution), each
// step's KernelCall made from the records. Compiled freestanding: no heap,
// exceptions, RTTI or stdio — test/backend/freestanding.py checks what the library calls.
#include "kiln/micro/micro.h"

#include <cstring>

#include "kiln/backend/reference/kernels.h"
#if defined(__ARM_NEON)
#include "kiln/backend/direct/conv2d.h"
#endif
#include "kiln/core/rng.h"
#include "kiln/micro/format.h"

namespace kiln::micro {
namespace {

const Header& header_of(const kiln_micro_model* m) { return *reinterpret_cast<const Header*>(m->program); }

template <class T> const T* records(const uint8_t* program, const Section& s) {
    return reinterpret_cast<const T*>(program + s.offset);
}

bool aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % program_alignment == 0; }

// A NUL-terminated string that starts at `offset` and ends inside the strings section.
bool string_fits(const uint8_t* program, const Section& strings, uint32_t offset) {
    if (offset >= strings.bytes) return false;
    return std::memchr(program + strings.offset + offset, 0, strings.bytes - offset) != nullptr;
}

bool section_fits(const Header& h, const Section& s, size_t record_bytes) {
    return s.offset >= sizeof(Header) && s.offset <= h.total_bytes && s.bytes <= h.total_bytes - s.offset &&
           s.offset % program_alignment == 0 && s.bytes % record_bytes == 0;
}

bool tensor_fits(const Header& h, const TensorRecord& t) {
    if (t.dtype > uint8_t(DType::i8) || t.rank > Shape::max_rank) return false;
    uint64_t bytes = dtype_size(DType(t.dtype));
    for (int i = 0; i < t.rank; ++i) {
        if (t.dims[i] < 0) return false;
        bytes *= uint64_t(t.dims[i]);
        if (bytes > 0xFFFFFFFFu) return false;
    }
    const uint64_t region = t.region == Region::arena ? h.arena_bytes : t.region == Region::state ? h.state_bytes : 0;
    if (t.region != Region::arena && t.region != Region::state) return false;
    return t.offset % dtype_size(DType(t.dtype)) == 0 && uint64_t(t.offset) + bytes <= region;
}

// Everything kiln_micro_init relies on, read from the program's bytes only.
kiln_micro_status check(const uint8_t* p, size_t size) {
    if (!p || size < sizeof(magic) || std::memcmp(p, magic, sizeof(magic)) != 0) return KILN_MICRO_NOT_A_PROGRAM;
    if (!aligned(p)) return KILN_MICRO_MISALIGNED;
    if (size < sizeof(Header)) return KILN_MICRO_TRUNCATED;
    const Header& h = *reinterpret_cast<const Header*>(p);
    if (h.version != format_version) return KILN_MICRO_VERSION;
    if (h.op_table != op_table_signature() || h.attrs_layout != attrs_layout_signature()) return KILN_MICRO_OP_TABLE;
    if (h.total_bytes > size) return KILN_MICRO_TRUNCATED;
    if (h.total_bytes < sizeof(Header) || crc32(p + sizeof(Header), h.total_bytes - sizeof(Header)) != h.checksum)
        return KILN_MICRO_CORRUPT;

    if (!section_fits(h, h.tensors, sizeof(TensorRecord)) || !section_fits(h, h.steps, sizeof(StepRecord)) ||
        !section_fits(h, h.state, sizeof(StateRecord)) || !section_fits(h, h.strings, 1) ||
        !section_fits(h, h.state_image, 1) || h.state_image.bytes != h.state_bytes || h.strings.bytes == 0)
        return KILN_MICRO_CORRUPT;
    const uint32_t n_tensors = h.tensors.bytes / sizeof(TensorRecord);
    const uint32_t n_steps = h.steps.bytes / sizeof(StepRecord);
    const bool trains = h.flags & flag_trains;
    const TensorRecord* tensors = records<TensorRecord>(p, h.tensors);
    for (uint32_t i = 0; i < n_tensors; ++i)
        if (!tensor_fits(h, tensors[i])) return KILN_MICRO_CORRUPT;
    auto tensor_is = [&](int32_t t, DType dtype, Region region) {
        return t >= 0 && uint32_t(t) < n_tensors && tensors[t].dtype == uint8_t(dtype) && tensors[t].region == region;
    };

    const StepRecord* steps = records<StepRecord>(p, h.steps);
    for (uint32_t s = 0; s < n_steps; ++s) {
        const StepRecord& st = steps[s];
        if (st.op >= op_count || !reference::kernels[st.op] || st.n_in > max_op_inputs) return KILN_MICRO_CORRUPT;
        const OpInfo& info = op_info(Op(st.op));
        if (info.has_output() != (st.out >= 0) || (st.out >= 0 && uint32_t(st.out) >= n_tensors)) return KILN_MICRO_CORRUPT;
        // Only a training program writes its state (optimizer steps, BatchNorm's running statistics).
        if (!trains && (!info.has_output() || tensors[st.out].region != Region::arena)) return KILN_MICRO_CORRUPT;
        for (int i = 0; i < st.n_in; ++i)
            if (st.in[i] < 0 || uint32_t(st.in[i]) >= n_tensors) return KILN_MICRO_CORRUPT;
        if (uint64_t(st.scratch_offset) + st.scratch_bytes > h.arena_bytes) return KILN_MICRO_CORRUPT;
    }
    const StateRecord* state = records<StateRecord>(p, h.state);
    for (uint32_t i = 0; i < h.state.bytes / sizeof(StateRecord); ++i)
        if (!string_fits(p, h.strings, state[i].name) || state[i].kind > 2 || state[i].tensor < 0 ||
            uint32_t(state[i].tensor) >= n_tensors || tensors[state[i].tensor].region != Region::state)
            return KILN_MICRO_CORRUPT;

    if (h.forward_steps > n_steps || h.output_steps == 0 || h.output_steps > h.forward_steps || h.batch == 0 || h.classes == 0 || !string_fits(p, h.strings, h.model_name) ||
        !tensor_is(h.input, DType::f32, Region::arena) || tensors[h.input].rank < 1 || tensors[h.input].dims[0] != int32_t(h.batch) ||
        !tensor_is(h.output, DType::f32, Region::arena) || tensors[h.output].rank != 2 ||
        tensors[h.output].dims[0] != int32_t(h.batch) || tensors[h.output].dims[1] != int32_t(h.classes))
        return KILN_MICRO_CORRUPT;
    if (h.labels >= 0 && (!tensor_is(h.labels, DType::i64, Region::arena) || tensors[h.labels].rank != 1 ||
                          tensors[h.labels].dims[0] != int32_t(h.batch)))
        return KILN_MICRO_CORRUPT;
    if (trains && (h.labels < 0 || !tensor_is(h.loss, DType::f32, Region::arena))) return KILN_MICRO_CORRUPT;
    uint32_t name = h.class_names;
    for (uint32_t c = 0; c < h.classes; ++c) {
        if (!string_fits(p, h.strings, name)) return KILN_MICRO_CORRUPT;
        name += uint32_t(std::strlen(reinterpret_cast<const char*>(p + h.strings.offset + name))) + 1;
    }
    return KILN_MICRO_OK;
}

TensorRef tensor_ref(const kiln_micro_model* m, int32_t index) {
    const Header& h = header_of(m);
    const TensorRecord& t = records<TensorRecord>(m->program, h.tensors)[index];
    TensorRef r;
    r.data = (t.region == Region::arena ? m->arena : m->state) + t.offset;
    r.dtype = DType(t.dtype);
    r.shape.rank = t.rank;
    for (int i = 0; i < t.rank; ++i) r.shape.dims[i] = t.dims[i];
    return r;
}

// Where the target has NEON, an inference program's conv2d — most of a vision model's
// arithmetic — runs as the direct convolution wherever its rows fill the vectors; every other op,
// every op of a training program and every op elsewhere runs the reference kernel. A training
// program keeps the reference's double sums so that hundreds of steps on the device stay with the
// host's: the direct convolution's float sums move a ReLU decision now and then, and SGD with
// momentum carries the difference on (a 1e-4 weight difference after 300 TinyVGG steps on aarch64).
void run_kernel(const KernelCall& call, bool trains) {
#if defined(__ARM_NEON)
    if (!trains && call.op == Op::conv2d && direct::conv2d<xsimd::batch<float>>(call)) return;
#endif
    (void)trains;
    reference::kernels[static_cast<int>(call.op)](call);
}

void run_steps(const kiln_micro_model* m, uint32_t begin, uint32_t end, const RunInfo& info) {
    const StepRecord* steps = records<StepRecord>(m->program, header_of(m).steps);
    const bool trains = header_of(m).flags & flag_trains;
    for (uint32_t s = begin; s < end; ++s) {
        const StepRecord& st = steps[s];
        KernelCall call;
        call.op = Op(st.op);
        call.attrs = &st.attrs;
        if (st.out >= 0) call.out = tensor_ref(m, st.out);
        call.n_in = st.n_in;
        for (int i = 0; i < st.n_in; ++i) call.in[i] = tensor_ref(m, st.in[i]);
        call.scratch = st.scratch_bytes ? m->arena + st.scratch_offset : nullptr;
        call.info = &info;
        run_kernel(call, trains);
    }
}

// The cross_entropy kernel indexes with the labels: they are checked before a train step.
kiln_micro_status check_labels(kiln_micro_model* m) {
    const Header& h = header_of(m);
    if (h.labels < 0) return KILN_MICRO_OK;
    const int64_t* labels = kiln_micro_labels(m);
    for (uint32_t i = 0; i < h.batch; ++i)
        if (labels[i] < 0 || labels[i] >= int64_t(h.classes)) return KILN_MICRO_BAD_LABEL;
    return KILN_MICRO_OK;
}

}  // namespace
}  // namespace kiln::micro

using namespace kiln;
using namespace kiln::micro;

extern "C" {

const char* kiln_micro_status_message(kiln_micro_status status) {
    switch (status) {
    case KILN_MICRO_OK: return "ok";
    case KILN_MICRO_NOT_A_PROGRAM: return "not a kiln program (no KILNPROG magic at its start)";
    case KILN_MICRO_VERSION: return "the program was written for another kiln program format version";
    case KILN_MICRO_OP_TABLE: return "the program was made by a kiln with another op table or attribute layout";
    case KILN_MICRO_TRUNCATED: return "the program is truncated (fewer bytes than its header gives)";
    case KILN_MICRO_CORRUPT: return "the program is corrupt (checksum mismatch or a record out of its bounds)";
    case KILN_MICRO_MISALIGNED: return "the program, arena or state region is not 8-byte aligned";
    case KILN_MICRO_ARENA_TOO_SMALL: return "the arena is smaller than the program needs (kiln_micro_info.arena_bytes)";
    case KILN_MICRO_STATE_TOO_SMALL: return "a training program needs a state region of kiln_micro_info.state_bytes";
    case KILN_MICRO_CANNOT_TRAIN: return "the program was exported for inference only (kiln-export --train)";
    case KILN_MICRO_BAD_LABEL: return "a label is outside the program's classes";
    case KILN_MICRO_OUT_OF_RANGE: return "an index is outside the batch or the state entries";
    }
    return "unknown status";
}

kiln_micro_status kiln_micro_describe(const void* program, size_t program_bytes, kiln_micro_info* info) {
    const uint8_t* p = static_cast<const uint8_t*>(program);
    if (const kiln_micro_status s = check(p, program_bytes)) return s;
    const Header& h = *reinterpret_cast<const Header*>(p);
    const TensorRecord& in = records<TensorRecord>(p, h.tensors)[h.input];
    std::memset(info, 0, sizeof *info);
    info->arena_bytes = h.arena_bytes;
    info->trains = (h.flags & flag_trains) != 0;
    info->state_bytes = info->trains ? h.state_bytes : 0;
    info->lower_bound = h.lower_bound;
    info->batch = h.batch;
    info->classes = h.classes;
    info->input_rank = in.rank;
    for (int i = 0; i < in.rank; ++i) info->input_dims[i] = in.dims[i];
    info->model_name = reinterpret_cast<const char*>(p + h.strings.offset + h.model_name);
    return KILN_MICRO_OK;
}

kiln_micro_status kiln_micro_init(kiln_micro_model* model, const void* program, size_t program_bytes, void* arena,
                                  size_t arena_bytes, void* state, size_t state_bytes) {
    const uint8_t* p = static_cast<const uint8_t*>(program);
    if (const kiln_micro_status s = check(p, program_bytes)) return s;
    const Header& h = *reinterpret_cast<const Header*>(p);
    const bool trains = h.flags & flag_trains;
    if ((arena && !aligned(arena)) || (trains && state && !aligned(state))) return KILN_MICRO_MISALIGNED;
    if (!arena || arena_bytes < h.arena_bytes) return KILN_MICRO_ARENA_TOO_SMALL;
    if (trains && (!state || state_bytes < h.state_bytes)) return KILN_MICRO_STATE_TOO_SMALL;
    model->program = p;
    model->arena = static_cast<unsigned char*>(arena);
    if (trains) {
        model->state = static_cast<unsigned char*>(state);
        std::memcpy(model->state, p + h.state_image.offset, h.state_bytes);
    } else {
        // Read only: check() refused an inference program with a step that writes its state.
        model->state = const_cast<unsigned char*>(p + h.state_image.offset);
    }
    model->step = 0;
    model->lr = h.lr;
    return KILN_MICRO_OK;
}

float* kiln_micro_input(kiln_micro_model* model) { return tensor_ref(model, header_of(model).input).as<float>(); }

kiln_micro_status kiln_micro_set_pixels(kiln_micro_model* model, uint32_t index, const uint8_t* pixels) {
    const Header& h = header_of(model);
    const TensorRef x = tensor_ref(model, h.input);
    if (index >= h.batch || x.shape.rank != 4 || x.shape[1] > 4) return KILN_MICRO_OUT_OF_RANGE;
    const int64_t c = x.shape[1], hw = x.shape[2] * x.shape[3];
    float* dst = x.as<float>() + index * c * hw;
    // ToTensor (v / 255, H×W×C → C×H×W), then Normalize, in f32 as the host's transforms compute it.
    for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t i = 0; i < hw; ++i)
            dst[ch * hw + i] = (float(pixels[i * c + ch]) / h.pixel_divisor - h.mean[ch]) / h.std[ch];
    return KILN_MICRO_OK;
}

int64_t* kiln_micro_labels(kiln_micro_model* model) {
    const Header& h = header_of(model);
    return h.labels < 0 ? nullptr : tensor_ref(model, h.labels).as<int64_t>();
}

kiln_micro_status kiln_micro_infer(kiln_micro_model* model) {
    RunInfo info;  // eval mode; a training program's loss comes after the output's steps
    info.lr = model->lr;
    info.step = model->step;
    run_steps(model, 0, header_of(model).output_steps, info);
    return KILN_MICRO_OK;
}

const float* kiln_micro_output(const kiln_micro_model* model) {
    return tensor_ref(model, header_of(model).output).as<float>();
}

kiln_micro_status kiln_micro_train_step(kiln_micro_model* model, float* loss) {
    const Header& h = header_of(model);
    if (!(h.flags & flag_trains)) return KILN_MICRO_CANNOT_TRAIN;
    if (const kiln_micro_status s = check_labels(model)) return s;
    RunInfo info;
    info.training = true;
    info.lr = model->lr;
    info.step = ++model->step;
    info.seed = splitmix64(h.seed ^ splitmix64(uint64_t(info.step)));  // as Program::call_seed
    run_steps(model, 0, h.steps.bytes / sizeof(StepRecord), info);
    if (loss) *loss = *tensor_ref(model, h.loss).as<float>();
    return KILN_MICRO_OK;
}

const char* kiln_micro_class_name(const kiln_micro_model* model, uint32_t c) {
    const Header& h = header_of(model);
    if (c >= h.classes) return nullptr;
    const char* name = reinterpret_cast<const char*>(model->program + h.strings.offset + h.class_names);
    for (uint32_t i = 0; i < c; ++i) name += std::strlen(name) + 1;
    return name;
}

uint32_t kiln_micro_state_count(const kiln_micro_model* model) {
    return header_of(model).state.bytes / sizeof(StateRecord);
}

kiln_micro_status kiln_micro_state_at(const kiln_micro_model* model, uint32_t i, kiln_micro_tensor* out) {
    const Header& h = header_of(model);
    if (i >= kiln_micro_state_count(model)) return KILN_MICRO_OUT_OF_RANGE;
    const StateRecord& e = records<StateRecord>(model->program, h.state)[i];
    const TensorRef t = tensor_ref(model, e.tensor);
    out->name = reinterpret_cast<const char*>(model->program + h.strings.offset + e.name);
    out->kind = e.kind;
    out->rank = uint32_t(t.shape.rank);
    for (int d = 0; d < 6; ++d) out->dims[d] = d < t.shape.rank ? int32_t(t.shape[d]) : 0;
    out->dtype = int(t.dtype);
    out->data = t.data;
    out->bytes = uint32_t(t.numel() * int64_t(dtype_size(t.dtype)));
    return KILN_MICRO_OK;
}

}  // extern "C"
