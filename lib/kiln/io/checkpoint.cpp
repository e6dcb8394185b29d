#include "kiln/io/checkpoint.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/core/limits.h"
#include "kiln/io/safetensors.h"

namespace kiln::io {

namespace {

bool wanted(const StateEntry& e, const StateOptions& options) {
    return e.kind != StateEntry::optimizer || options.optimizer;
}

// Optimizer state is named "<param>.<slot>" (see program.h).
bool is_optimizer_name(const std::string& name) {
    for (const char* slot : {".momentum_buffer", ".exp_avg", ".exp_avg_sq"}) {
        std::string s = slot;
        if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) return true;
    }
    return false;
}

std::string describe(DType dtype, const Shape& shape) { return std::string(dtype_name(dtype)) + " " + shape.str(); }

}  // namespace

void save_state(const Program& program, const std::string& path, const StateOptions& options) {
    std::vector<NamedTensor> tensors;
    for (const StateEntry& e : program.state()) {
        if (!wanted(e, options)) continue;
        NamedTensor t{e.name, e.dtype, e.shape, std::vector<uint8_t>(e.bytes)};
        program.read_state(e, t.data.data());
        tensors.push_back(std::move(t));
    }
    Metadata metadata = options.metadata;
    for (const char* reserved : {"format", "kiln.step"})
        if (metadata.count(reserved))
            fail(Errc::invalid_argument, path + ": metadata key '" + std::string(reserved) + "' is written by save_state itself");
    metadata["format"] = "pt";
    if (options.optimizer) metadata["kiln.step"] = std::to_string(program.step_count());
    save_safetensors(path, tensors, metadata);
}

Metadata load_state(Program& program, const std::string& path, const StateOptions& options) {
    SafetensorsFile file = load_safetensors(path);

    // Match and check everything first, so a bad file leaves the program as it was.
    std::vector<std::pair<const StateEntry*, const NamedTensor*>> matches;
    for (const StateEntry& e : program.state()) {
        if (!wanted(e, options)) continue;
        const NamedTensor* t = file.find(e.name);
        if (!t) fail(Errc::format, path + ": missing tensor '" + e.name + "' (expected " + describe(e.dtype, e.shape) + ")");
        if (t->dtype != e.dtype || !(t->shape == e.shape))
            fail(t->dtype != e.dtype ? Errc::format : Errc::shape_mismatch,
                 path + ": tensor '" + e.name + "' is " + describe(t->dtype, t->shape) + ", expected " +
                     describe(e.dtype, e.shape));
        matches.emplace_back(&e, t);
    }
    // Weights that hold NaN or an infinity would load and then predict NaN with exit status 0.
    for (const auto& [e, t] : matches) {
        if (t->dtype != DType::f32) continue;
        const size_t n = t->data.size() / sizeof(float);
        size_t bad = 0, first = 0;
        float first_value = 0;
        for (size_t i = 0; i < n; ++i) {
            float v;
            std::memcpy(&v, t->data.data() + i * sizeof(float), sizeof v);
            if (std::isfinite(v)) continue;
            if (bad++ == 0) first = i, first_value = v;
        }
        if (bad > 0)
            fail(Errc::format, path + ": tensor '" + e->name + "' holds " + std::to_string(bad) + " non-finite value" +
                                   (bad == 1 ? "" : "s") + " (the first, " + (std::isnan(first_value) ? "NaN" : first_value > 0 ? "inf" : "-inf") +
                                   ", at index " + std::to_string(first) + "); the weights are unusable (did the training diverge?)");
    }
    if (options.strict) {
        for (const NamedTensor& t : file.tensors)
            if (!program.find_state(t.name) && !(is_optimizer_name(t.name) && !options.optimizer))
                fail(Errc::format, path + ": unexpected tensor '" + t.name + "' (the program has no state of that name)");
    }
    int64_t step = program.step_count();
    if (options.optimizer) {
        auto it = file.metadata.find("kiln.step");
        if (it != file.metadata.end()) {
            // Digits only, and far from where counting further steps could overflow.
            constexpr int64_t max_step = int64_t(1) << 62;
            const std::string& text = it->second;
            const bool digits = !text.empty() && text.size() <= 19 && text.find_first_not_of("0123456789") == std::string::npos;
            if (!digits || std::stoull(text) > uint64_t(max_step))
                fail(Errc::format, path + ": metadata kiln.step is not a whole number from 0 to " + limits::with_commas(max_step) +
                                       ": '" + text + "'");
            step = std::stoll(text);
        }
    }

    for (const auto& [e, t] : matches) program.write_state(*e, t->data.data());
    program.set_step_count(step);
    return file.metadata;
}

}  // namespace kiln::io
