// export_program() and program_c_source(): a Program's schedule, addresses and state written as
// micro/format.h lays them out.
#include "kiln/runtime/export.h"

#include <bit>
#include <cctype>
#include <cstdio>
#include <cstring>

#include "kiln/core/error.h"
#include "kiln/micro/format.h"
#include "kiln/runtime/passes.h"

namespace kiln {

static_assert(std::endian::native == std::endian::little, "the program format is little-endian");

namespace {

uint32_t to_u32(size_t v, const char* what) {
    if (v > 0xFFFFFFFFu) fail(Errc::unsupported, std::string("export: ") + what + " exceeds the program format's 32-bit sizes");
    return uint32_t(v);
}

template <class T> void append(std::vector<uint8_t>& out, const T* items, size_t n) {
    const auto* p = reinterpret_cast<const uint8_t*>(items);
    out.insert(out.end(), p, p + n * sizeof(T));
}

micro::Section place(std::vector<uint8_t>& out, const void* data, size_t bytes, size_t alignment) {
    out.resize((out.size() + alignment - 1) / alignment * alignment, 0);
    micro::Section s{to_u32(out.size(), "the program"), to_u32(bytes, "a section")};
    append(out, static_cast<const uint8_t*>(data), bytes);
    return s;
}

}  // namespace

// Program's friend: reads the compiled schedule and the addresses binding gave each tensor.
struct Exporter {
    const Program& p;
    const ExportOptions& o;
    std::vector<micro::TensorRecord> tensors;
    std::vector<int32_t> tensor_of;  // node → its tensor record, -1: none yet

    micro::TensorRecord record(const TensorRef& r) const {
        micro::TensorRecord t{};
        const auto* addr = static_cast<const uint8_t*>(r.data);
        const auto* arena = static_cast<const uint8_t*>(p.arena_);
        const auto* state = static_cast<const uint8_t*>(p.persistent_);
        const size_t bytes = size_t(r.numel()) * dtype_size(r.dtype);
        if (addr >= arena && addr + bytes <= arena + p.plan_.arena_bytes) {
            t.region = micro::Region::arena;
            t.offset = to_u32(size_t(addr - arena), "an arena offset");
        } else if (addr >= state && addr + bytes <= state + p.plan_.persistent_bytes) {
            t.region = micro::Region::state;
            t.offset = to_u32(size_t(addr - state), "a state offset");
        } else {
            fail(Errc::invalid_argument, "export: a tensor lies outside the program's arena and persistent region");
        }
        t.dtype = uint8_t(r.dtype);
        t.rank = uint8_t(r.shape.rank);
        for (int i = 0; i < r.shape.rank; ++i) t.dims[i] = int32_t(to_u32(size_t(r.shape[i]), "a dimension"));
        return t;
    }

    int32_t tensor(int32_t node, const TensorRef& r) {
        if (tensor_of[node] < 0) {
            tensor_of[node] = int32_t(tensors.size());
            tensors.push_back(record(r));
        }
        return tensor_of[node];
    }

    int32_t tensor_of_value(Value v, const char* what) const {
        if (v.id < 0 || v.id >= int(tensor_of.size()) || tensor_of[v.id] < 0)
            fail(Errc::invalid_argument, std::string("export: the ") + what + " is not a tensor of the program's schedule");
        return tensor_of[v.id];
    }

