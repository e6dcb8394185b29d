#include "kiln/nn/model_file.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "kiln/core/error.h"
#include "kiln/core/limits.h"
#include "kiln/core/read_file.h"
#include "kiln/nn/models.h"

namespace kiln::nn {

namespace {

using json = nlohmann::json;

struct TypeName {
    LayerSpec::Type type;
    const char* name;
};
constexpr TypeName type_names[] = {
    {LayerSpec::conv2d, "Conv2d"},         {LayerSpec::linear, "Linear"},
    {LayerSpec::batch_norm1d, "BatchNorm1d"}, {LayerSpec::batch_norm2d, "BatchNorm2d"},
    {LayerSpec::max_pool2d, "MaxPool2d"},  {LayerSpec::avg_pool2d, "AvgPool2d"},
    {LayerSpec::flatten, "Flatten"},       {LayerSpec::dropout, "Dropout"},
    {LayerSpec::relu, "ReLU"},             {LayerSpec::sigmoid, "Sigmoid"},
    {LayerSpec::tanh, "Tanh"},             {LayerSpec::global_avg_pool2d, "GlobalAvgPool2d"},
    {LayerSpec::sequential, "Sequential"}, {LayerSpec::residual, "Residual"},
};

const char* type_name(LayerSpec::Type t) {
    for (const TypeName& n : type_names)
        if (n.type == t) return n.name;
    return "?";
}

// Keys each type accepts besides "type" and "name".
std::vector<std::string> keys_of(LayerSpec::Type t) {
    switch (t) {
    case LayerSpec::conv2d: return {"in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "bias"};
    case LayerSpec::linear: return {"in_features", "out_features", "bias"};
    case LayerSpec::batch_norm1d:
    case LayerSpec::batch_norm2d: return {"num_features", "eps", "momentum", "affine", "track_running_stats"};
    case LayerSpec::max_pool2d: return {"kernel_size", "stride", "padding", "ceil_mode"};
    case LayerSpec::avg_pool2d: return {"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"};
    case LayerSpec::flatten: return {"start_dim"};
    case LayerSpec::dropout: return {"p"};
    case LayerSpec::sequential: return {"layers"};
    case LayerSpec::residual: return {"branch", "shortcut", "activation"};
    default: return {};
    }
}

// A value as a message shows it: nested lists and objects are cut at depth 2 and long text at
// 60 characters (a hostile file's value can be megabytes, or nested too deeply to print safely).
std::string shown(const json& v, int depth = 0) {
    std::string s;
    if (v.is_array() || v.is_object()) {
        if (depth == 2) return v.is_array() ? "[…]" : "{…}";
        s = v.is_array() ? "[" : "{";
        size_t k = 0;
        for (auto it = v.begin(); it != v.end(); ++it, ++k) {
            if (k == 4) {
                s += ", …";
                break;
            }
            s += k ? ", " : "";
            if (v.is_object()) s += json(it.key()).dump() + ": ";
            s += shown(*it, depth + 1);
        }
        return s + (v.is_array() ? "]" : "}");
    }
    s = v.dump();
    return s.size() > 60 ? s.substr(0, 57) + "…" : s;
}

// Reads one JSON object, remembering where it is so every message can name the entry.
class Reader {
public:
    Reader(const std::string& origin, std::string path, const json& j) : origin_(origin), path_(std::move(path)), j_(j) {
        if (!j_.is_object()) bad("expected an object, got " + shown(j_));
    }

    [[noreturn]] void bad(const std::string& what, const std::string& key = "") const {
        std::string where = path_;
        if (!key.empty()) where += (where.empty() ? "" : ".") + key;
        fail(Errc::format, origin_ + ": " + (where.empty() ? "" : where + ": ") + what);
    }
    const std::string& path() const { return path_; }
    std::string child(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
    bool has(const std::string& key) const { return j_.contains(key); }
    const json& at(const std::string& key) const { return j_.at(key); }

    void only(std::vector<std::string> allowed) const {
        for (const auto& [key, value] : j_.items())
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
                std::string list;
                for (const std::string& k : allowed) list += (list.empty() ? "" : ", ") + k;
                bad("unknown key '" + key + "' (expected: " + list + ")");
            }
    }

    // An integer in min..max (by default, a size: 1..limits::dim).
    int64_t integer(const std::string& key, int64_t fallback, int64_t min = 1, int64_t max = limits::dim) const {
        if (!has(key)) return fallback;
        return integer_value(at(key), key, min, max);
    }
    int64_t integer_value(const json& v, const std::string& key, int64_t min, int64_t max) const {
        if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(max)) ||
            v.get<int64_t>() < min || v.get<int64_t>() > max)
            bad("expected an integer from " + std::to_string(min) + " to " + limits::with_commas(max) + ", got " + shown(v), key);
        return v.get<int64_t>();
    }
    double number(const std::string& key, double fallback, double min, double max) const {
        if (!has(key)) return fallback;
        const json& v = at(key);
        if (!v.is_number() || v.get<double>() < min || v.get<double>() > max)
            bad("expected a number in [" + json(min).dump() + ", " + json(max).dump() + "], got " + shown(v), key);
        return v.get<double>();
    }
    bool boolean(const std::string& key, bool fallback) const {
        if (!has(key)) return fallback;
        if (!at(key).is_boolean()) bad("expected true or false, got " + shown(at(key)), key);
        return at(key).get<bool>();
    }
    std::string text(const std::string& key) const {
        if (!at(key).is_string()) bad("expected a string, got " + shown(at(key)), key);
        return at(key).get<std::string>();
    }
    // A number or [h, w], each ≥ min.
    Pair pair(const std::string& key, Pair fallback, int min) const {
        if (!has(key)) return fallback;
        const json& v = at(key);
        auto ok = [min](const json& e) {
            return e.is_number_integer() && e.get<int64_t>() >= min && e.get<int64_t>() <= std::numeric_limits<int>::max();
        };
        if (ok(v)) return Pair(v.get<int>());
        if (v.is_array() && v.size() == 2 && ok(v[0]) && ok(v[1])) return Pair(v[0].get<int>(), v[1].get<int>());
        bad(std::string("expected ") + (min > 0 ? "a positive integer" : "an integer ≥ 0") + " or [h, w], got " + shown(v), key);
    }

private:
    const std::string& origin_;
    std::string path_;
    const json& j_;
};

// depth: how many Sequential/Residual entries enclose the list (limits::nesting at most).
std::vector<LayerSpec> parse_layers(const std::string& origin, const std::string& path, const json& list, int depth);

LayerSpec parse_layer(const std::string& origin, const std::string& path, const json& j, int depth) {
    Reader r(origin, path, j);
    if (!r.has("type")) r.bad("missing \"type\"");
    const std::string type = r.text("type");
    LayerSpec s;
    s.path = path;
    const TypeName* found = nullptr;
    for (const TypeName& n : type_names)
        if (type == n.name) found = &n;
    if (!found) {
        std::string list;
        for (const TypeName& n : type_names) list += (list.empty() ? "" : ", ") + std::string(n.name);
        r.bad("unknown layer type '" + type + "' (known: " + list + ")", "type");
    }
    s.type = found->type;
    std::vector<std::string> allowed = keys_of(s.type);
    allowed.insert(allowed.begin(), {"type", "name"});
    r.only(allowed);
    if (r.has("name")) {
        s.name = r.text("name");
        if (s.name.empty() || s.name.find('.') != std::string::npos) r.bad("a name is not empty and has no '.'", "name");
    }

    switch (s.type) {
    case LayerSpec::conv2d: {
        if (!r.has("out_channels")) r.bad("Conv2d needs \"out_channels\"");
        if (!r.has("kernel_size")) r.bad("Conv2d needs \"kernel_size\"");
        s.in = r.integer("in_channels", 0);
        s.out = r.integer("out_channels", 0);
        s.conv.kernel = r.pair("kernel_size", 1, 1);
        s.conv.stride = r.pair("stride", 1, 1);
        s.conv.dilation = r.pair("dilation", 1, 1);
        s.conv.bias = r.boolean("bias", true);
        if (r.has("padding") && r.at("padding").is_string()) {
            const std::string mode = r.text("padding");
            if (mode == "same") s.conv.padding = same;
            else if (mode == "valid") s.conv.padding = valid;
            else r.bad("expected an integer, [h, w], \"same\" or \"valid\", got \"" + mode + "\"", "padding");
        } else {
            const Pair p = r.pair("padding", 0, 0);
            s.conv.padding = Padding(p.h, p.w);
        }
        break;
    }
    case LayerSpec::linear:
        if (!r.has("out_features")) r.bad("Linear needs \"out_features\" (a number or \"classes\")");
        s.in = r.integer("in_features", 0);
        if (r.at("out_features").is_string()) {
            if (r.text("out_features") != "classes")
                r.bad("expected a positive integer or \"classes\", got " + shown(r.at("out_features")), "out_features");
        } else {
            s.out = r.integer("out_features", 0);
        }
        s.bias = r.boolean("bias", true);
        break;
    case LayerSpec::batch_norm1d:
    case LayerSpec::batch_norm2d:
        s.in = r.integer("num_features", 0);
        s.norm.eps = float(r.number("eps", 1e-5, 0, 1));
        if (r.has("momentum") && r.at("momentum").is_null()) s.norm.cumulative = true;
        else s.norm.momentum = float(r.number("momentum", 0.1, 0, 1));
        s.norm.affine = r.boolean("affine", true);
        s.norm.track_running_stats = r.boolean("track_running_stats", true);
        break;
    case LayerSpec::max_pool2d:
    case LayerSpec::avg_pool2d:
        if (!r.has("kernel_size")) r.bad(std::string(type_name(s.type)) + " needs \"kernel_size\"");
        s.kernel = r.pair("kernel_size", 1, 1);
        s.pool.stride = r.pair("stride", s.kernel, 1);
        s.pool.padding = r.pair("padding", 0, 0);
        s.pool.ceil_mode = r.boolean("ceil_mode", false);
        if (s.type == LayerSpec::avg_pool2d) s.pool.count_include_pad = r.boolean("count_include_pad", true);
        break;
    case LayerSpec::flatten: s.start_dim = int(r.integer("start_dim", 1, 1)); break;
    case LayerSpec::dropout: s.p = float(r.number("p", 0.5, 0, 0.999999)); break;
    case LayerSpec::sequential:
        if (!r.has("layers")) r.bad("Sequential needs \"layers\"");
        s.layers = parse_layers(origin, r.child("layers"), r.at("layers"), depth + 1);
        break;
    case LayerSpec::residual:
        if (!r.has("branch")) r.bad("Residual needs \"branch\"");
        s.layers = parse_layers(origin, r.child("branch"), r.at("branch"), depth + 1);
        if (r.has("shortcut")) s.shortcut = parse_layers(origin, r.child("shortcut"), r.at("shortcut"), depth + 1);
        if (r.has("activation")) {
            const std::string a = r.text("activation");
            if (a == "ReLU") s.activation = LayerSpec::relu;
            else if (a == "Sigmoid") s.activation = LayerSpec::sigmoid;
            else if (a == "Tanh") s.activation = LayerSpec::tanh;
            else r.bad("expected \"ReLU\", \"Sigmoid\" or \"Tanh\", got \"" + a + "\"", "activation");
        }
        break;
    default: break;
    }
    return s;
}

std::vector<LayerSpec> parse_layers(const std::string& origin, const std::string& path, const json& list, int depth) {
    if (!list.is_array() || list.empty()) fail(Errc::format, origin + ": " + path + ": expected a non-empty list of layers");
    if (depth > limits::nesting)
        fail(Errc::format, origin + ": " + path + ": layers nested more than " + std::to_string(limits::nesting) + " deep, kiln's limit");
    std::vector<LayerSpec> layers;
    for (size_t i = 0; i < list.size(); ++i)
        layers.push_back(parse_layer(origin, path + "[" + std::to_string(i) + "]", list[i], depth));
    return layers;
}

// model.json's "input_statistics" (model_file.h shows one), every key required and checked.
ImageStatistics parse_input_statistics(const std::string& origin, const json& j) {
    Reader r(origin, "input_statistics", j);
    const std::vector<std::string> keys = {"samples", "size",       "channels", "mean",     "std",         "background",
                                           "border",  "brightness", "contrast", "border_range"};
    r.only(keys);
    for (const std::string& k : keys)
        if (!r.has(k)) r.bad("missing \"" + k + "\"");
    ImageStatistics s;
    s.samples = r.integer("samples", 0, 1, limits::samples);
    const json& size = r.at("size");
    if (!size.is_array() || size.size() != 2) r.bad("expected [height, width], got " + shown(size), "size");
    s.height = r.integer_value(size[0], "size[0]", 1, limits::dim);
    s.width = r.integer_value(size[1], "size[1]", 1, limits::dim);
    s.channels = r.integer("channels", 0, 1, 3);
    if (s.channels == 2) r.bad("expected 1 or 3, got 2", "channels");
    // One value per channel, each in [0, max].
    const auto per_channel = [&](const std::string& key, double max) {
        const json& v = r.at(key);
        if (!v.is_array() || v.size() != size_t(s.channels))
            r.bad("expected a list of " + std::to_string(s.channels) + " numbers (one per channel), got " + shown(v), key);
        std::vector<double> out;
        for (size_t i = 0; i < v.size(); ++i) {
            if (!v[i].is_number() || !(v[i].get<double>() >= 0 && v[i].get<double>() <= max))
                r.bad("expected a number in [0, " + json(max).dump() + "], got " + shown(v[i]), key + "[" + std::to_string(i) + "]");
            out.push_back(v[i].get<double>());
        }
        return out;
    };
    s.mean = per_channel("mean", 1), s.std = per_channel("std", 0.5);
    s.border = r.number("border", 0, 0, 1);
    const std::string background = r.text("background");
    if (background != "dark" && background != "light") r.bad("expected \"dark\" or \"light\", got " + shown(r.at("background")), "background");
    if ((background == "dark") != s.dark_background())
        r.bad("\"" + background + "\" disagrees with \"border\" " + json(s.border).dump() + " (dark: below 0.5)", "background");
    const auto range = [&](const std::string& key, double max) {
        const json& v = r.at(key);
        const auto ok = [max](const json& e) { return e.is_number() && e.get<double>() >= 0 && e.get<double>() <= max; };
        if (!v.is_array() || v.size() != 2 || !ok(v[0]) || !ok(v[1]) || v[0].get<double>() > v[1].get<double>())
            r.bad("expected [low, high] with 0 ≤ low ≤ high ≤ " + json(max).dump() + ", got " + shown(v), key);
        return ImageStatistics::Range{v[0].get<double>(), v[1].get<double>()};
    };
    s.brightness = range("brightness", 1), s.contrast = range("contrast", 0.5), s.border_range = range("border_range", 1);
    return s;
}

json input_statistics_json(const ImageStatistics& s) {
    const auto range = [](ImageStatistics::Range r) { return json::array({r.low, r.high}); };
    return {{"samples", s.samples},
            {"size", {s.height, s.width}},
            {"channels", s.channels},
            {"mean", s.mean},
            {"std", s.std},
            {"background", s.dark_background() ? "dark" : "light"},
            {"border", s.border},
            {"brightness", range(s.brightness)},
            {"contrast", range(s.contrast)},
            {"border_range", range(s.border_range)}};
}

// ---- writing ----

json pair_json(Pair p) { return p.h == p.w ? json(p.h) : json::array({p.h, p.w}); }

json layers_json(const std::vector<LayerSpec>& layers);

json layer_json(const LayerSpec& s) {
    json j;
    if (!s.name.empty()) j["name"] = s.name;
    j["type"] = type_name(s.type);
    switch (s.type) {
    case LayerSpec::conv2d:
        if (s.in) j["in_channels"] = s.in;
        j["out_channels"] = s.out;
        j["kernel_size"] = pair_json(s.conv.kernel);
        j["stride"] = pair_json(s.conv.stride);
        j["padding"] = s.conv.padding.mode == Padding::same_size ? json("same")
                       : s.conv.padding.mode == Padding::none    ? json("valid")
                                                                 : pair_json(s.conv.padding);
        j["dilation"] = pair_json(s.conv.dilation);
        j["bias"] = s.conv.bias;
        break;
    case LayerSpec::linear:
        if (s.in) j["in_features"] = s.in;
        j["out_features"] = s.out ? json(s.out) : json("classes");
        j["bias"] = s.bias;
        break;
    case LayerSpec::batch_norm1d:
    case LayerSpec::batch_norm2d:
        if (s.in) j["num_features"] = s.in;
        j["eps"] = s.norm.eps;
        j["momentum"] = s.norm.cumulative ? json(nullptr) : json(s.norm.momentum);
        j["affine"] = s.norm.affine;
        j["track_running_stats"] = s.norm.track_running_stats;
        break;
    case LayerSpec::max_pool2d:
    case LayerSpec::avg_pool2d:
        j["kernel_size"] = pair_json(s.kernel);
        j["stride"] = pair_json(s.pool.stride);
        j["padding"] = pair_json(s.pool.padding);
        j["ceil_mode"] = s.pool.ceil_mode;
        if (s.type == LayerSpec::avg_pool2d) j["count_include_pad"] = s.pool.count_include_pad;
        break;
    case LayerSpec::flatten: j["start_dim"] = s.start_dim; break;
    case LayerSpec::dropout: j["p"] = s.p; break;
    case LayerSpec::sequential: j["layers"] = layers_json(s.layers); break;
    case LayerSpec::residual:
        j["branch"] = layers_json(s.layers);
        if (!s.shortcut.empty()) j["shortcut"] = layers_json(s.shortcut);
        if (s.activation != LayerSpec::sequential) j["activation"] = type_name(s.activation);
        break;
    default: break;
    }
    return j;
}

json layers_json(const std::vector<LayerSpec>& layers) {
    json list = json::array();
    for (const LayerSpec& s : layers) list.push_back(layer_json(s));
    return list;
}

// ---- building ----

Value build_layers(Graph& g, const std::string& prefix, const std::vector<LayerSpec>& layers, Value x, int64_t classes);

Value build_layer(Graph& g, const std::string& name, const LayerSpec& s, Value x, int64_t classes) {
    const Shape in = g.shape(x);
    auto check_in = [&](int64_t have, const char* key) {
        if (s.in && s.in != have)
            fail(Errc::shape_mismatch, std::string(key) + " is " + std::to_string(s.in) + " but the input " + in.str() +
                                           " has " + std::to_string(have));
    };
    switch (s.type) {
    case LayerSpec::conv2d:
        if (in.rank == 4) check_in(in[1], "in_channels");
        return conv2d(g, name, x, s.out, s.conv);
    case LayerSpec::linear:
        if (in.rank == 2) check_in(in[1], "in_features");
        return linear(g, name, x, s.out ? s.out : classes, s.bias);
    case LayerSpec::batch_norm1d:
    case LayerSpec::batch_norm2d: {
        const bool two_d = s.type == LayerSpec::batch_norm2d;
        if (two_d ? in.rank != 4 : (in.rank != 2 && in.rank != 3))
            fail(Errc::shape_mismatch, std::string(type_name(s.type)) + " needs " + (two_d ? "[N, C, H, W]" : "[N, C] or [N, C, L]") +
                                           ", got " + in.str());
        check_in(in[1], "num_features");
        return batch_norm(g, name, x, s.norm);
    }
    case LayerSpec::max_pool2d: return max_pool2d(g, x, s.kernel, s.pool);
    case LayerSpec::avg_pool2d: return avg_pool2d(g, x, s.kernel, s.pool);
    case LayerSpec::flatten: return g.flatten(x, s.start_dim);
    case LayerSpec::dropout: return g.dropout(x, s.p);
    case LayerSpec::relu: return g.relu(x);
    case LayerSpec::sigmoid: return g.sigmoid(x);
    case LayerSpec::tanh: return g.tanh(x);
    case LayerSpec::global_avg_pool2d: return g.global_avg_pool2d(x);
    case LayerSpec::sequential: return build_layers(g, name, s.layers, x, classes);
    case LayerSpec::residual: {
        Value branch = build_layers(g, name, s.layers, x, classes);
        Value shortcut = s.shortcut.empty() ? x : build_layers(g, name, s.shortcut, x, classes);
        Value sum = g.add(branch, shortcut);
        if (s.activation == LayerSpec::relu) return g.relu(sum);
        if (s.activation == LayerSpec::sigmoid) return g.sigmoid(sum);
        if (s.activation == LayerSpec::tanh) return g.tanh(sum);
        return sum;
    }
    }
    return x;
}

// A layer's own errors get its path and type in front; errors from nested layers already have theirs.
struct LayerError : Error {
    using Error::Error;
};

Value build_layers(Graph& g, const std::string& prefix, const std::vector<LayerSpec>& layers, Value x, int64_t classes) {
    for (size_t i = 0; i < layers.size(); ++i) {
        const LayerSpec& s = layers[i];
        const std::string child = s.name.empty() ? std::to_string(i) : s.name;
        try {
            x = build_layer(g, prefix.empty() ? child : prefix + "." + child, s, x, classes);
        } catch (const LayerError&) {
            throw;
        } catch (const Error& e) {
            throw LayerError(e.code(), s.path + " (" + type_name(s.type) + "): " + e.what());
        }
    }
    return x;
}

}  // namespace

