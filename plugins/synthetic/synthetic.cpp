// synthetic: the course's small generated data sets (kiln/data/synthetic.h) as a dataset plugin, so
// the first examples and their tests read them through PluginRegistry and the DataLoader like any
// other data. The numbers are make_circles / make_blobs / make_line's, called with the settings.
//
// Configuration ("synthetic:<config>"), comma-separated, the first item naming the generator;
// every key is optional and defaults to the generator's default:
//   circles        two concentric circles, 2 classes: "outer" (0, the unit circle) and "inner" (1)
//     n=1000         samples
//     noise=0.03     standard deviation of the Gaussian noise on each coordinate (≥ 0)
//     factor=0.8     the inner circle's radius, in [0, 1)
//     seed=42
//   blobs          Gaussian clusters, one class per centre, named "0", "1", …
//     n=1000         samples, split evenly among the centres
//     centers=4      number of centres (1 to 65536)
//     features=2     values per sample
//     std=1.5        each cluster's standard deviation (≥ 0)
//     box=-10:10     low:high, the range the centres are drawn from
//     seed=42
//   line           regression (0 classes): x = start, start + step, … (< end), y = weight·x + bias;
//                  the label carries y's f32 bit pattern, which the DataLoader hands out as targets
//     weight=0.7, bias=0.3, start=0, end=1, step=0.02
// e.g. synthetic:circles,n=1000,noise=0.03,factor=0.8,seed=42 or synthetic:line,weight=0.5.
// n × features (or the line's point count) is at most 2^27 values. A key the generator does not
// have, or a value that is not a number in range, is an error naming the key.
//
// The whole set is generated at open; sample i is f32 [features] (2 for circles, 1 for line).
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/data/plugin.h"
#include "kiln/data/synthetic.h"

namespace data = kiln::data;

