#include "kiln/data/dataset.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kiln/core/limits.h"

namespace kiln::data {

namespace {

constexpr size_t message_size = 1024;

void copy_message(char* err, size_t err_size, const std::string& text) {
    if (!err || err_size == 0) return;
    std::snprintf(err, err_size, "%s", text.c_str());
}

const char* elem_name(int32_t e) { return e == KILN_U8 ? "u8" : e == KILN_F32 ? "f32" : "?"; }

const char* status_name(kiln_status s) {
    switch (s) {
    case KILN_OK: return "ok";
    case KILN_ERR_INVALID: return "invalid";
    case KILN_ERR_IO: return "i/o";
    case KILN_ERR_FORMAT: return "format";
    case KILN_ERR_CAPACITY: return "capacity";
    }
    return "unknown";
}

// A plugin that fails without a message still gets a readable one.
void ensure_message(char* err, size_t err_size, kiln_status s, const std::string& who) {
    if (err && err_size && err[0] == '\0')
        std::snprintf(err, err_size, "%s failed with status %d (%s) and no message", who.c_str(), int(s), status_name(s));
}

// What is wrong with an array a plugin delivered into a buffer of `capacity` bytes, or "" when
// nothing is: an element type it does not know, a rank outside 1..4, a dimension outside
// 1..limits::dim, or more bytes than the buffer holds (which kiln must never read).
std::string array_problem(const kiln_array& a, size_t capacity) {
    if (a.elem != KILN_U8 && a.elem != KILN_F32) return "an unknown element type " + std::to_string(int(a.elem));
    if (a.rank < 1 || a.rank > 4) return "rank " + std::to_string(a.rank) + " (kiln takes 1 to 4)";
    Shape s;
    for (int i = 0; i < a.rank; ++i) s.push_back(a.shape[i]);
    int64_t bytes = 0;
    if (!limits::mul(limits::checked_numel(s, "shape"), a.elem == KILN_F32 ? 4 : 1, bytes) || uint64_t(bytes) > capacity)
        return array_description(a) + ", " + limits::with_commas(bytes) + " bytes in a buffer of " +
               limits::with_commas(int64_t(capacity)) + " bytes";
    return {};
}

// Whether a delivered array fits the shape its plugin declared (rank 0 declares nothing; a 0 in
// a dimension lets it vary).
bool fits_declared(const kiln_array& a, const kiln_array& declared) {
    if (declared.rank == 0) return true;
    if (a.elem != declared.elem || a.rank != declared.rank) return false;
    for (int i = 0; i < a.rank; ++i)
        if (declared.shape[i] != 0 && declared.shape[i] != a.shape[i]) return false;
    return true;
}

// array_problem, and the declared shape, as a status: KILN_ERR_INVALID (a plugin bug, never
// skipped) with "<who()> delivered <problem>" in err. who() is called only on failure, so the
// good path allocates nothing.
template <class Who>
kiln_status check_delivered(const kiln_array& a, size_t capacity, const kiln_array& declared, const Who& who, char* err,
                            size_t err_size) {
    std::string problem;
    try {
        problem = array_problem(a, capacity);
    } catch (const Error& e) {
        problem = array_description(a) + ": " + e.what();
    }
    if (problem.empty() && !fits_declared(a, declared))
        problem = array_description(a) + " though the plugin declares " + array_description(declared);
    if (problem.empty()) return KILN_OK;
    copy_message(err, err_size, who() + " delivered " + problem);
    return KILN_ERR_INVALID;
}

// A plugin's request for a larger buffer, checked against limits::sample_bytes before it is granted.
kiln_status check_needed(size_t needed, const std::string& who, char* err, size_t err_size) {
    if (needed <= uint64_t(limits::sample_bytes)) return KILN_OK;
    copy_message(err, err_size, who + ": needs " + limits::with_commas(int64_t(std::min<uint64_t>(needed, INT64_MAX))) +
                                    " bytes, more than kiln's limit of " + limits::with_commas(limits::sample_bytes) +
                                    " bytes per sample");
    return KILN_ERR_INVALID;
}

}  // namespace

void SampleBuffer::Free::operator()(std::byte* p) const { std::free(p); }

void SampleBuffer::reserve(size_t bytes) {
    if (bytes <= capacity_) return;
    if (bytes > size_t(limits::sample_bytes)) throw std::bad_alloc();  // and rounding cannot wrap
    const size_t rounded = (bytes + 63) / 64 * 64;
    auto* p = static_cast<std::byte*>(std::aligned_alloc(64, rounded));
    if (!p) throw std::bad_alloc();
    bytes_.reset(p);
    capacity_ = rounded;
}

Shape array_shape(const kiln_array& a) {
    Shape s;
    for (int i = 0; i < a.rank && i < 4; ++i) s.push_back(a.shape[i]);
    return s;
}

size_t array_bytes(const kiln_array& a) {  // of an array that passed array_problem
    size_t n = a.elem == KILN_F32 ? 4 : 1;
    for (int i = 0; i < a.rank && i < 4; ++i) n *= static_cast<size_t>(a.shape[i]);
    return n;
}

std::string array_description(const kiln_array& a) { return std::string(elem_name(a.elem)) + " " + array_shape(a).str(); }

Errc errc_of(kiln_status s) {
    switch (s) {
    case KILN_ERR_INVALID: return Errc::invalid_argument;
    case KILN_ERR_IO: return Errc::io;
    case KILN_ERR_FORMAT: return Errc::format;
    default: return Errc::plugin;
    }
}

// ---- Dataset ----

struct Dataset::Handle {
    const kiln_dataset_api* api = nullptr;
    kiln_dataset* ds = nullptr;
    std::string plugin, config;
    std::vector<std::string> notes;
    int64_t length = 0;
    int32_t classes = 0;
    kiln_array declared{};  // the sample shape the plugin declares (0: varies)
    std::shared_ptr<const void> library;  // released after the destructor has closed ds
    Handle() = default;
    Handle(const Handle&) = delete;
    ~Handle() {
        if (ds) api->close(ds);
    }
};

Dataset Dataset::open(const kiln_dataset_api& api, std::string plugin_name, std::string_view config,
                      std::shared_ptr<const void> library, uint32_t abi_version) {
    auto h = std::make_shared<Handle>();
    h->api = &api;
    h->plugin = std::move(plugin_name);
    h->config = std::string(config);
    h->library = std::move(library);
    char err[message_size] = {};
    h->ds = api.open(h->config.c_str(), err, sizeof err);
    if (!h->ds) {
        ensure_message(err, sizeof err, KILN_ERR_INVALID, h->plugin + " open");
        fail(Errc::plugin, "cannot open dataset '" + h->plugin + ":" + h->config + "': " + err);
    }
    // A plugin states these once; out of range, they would size kiln's buffers and tables.
    h->length = api.length(h->ds);
    h->classes = api.num_classes(h->ds);
    if (h->length < 0 || h->length > limits::samples)
        fail(Errc::plugin, h->plugin + ":" + h->config + ": the plugin reports " + std::to_string(h->length) +
                               " samples, outside 0.." + limits::with_commas(limits::samples));
    if (h->classes < 0 || h->classes > limits::classes)
        fail(Errc::plugin, h->plugin + ":" + h->config + ": the plugin reports " + std::to_string(h->classes) +
                               " classes, outside 0.." + limits::with_commas(limits::classes));
    kiln_array& d = h->declared;
    if (api.sample_shape(h->ds, &d) != KILN_OK)
        fail(Errc::plugin, h->plugin + ":" + h->config + ": the plugin could not tell its sample shape");
    d.data = nullptr;
    bool shape_ok = (d.elem == KILN_U8 || d.elem == KILN_F32) && d.rank >= 1 && d.rank <= 4;
    for (int i = 0; shape_ok && i < d.rank; ++i) shape_ok = d.shape[i] >= 0 && d.shape[i] <= limits::dim;
    if (!shape_ok)
        fail(Errc::plugin, h->plugin + ":" + h->config + ": the plugin declares an invalid sample shape (element type " +
                               std::to_string(int(d.elem)) + ", rank " + std::to_string(d.rank) + ")");
    if (abi_version >= 2 && api.notes)
        if (const char* notes = api.notes(h->ds))
            for (std::string_view rest = notes; !rest.empty();) {
                const size_t end = std::min(rest.find('\n'), rest.size());
                if (end > 0) h->notes.emplace_back(rest.substr(0, end));
                rest.remove_prefix(std::min(end + 1, rest.size()));
            }
    return Dataset(std::move(h));
}

const std::string& Dataset::plugin_name() const { return h_->plugin; }
const std::string& Dataset::config() const { return h_->config; }
std::string Dataset::spec() const { return h_->plugin + ":" + h_->config; }
int64_t Dataset::size() const { return h_->length; }
int32_t Dataset::num_classes() const { return h_->classes; }
const kiln_dataset_api& Dataset::api() const { return *h_->api; }
kiln_dataset* Dataset::handle() const { return h_->ds; }

std::string_view Dataset::class_name(int32_t c) const {
    if (c < 0 || c >= num_classes())
        fail(Errc::invalid_argument, spec() + ": class " + std::to_string(c) + " is outside its " +
                                         std::to_string(num_classes()) + " classes");
    const char* name = h_->api->class_name(h_->ds, c);
    return name ? std::string_view(name) : std::string_view();
}

std::vector<std::string> Dataset::class_names() const {
    std::vector<std::string> names;
    for (int32_t c = 0; c < num_classes(); ++c) names.emplace_back(class_name(c));
    return names;
}

kiln_array Dataset::sample_shape() const { return h_->declared; }
const std::vector<std::string>& Dataset::notes() const { return h_->notes; }

bool Dataset::config_skips_bad_samples() const {
    // Settings are comma-separated; the same key=value convention every bundled plugin uses.
    std::string_view c = h_->config;
    for (size_t pos = 0; pos <= c.size();) {
        size_t comma = std::min(c.find(',', pos), c.size());
        if (c.substr(pos, comma - pos) == "on_error=skip") return true;
        pos = comma + 1;
    }
    return false;
}

kiln_status Dataset::try_get(int64_t i, SampleBuffer& buf, kiln_array& out, int64_t& label, char* err,
                             size_t err_size) const {
    if (err && err_size) err[0] = '\0';
    for (int attempt = 0;; ++attempt) {
        size_t needed = 0;
        out = kiln_array{};
        out.data = buf.data();
        kiln_status s = h_->api->get(h_->ds, i, &out, buf.capacity(), &needed, &label, err, err_size);
        if (s == KILN_ERR_CAPACITY && attempt == 0 && needed > buf.capacity()) {
            if (check_needed(needed, spec(), err, err_size) != KILN_OK) return KILN_ERR_INVALID;
            try {
                buf.reserve(needed);
            } catch (const std::bad_alloc&) {
                copy_message(err, err_size, spec() + ": sample " + std::to_string(i) + " needs " +
                                                std::to_string(needed) + " bytes, more than could be allocated");
                return KILN_ERR_CAPACITY;
            }
            if (err && err_size) err[0] = '\0';
            continue;
        }
        if (s == KILN_OK)
            return check_delivered(out, buf.capacity(), h_->declared, [&] { return spec() + ":"; }, err, err_size);
        if (s == KILN_ERR_CAPACITY && err && err_size && err[0] == '\0')
            std::snprintf(err, err_size, "%s: sample %lld: the plugin asked for %zu bytes and then for more", spec().c_str(),
                          (long long)i, needed);
        if (s != KILN_OK) ensure_message(err, err_size, s, spec() + ": get(" + std::to_string(i) + ")");
        return s;
    }
}

kiln_array Dataset::get(int64_t i, SampleBuffer& buf, int64_t& label) const {
    char err[message_size];
    kiln_array out{};
    kiln_status s = try_get(i, buf, out, label, err, sizeof err);
    if (s != KILN_OK) {
        std::string msg = err;
        // Plugins name their file; prefix the plugin for context unless the message already does.
        if (msg.rfind(h_->plugin + ":", 0) != 0) msg = h_->plugin + ": " + msg;
        fail(errc_of(s), msg + " (sample " + std::to_string(i) + ")");
    }
    return out;
}

// ---- TransformPipeline ----

struct TransformPipeline::Step {
    const kiln_transform_api* api = nullptr;
    kiln_transform* t = nullptr;
    std::string config;
    std::shared_ptr<const void> library;
    Step() = default;
    Step(const Step&) = delete;
    ~Step() {
        if (t) api->destroy(t);
    }
};

void TransformPipeline::add(const kiln_transform_api& api, std::string_view config, std::shared_ptr<const void> library) {
    auto step = std::make_shared<Step>();
    step->api = &api;
    step->config = std::string(config);
    step->library = std::move(library);
    char err[message_size] = {};
    step->t = api.create(step->config.c_str(), err, sizeof err);
    if (!step->t) {
        ensure_message(err, sizeof err, KILN_ERR_INVALID, std::string(api.name) + " create");
        fail(Errc::invalid_argument, "transform '" + std::string(api.name) +
                                         (step->config.empty() ? "" : "=" + step->config) + "': " + err);
    }
    steps_.push_back(std::move(step));
}

std::string TransformPipeline::str() const {
    std::string s;
    for (const auto& step : steps_) {
        if (!s.empty()) s += ';';
        s += step->api->name;
        if (!step->config.empty()) s += "=" + step->config;
    }
    return s;
}

kiln_status TransformPipeline::try_apply(const kiln_array& in, PipelineScratch& scratch, uint64_t seed, kiln_array& out,
                                         char* err, size_t err_size) const {
    if (err && err_size) err[0] = '\0';
    const kiln_array* src = &in;
    for (size_t k = 0; k < steps_.size(); ++k) {
        const Step& step = *steps_[k];
        SampleBuffer& dst = scratch.buffers[k % 2];
        kiln_array result{};
        kiln_status s = KILN_OK;
        for (int attempt = 0;; ++attempt) {
            size_t needed = 0;
            result = kiln_array{};
            result.data = dst.data();
            s = step.api->apply(step.t, src, &result, dst.capacity(), &needed, step_seed(seed, k), err, err_size);
            if (s != KILN_ERR_CAPACITY || attempt > 0 || needed <= dst.capacity()) break;
            if (check_needed(needed, std::string("transform ") + step.api->name, err, err_size) != KILN_OK) return KILN_ERR_INVALID;
            try {
                dst.reserve(needed);
            } catch (const std::bad_alloc&) {
                copy_message(err, err_size, std::string(step.api->name) + ": needs " + std::to_string(needed) +
                                                " bytes, more than could be allocated");
                return KILN_ERR_CAPACITY;
            }
            if (err && err_size) err[0] = '\0';
        }
        if (s == KILN_OK)
            s = check_delivered(result, dst.capacity(), kiln_array{}, [&] { return std::string("transform ") + step.api->name; },
                                err, err_size);
        if (s != KILN_OK) {
            ensure_message(err, err_size, s, std::string("transform ") + step.api->name);
            return s;
        }
        out = result;
        src = &out;
    }
    if (steps_.empty()) out = in;
    return KILN_OK;
}

kiln_array TransformPipeline::apply(const kiln_array& in, PipelineScratch& scratch, uint64_t seed) const {
    char err[message_size];
    kiln_array out{};
    kiln_status s = try_apply(in, scratch, seed, out, err, sizeof err);
    if (s != KILN_OK) fail(errc_of(s), err);
    return out;
}

}  // namespace kiln::data