    std::vector<uint8_t> run() {
        const Graph& g = p.graph_;
        for (void* s : p.scratch_)
            if (s) fail(Errc::invalid_argument, "export: compile with BackendOptions::reference (the device's kernels use no scratch)");
        tensor_of.assign(size_t(g.size()), -1);

        std::vector<micro::StepRecord> steps;
        for (int32_t id : p.schedule_) {
            const KernelCall call = passes::kernel_call(g, id, p.data_, p.batch_);
            micro::StepRecord st;
            std::memset(static_cast<void*>(&st), 0, sizeof st);  // padding too: the bytes are reproducible
            micro::store_attrs(st.attrs, *call.attrs);
            st.op = uint8_t(call.op);
            st.n_in = uint8_t(call.n_in);
            st.out = op_info(call.op).has_output() ? tensor(id, call.out) : -1;
            for (int i = 0; i < call.n_in; ++i) st.in[i] = tensor(g.nodes()[id].in[i], call.in[i]);
            for (int i = call.n_in; i < max_op_inputs; ++i) st.in[i] = -1;
            steps.push_back(st);
        }

        micro::Header h;
        std::memset(static_cast<void*>(&h), 0, sizeof h);
        std::memcpy(h.magic, micro::magic, sizeof h.magic);
        h.version = micro::format_version;
        h.op_table = micro::op_table_signature();
        h.attrs_layout = micro::attrs_layout_signature();
        h.flags = p.can_train() ? uint32_t(micro::flag_trains) : 0u;
        h.batch = to_u32(size_t(p.batch_), "the batch");
        h.arena_bytes = to_u32(p.plan_.arena_bytes, "the arena");
        h.state_bytes = to_u32(p.plan_.persistent_bytes, "the persistent region");
        h.lower_bound = to_u32(p.plan_.lower_bound, "the lower bound");
        h.forward_steps = to_u32(size_t(p.forward_end_), "the forward steps");
        for (size_t s = 0; s < steps.size(); ++s)  // through the step that writes the output (its inputs come before)
            if (steps[s].out >= 0 && steps[s].out == tensor_of_value(o.output, "output")) h.output_steps = uint32_t(s + 1);
        h.input = tensor_of_value(o.input, "input");
        h.output = tensor_of_value(o.output, "output");
        h.labels = o.labels ? tensor_of_value(o.labels, "labels") : -1;
        h.loss = p.loss_node_ >= 0 ? tensor_of_value(Value{p.loss_node_}, "loss") : -1;
        if (p.can_train() && h.labels < 0) fail(Errc::invalid_argument, "export: a training program needs its labels input");
        const micro::TensorRecord& out = tensors[size_t(h.output)];
        if (out.rank != 2 || size_t(out.dims[1]) != o.class_names.size())
            fail(Errc::invalid_argument, "export: the output is not [batch, " + std::to_string(o.class_names.size()) +
                                             "] (one logit per class name)");
        h.classes = out.dims[1];
        const micro::TensorRecord& in = tensors[size_t(h.input)];
        const size_t channels = in.rank == 4 ? size_t(in.dims[1]) : 0;
        if (o.mean.size() != o.std.size() || (!o.mean.empty() && o.mean.size() != channels) || channels > 4)
            fail(Errc::invalid_argument, "export: mean and std need one value per input channel (at most 4)");
        h.pixel_divisor = o.pixel_divisor;
        for (size_t c = 0; c < 4; ++c) {
            h.mean[c] = c < o.mean.size() ? o.mean[c] : 0.0f;
            h.std[c] = c < o.std.size() ? o.std[c] : 1.0f;
        }
        h.lr = p.info_.lr;
        h.seed = p.seed_;

        // Strings: the model's name, the class names in order, the state's names.
        std::vector<char> strings;
        auto add_string = [&](const std::string& s) {
            const uint32_t at = to_u32(strings.size(), "the strings");
            strings.insert(strings.end(), s.begin(), s.end());
            strings.push_back('\0');
            return at;
        };
        h.model_name = add_string(o.model_name);
        h.class_names = to_u32(strings.size(), "the strings");
        for (const std::string& c : o.class_names) add_string(c);
        std::vector<micro::StateRecord> state;
        for (const StateEntry& e : p.state_) {
            TensorRef r;
            r.data = static_cast<uint8_t*>(p.persistent_) + e.offset;
            r.dtype = e.dtype;
            r.shape = e.shape;
            micro::StateRecord s;
            std::memset(&s, 0, sizeof s);
            s.name = add_string(e.name);
            s.tensor = int32_t(tensors.size());
            s.kind = uint8_t(e.kind);
            tensors.push_back(record(r));
            state.push_back(s);
        }
        std::vector<uint8_t> image(p.plan_.persistent_bytes);
        if (!image.empty()) p.backend_->copy_to_host(image.data(), p.persistent_, image.size());

        std::vector<uint8_t> bytes(sizeof(micro::Header), 0);
        h.tensors = place(bytes, tensors.data(), tensors.size() * sizeof(micro::TensorRecord), 8);
        h.steps = place(bytes, steps.data(), steps.size() * sizeof(micro::StepRecord), 8);
        h.state = place(bytes, state.data(), state.size() * sizeof(micro::StateRecord), 8);
        h.strings = place(bytes, strings.data(), strings.size(), 8);
        h.state_image = place(bytes, image.data(), image.size(), 16);
        h.total_bytes = to_u32(bytes.size(), "the program");
        h.checksum = micro::crc32(bytes.data() + sizeof h, bytes.size() - sizeof h);
        std::memcpy(bytes.data(), &h, sizeof h);
        return bytes;
    }
};

std::vector<uint8_t> export_program(const Program& program, const ExportOptions& options) {
    return Exporter{program, options, {}, {}}.run();
}

namespace {

std::string c_string(const char* s) {
    std::string out = "\"";
    for (; *s; ++s) {
        const unsigned char c = static_cast<unsigned char>(*s);
        if (c == '"' || c == '\\') out += std::string("\\") + char(c);
        else if (c < 0x20 || c >= 0x7F) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\%03o", c);  // octal: never swallows a following digit
            out += esc;
        } else out += char(c);
    }
    return out + "\"";
}

// A float literal C reads back exactly: "255.0f", "0.5f", "1e-05f".
std::string c_float(float v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.9g", double(v));
    std::string s = text;
    if (s.find_first_of(".en") == std::string::npos) s += ".0";
    return s + "f";
}

std::string shape_text(const micro::TensorRecord& t) {
    std::string s = "[";
    for (int i = 0; i < t.rank; ++i) s += (i ? ", " : "") + std::to_string(t.dims[i]);
    return s + "]";
}

std::string where(const micro::TensorRecord& t) {
    return (t.region == micro::Region::arena ? "arena+" : "state+") + std::to_string(t.offset);
}

}  // namespace

