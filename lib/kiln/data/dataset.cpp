#include "kiln/data/dataset.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace kiln::data {

namespace {

constexpr size_t message_size = 1024;

void copy_message(char* err, size_t err_size, const std::string& text) {
    if (!err || err_size == 0) return;
    std::snprintf(err, err_size, "%s", text.c_str());
}

const char* elem_name(kiln_elem e) { return e == KILN_U8 ? "u8" : e == KILN_F32 ? "f32" : "?"; }

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

bool valid_array(const kiln_array& a) {
    if ((a.elem != KILN_U8 && a.elem != KILN_F32) || a.rank < 1 || a.rank > 4) return false;
    for (int i = 0; i < a.rank; ++i)
        if (a.shape[i] <= 0) return false;
    return true;
}

}  // namespace

void SampleBuffer::Free::operator()(std::byte* p) const { std::free(p); }

void SampleBuffer::reserve(size_t bytes) {
    if (bytes <= capacity_) return;
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

size_t array_bytes(const kiln_array& a) {
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
    std::shared_ptr<const void> library;  // released after the destructor has closed ds
    Handle() = default;
    Handle(const Handle&) = delete;
    ~Handle() {
        if (ds) api->close(ds);
    }
};

Dataset Dataset::open(const kiln_dataset_api& api, std::string plugin_name, std::string_view config,
                      std::shared_ptr<const void> library) {
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
    return Dataset(std::move(h));
}

const std::string& Dataset::plugin_name() const { return h_->plugin; }
const std::string& Dataset::config() const { return h_->config; }
std::string Dataset::spec() const { return h_->plugin + ":" + h_->config; }
int64_t Dataset::size() const { return h_->api->length(h_->ds); }
int32_t Dataset::num_classes() const { return h_->api->num_classes(h_->ds); }
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

kiln_array Dataset::sample_shape() const {
    kiln_array a{};
    kiln_status s = h_->api->sample_shape(h_->ds, &a);
    if (s != KILN_OK) fail(errc_of(s), spec() + ": the plugin could not tell its sample shape");
    a.data = nullptr;
    return a;
}

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
        if (s == KILN_OK && !valid_array(out)) {
            std::snprintf(err, err_size, "%s: sample %lld came back with an invalid shape (rank %d)", spec().c_str(),
                          (long long)i, int(out.rank));
            return KILN_ERR_FORMAT;
        }
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
        fail(errc_of(s), msg);
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
            try {
                dst.reserve(needed);
            } catch (const std::bad_alloc&) {
                copy_message(err, err_size, std::string(step.api->name) + ": needs " + std::to_string(needed) +
                                                " bytes, more than could be allocated");
                return KILN_ERR_CAPACITY;
            }
            if (err && err_size) err[0] = '\0';
        }
        if (s == KILN_OK && !valid_array(result)) {
            std::snprintf(err, err_size, "transform %s gave an invalid shape (rank %d)", step.api->name, int(result.rank));
            return KILN_ERR_FORMAT;
        }
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