ModelSpec parse_model(const std::string& text, const std::string& origin) {
    ModelSpec spec;
    spec.origin = origin;
    const size_t start = text.find_first_not_of(" \t\r\n");
    if (start == std::string::npos || text[start] != '{') {
        const BuiltinModel* builtin = find_builtin_model(text);
        if (!builtin) {
            const std::string name = text.size() > 60 ? text.substr(0, 57) + "…" : text;
            fail(Errc::invalid_argument, origin + ": '" + name + "' is neither a JSON description nor a built-in model (" +
                                             builtin_model_names() + ")");
        }
        spec.builtin = text;
        spec.hidden_units = builtin->hidden_units;
        return spec;
    }
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
        fail(Errc::format, origin + ": not valid JSON: " + e.what());
    }
    Reader r(origin, "", j);
    const std::vector<std::string> run_keys = {"input_shape", "class_names", "eval_transforms", "input_statistics"};
    if (r.has("builtin") == r.has("layers")) r.bad("expected either \"builtin\" (a model's name) or \"layers\"");
    std::vector<std::string> allowed = run_keys;
    if (r.has("builtin")) {
        spec.builtin = r.text("builtin");
        const BuiltinModel* builtin = find_builtin_model(spec.builtin);
        if (!builtin) r.bad("unknown model '" + spec.builtin + "' (known: " + builtin_model_names() + ")", "builtin");
        allowed.push_back("builtin");
        if (builtin->takes_hidden_units()) allowed.push_back("hidden_units");
        r.only(allowed);
        spec.hidden_units = r.integer("hidden_units", builtin->hidden_units);
    } else {
        allowed.push_back("layers");
        r.only(allowed);
        spec.layers = parse_layers(origin, "layers", r.at("layers"), 0);
    }
    if (r.has("input_shape")) {
        const json& shape = r.at("input_shape");
        // The batch comes in front, so a sample has at most Shape::max_rank - 1 dimensions.
        if (!shape.is_array() || shape.empty() || shape.size() >= size_t(Shape::max_rank))
            r.bad("expected a list of 1 to " + std::to_string(Shape::max_rank - 1) + " sizes, got " + shown(shape), "input_shape");
        for (size_t i = 0; i < shape.size(); ++i)
            spec.input_shape.push_back(r.integer_value(shape[i], "input_shape[" + std::to_string(i) + "]", 1, limits::dim));
    }
    if (r.has("class_names")) {
        const json& names = r.at("class_names");
        if (!names.is_array() || names.size() > size_t(limits::classes))
            r.bad("expected a list of at most " + limits::with_commas(limits::classes) + " names, got " + shown(names), "class_names");
        for (size_t i = 0; i < names.size(); ++i) {
            if (!names[i].is_string()) r.bad("expected a string, got " + shown(names[i]), "class_names[" + std::to_string(i) + "]");
            spec.class_names.push_back(names[i].get<std::string>());
        }
    }
    if (r.has("eval_transforms")) spec.eval_transforms = r.text("eval_transforms");
    if (r.has("input_statistics")) spec.input_statistics = parse_input_statistics(origin, r.at("input_statistics"));
    return spec;
}