struct kiln_dataset {
    int64_t n_features = 0;
    std::vector<float> x;          // [size, n_features]
    std::vector<int64_t> labels;   // class indices, or the f32 bits of the regression targets
    std::vector<std::string> class_names;
    int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

namespace {

constexpr int64_t max_values = int64_t(1) << 27;  // 512 MB of floats

[[noreturn]] void invalid(const std::string& message) {
    kiln::fail(kiln::Errc::invalid_argument, "synthetic: " + message);
}

using Settings = std::vector<std::pair<std::string, std::string>>;  // key, value; in the given order

[[noreturn]] void bad_value(const std::string& key, const std::string& value, const std::string& why) {
    invalid("setting '" + key + "=" + value + "': " + why);
}

// Parses `text`, which is `value` or a part of it (messages show the whole value).
template <class T> T parse_number(const std::string& key, const std::string& value, std::string_view text) {
    T v{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        if constexpr (std::is_unsigned_v<T>) bad_value(key, value, "not a whole number from 0 to 2^64 - 1");
        else if constexpr (std::is_integral_v<T>) bad_value(key, value, "not a whole number");
        else bad_value(key, value, "not a number");
    }
    if constexpr (std::is_floating_point_v<T>)
        if (!std::isfinite(v)) bad_value(key, value, "not a finite number");
    return v;
}
template <class T> T parse_number(const std::string& key, const std::string& value) {
    return parse_number<T>(key, value, value);
}

// Reads the generator's keys from the settings; a key it does not know is an error listing those it does.
class Reader {
public:
    Reader(const char* generator, const Settings& settings, std::vector<std::string_view> known)
        : settings_(settings) {
        for (const auto& [key, value] : settings) {
            bool ok = false;
            for (std::string_view k : known) ok = ok || key == k;
            if (ok) continue;
            std::string list;
            for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
            invalid(std::string(generator) + " has no setting '" + key + "' (its settings: " + list + ")");
        }
    }
    // The value given for key (the last one, if given twice), or nullptr.
    const std::string* find(std::string_view key) const {
        const std::string* v = nullptr;
        for (const auto& [k, value] : settings_)
            if (k == key) v = &value;
        return v;
    }
    template <class T> T number(const char* key, T fallback) const {
        const std::string* v = find(key);
        return v ? parse_number<T>(key, *v) : fallback;
    }
    void require(bool ok, const char* key, const std::string& why) const {
        if (ok) return;
        const std::string* v = find(key);
        if (v) bad_value(key, *v, why);
        invalid(std::string("setting '") + key + "': " + why);
    }

private:
    const Settings& settings_;
};

void check_count(const Reader& r, int64_t n, int64_t features) {
    r.require(n <= max_values / features, "n",
              std::to_string(n) + " samples of " + std::to_string(features) + " values are more than the " +
                  std::to_string(max_values) + " values a synthetic set may hold");
}

void keep(kiln_dataset& ds, data::Classification&& d) {
    ds.n_features = d.n_features;
    ds.x = std::move(d.x);
    ds.labels = std::move(d.y);
}

void circles(const Reader& r, kiln_dataset& ds) {
    const auto n = r.number<int64_t>("n", 1000);
    const auto noise = r.number<float>("noise", 0.03f);
    const auto factor = r.number<float>("factor", 0.8f);
    r.require(n >= 1, "n", "must be at least 1");
    r.require(noise >= 0, "noise", "must not be negative");
    r.require(factor >= 0 && factor < 1, "factor", "must be at least 0 and below 1");
    check_count(r, n, 2);
    keep(ds, data::make_circles(n, noise, factor, r.number<uint64_t>("seed", 42)));
    ds.class_names = {"outer", "inner"};
}

void blobs(const Reader& r, kiln_dataset& ds) {
    const auto n = r.number<int64_t>("n", 1000);
    const auto centers = r.number<int64_t>("centers", 4);
    const auto features = r.number<int64_t>("features", 2);
    const auto std_dev = r.number<float>("std", 1.5f);
    std::pair<float, float> box{-10.0f, 10.0f};
    if (const std::string* b = r.find("box")) {
        const size_t colon = b->find(':');
        if (colon == std::string::npos) bad_value("box", *b, "give the centres' range as low:high, e.g. box=-10:10");
        const std::string_view v = *b;
        box = {parse_number<float>("box", *b, v.substr(0, colon)), parse_number<float>("box", *b, v.substr(colon + 1))};
        r.require(box.first <= box.second, "box", "low must not be above high");
    }
    r.require(n >= 1, "n", "must be at least 1");
    r.require(centers >= 1 && centers <= 65536, "centers", "must be from 1 to 65536");
    r.require(features >= 1, "features", "must be at least 1");
    r.require(std_dev >= 0, "std", "must not be negative");
    check_count(r, n, features);
    keep(ds, data::make_blobs(n, features, centers, std_dev, box, r.number<uint64_t>("seed", 42)));
    for (int64_t c = 0; c < centers; ++c) ds.class_names.push_back(std::to_string(c));
}

void line(const Reader& r, kiln_dataset& ds) {
    const auto weight = r.number<float>("weight", 0.7f);
    const auto bias = r.number<float>("bias", 0.3f);
    const auto start = r.number<double>("start", 0.0);
    const auto end = r.number<double>("end", 1.0);
    const auto step = r.number<double>("step", 0.02);
    r.require(step > 0, "step", "must be above 0");
    r.require(end > start, "end", "must be above start");
    r.require((end - start) / step <= double(max_values), "step",
              "gives more than " + std::to_string(max_values) + " points from start to end");
    data::Regression d = data::make_line(weight, bias, start, end, step);
    ds.n_features = d.n_features;
    ds.x = std::move(d.x);
    for (float y : d.y) {
        uint32_t bits;
        std::memcpy(&bits, &y, sizeof bits);
        ds.labels.push_back(bits);
    }
}

std::unique_ptr<kiln_dataset> generate(std::string_view text) {
    std::string generator;
    Settings settings;
    for (size_t n = 0; !text.empty() || n == 0; ++n) {
        const size_t comma = std::min(text.find(','), text.size());
        const std::string item(text.substr(0, comma));
        text.remove_prefix(std::min(comma + 1, text.size()));
        const size_t eq = item.find('=');
        if (n == 0 && eq == std::string::npos) generator = item;
        else if (eq == std::string::npos && !item.empty())
            invalid("'" + item + "' is not a key=value setting (only the generator, first, comes without a key)");
        else if (!item.empty()) settings.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    }
    auto ds = std::make_unique<kiln_dataset>();
    if (generator == "circles") circles(Reader("circles", settings, {"n", "noise", "factor", "seed"}), *ds);
    else if (generator == "blobs")
        blobs(Reader("blobs", settings, {"n", "centers", "features", "std", "box", "seed"}), *ds);
    else if (generator == "line") line(Reader("line", settings, {"weight", "bias", "start", "end", "step"}), *ds);
    else if (generator.empty()) invalid("no generator given; use synthetic:circles|blobs|line[,key=value…]");
    else invalid("unknown generator '" + generator + "' (known: circles, blobs, line)");
    return ds;
}

void set_error(char* err, size_t err_size, const char* message) {
    if (err && err_size) std::snprintf(err, err_size, "%s", message);
}

kiln_dataset* open_dataset(const char* config, char* err, size_t err_size) noexcept {
    try {
        return generate(config ? config : "").release();
    } catch (const std::bad_alloc&) {
        set_error(err, err_size, "synthetic: out of memory while generating the data");
    } catch (const std::exception& e) {
        set_error(err, err_size, e.what());
    }
    return nullptr;
}

void close_dataset(kiln_dataset* ds) noexcept { delete ds; }
int64_t length(const kiln_dataset* ds) noexcept { return ds->size(); }
int32_t num_classes(const kiln_dataset* ds) noexcept { return static_cast<int32_t>(ds->class_names.size()); }

const char* class_name(const kiln_dataset* ds, int32_t c) noexcept {
    return c >= 0 && c < num_classes(ds) ? ds->class_names[size_t(c)].c_str() : nullptr;
}

kiln_status sample_shape(const kiln_dataset* ds, kiln_array* shape_only) noexcept {
    if (!shape_only) return KILN_ERR_INVALID;
    *shape_only = kiln_array{KILN_F32, 1, {ds->n_features, 0, 0, 0}, nullptr};
    return KILN_OK;
}

kiln_status get_sample(const kiln_dataset* ds, int64_t i, kiln_array* out, size_t capacity, size_t* needed,
                       int64_t* label, char* err, size_t err_size) noexcept {
    if (!out) {
        set_error(err, err_size, "synthetic: get() needs an output array");
        return KILN_ERR_INVALID;
    }
    if (i < 0 || i >= ds->size()) {
        if (err && err_size)
            std::snprintf(err, err_size, "synthetic: sample %lld is outside [0, %lld)", (long long)i,
                          (long long)ds->size());
        return KILN_ERR_INVALID;
    }
    const size_t bytes = size_t(ds->n_features) * sizeof(float);
    if (needed) *needed = bytes;
    if (capacity < bytes || !out->data) return KILN_ERR_CAPACITY;
    *out = kiln_array{KILN_F32, 1, {ds->n_features, 0, 0, 0}, out->data};
    std::memcpy(out->data, ds->x.data() + i * ds->n_features, bytes);
    if (label) *label = ds->labels[size_t(i)];
    return KILN_OK;
}

const kiln_dataset_api dataset_api = {open_dataset, close_dataset, length, num_classes, class_name,
                                       sample_shape, get_sample, /*notes=*/nullptr};

const kiln_plugin plugin = {
    KILN_PLUGIN_ABI_VERSION,
    "synthetic",
    "1.0.0",
    "the course's generated data: synthetic:circles|blobs|line[,key=value…] (n, noise, factor, centers, "
    "features, std, box, seed; weight, bias, start, end, step)",
    &dataset_api,
    0,
    nullptr,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const kiln_plugin* kiln_plugin_entry(void) { return &plugin; }