CSource program_c_source(std::span<const uint8_t> program, const std::string& symbol) {
    bool identifier = !symbol.empty() && !std::isdigit(static_cast<unsigned char>(symbol[0]));
    for (char c : symbol) identifier = identifier && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!identifier) fail(Errc::invalid_argument, "export: '" + symbol + "' is not a C identifier");
    if (program.size() < sizeof(micro::Header)) fail(Errc::invalid_argument, "export: not a program");
    micro::Header h;
    std::memcpy(&h, program.data(), sizeof h);
    const auto* tensors = reinterpret_cast<const micro::TensorRecord*>(program.data() + h.tensors.offset);
    const auto* steps = reinterpret_cast<const micro::StepRecord*>(program.data() + h.steps.offset);
    const char* strings = reinterpret_cast<const char*>(program.data() + h.strings.offset);
    std::string upper;
    for (char c : symbol) upper += char(std::toupper(static_cast<unsigned char>(c)));

    std::string hd = "/* " + symbol + ": a kiln program (" + (h.flags & micro::flag_trains ? "training" : "inference") +
                     ") written by kiln-export, run by kiln/micro/micro.h. */\n";
    hd += "#ifndef " + upper + "_PROGRAM_H\n#define " + upper + "_PROGRAM_H\n";
    auto define = [&](const std::string& name, const std::string& value) { hd += "#define " + upper + "_" + name + " " + value + "\n"; };
    define("PROGRAM_BYTES", std::to_string(h.total_bytes) + "u");
    define("ARENA_BYTES", std::to_string(h.arena_bytes) + "u  /* the caller's arena; the lower bound is " +
                              std::to_string(h.lower_bound) + " */");
    define("STATE_BYTES", std::to_string(h.flags & micro::flag_trains ? h.state_bytes : 0) +
                              "u  /* a training program's state region in RAM (weights and optimizer state) */");
    define("WEIGHT_BYTES", std::to_string(h.state_bytes) + "u");
    define("BATCH", std::to_string(h.batch));
    const micro::TensorRecord& in = tensors[h.input];
    std::string dims;
    for (int i = 0; i < in.rank; ++i) dims += (i ? ", " : "") + std::to_string(in.dims[i]);
    define("INPUT_RANK", std::to_string(in.rank));
    define("INPUT_SHAPE", "{" + dims + "}");
    if (in.rank == 4) {
        define("INPUT_CHANNELS", std::to_string(in.dims[1]));
        define("INPUT_HEIGHT", std::to_string(in.dims[2]));
        define("INPUT_WIDTH", std::to_string(in.dims[3]));
    }
    define("CLASSES", std::to_string(h.classes));
    std::string output_shape = "{";  // built with +=: g++ 12 warns, a false -Wrestrict, on "{" + std::string
    output_shape += std::to_string(h.batch) + ", " + std::to_string(h.classes) + "}  /* the logits */";
    define("OUTPUT_SHAPE", output_shape);
    std::string names;
    const char* name = strings + h.class_names;
    for (uint32_t c = 0; c < h.classes; ++c, name += std::strlen(name) + 1) names += (c ? ", " : "") + c_string(name);
    define("CLASS_NAMES", "{" + names + "}");
    define("PIXEL_DIVISOR", c_float(h.pixel_divisor) + "  /* input = (pixel / divisor - mean[c]) / std[c] */");
    std::string mean, stdev;
    const int channels = in.rank == 4 ? in.dims[1] : 0;
    for (int c = 0; c < channels; ++c) {
        if (c) mean += ", ", stdev += ", ";
        mean += c_float(h.mean[c]);
        stdev += c_float(h.std[c]);
    }
    if (channels) {
        define("INPUT_MEAN", "{" + mean + "}");
        define("INPUT_STD", "{" + stdev + "}");
    }
    hd += "#ifdef __cplusplus\nextern \"C\" {\n#endif\nextern const unsigned char " + symbol + "_program[" + upper +
          "_PROGRAM_BYTES];\n#ifdef __cplusplus\n}\n#endif\n#endif\n";

    std::string src = "/* " + symbol + ": a kiln program written by kiln-export (kiln/micro/format.h). Its schedule:\n";
    const uint32_t n_steps = h.steps.bytes / sizeof(micro::StepRecord);
    for (uint32_t s = 0; s < n_steps; ++s) {
        const micro::StepRecord& st = steps[s];
        std::string line = "   " + std::to_string(s) + (s < h.forward_steps ? "  " : "  (backward) ") + op_name(Op(st.op));
        if (st.out >= 0) line += " -> " + shape_text(tensors[st.out]) + " at " + where(tensors[st.out]);
        line += "  from";
        for (int i = 0; i < st.n_in; ++i) line += (i ? ", " : " ") + where(tensors[st.in[i]]);
        src += line + "\n";
    }
    src += "*/\n#include \"" + symbol + ".h\"\n\n__attribute__((aligned(16))) const unsigned char " + symbol + "_program[" +
           upper + "_PROGRAM_BYTES] = {\n";
    char byte[8];
    for (size_t i = 0; i < program.size(); ++i) {
        std::snprintf(byte, sizeof byte, "%u,", unsigned(program[i]));
        src += byte;
        if (i % 24 == 23 || i + 1 == program.size()) src += "\n";
    }
    return {hd, src + "};\n"};
}

}  // namespace kiln