ModelSpec read_model_file(const std::string& path) { return parse_model(read_file(path, "model description"), path); }

std::string to_json(const ModelSpec& spec) {
    json j;
    if (!spec.builtin.empty()) {
        j["builtin"] = spec.builtin;
        if (const BuiltinModel* builtin = find_builtin_model(spec.builtin); builtin && builtin->takes_hidden_units())
            j["hidden_units"] = spec.hidden_units;
    } else {
        j["layers"] = layers_json(spec.layers);
    }
    if (!spec.input_shape.empty()) j["input_shape"] = spec.input_shape;
    if (!spec.class_names.empty()) j["class_names"] = spec.class_names;
    if (!spec.eval_transforms.empty()) j["eval_transforms"] = spec.eval_transforms;
    if (spec.input_statistics.recorded()) j["input_statistics"] = input_statistics_json(spec.input_statistics);
    return j.dump(2) + "\n";
}

Value build_model(Graph& g, const ModelSpec& spec, Value x, int64_t classes) {
    if (!spec.builtin.empty()) {
        try {
            return build_model(g, spec.builtin, x, classes, spec.hidden_units);
        } catch (const Error& e) {
            const BuiltinModel* builtin = find_builtin_model(spec.builtin);
            const bool sized = builtin && builtin->takes_hidden_units();  // then the size most likely at fault
            throw Error(e.code(), spec.origin + ": " + spec.builtin +
                                      (sized ? " with hidden_units " + std::to_string(spec.hidden_units) : std::string()) + ": " + e.what());
        }
    }
    try {
        return build_layers(g, "", spec.layers, x, classes);
    } catch (const Error& e) {
        throw Error(e.code(), spec.origin + ": " + e.what());
    }
}

}  // namespace kiln::nn
