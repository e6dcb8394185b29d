#include "config.h"

#include <charconv>
#include <cmath>

#include "image.h"

namespace kiln::transforms {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    for (size_t start = 0;;) {
        const size_t end = s.find(sep, start);
        parts.push_back(trim(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start)));
        if (end == std::string_view::npos) return parts;
        start = end + 1;
    }
}

std::string join(std::initializer_list<std::string_view> words) {
    std::string s;
    for (std::string_view w : words) s += (s.empty() ? "" : ", ") + std::string(w);
    return s.empty() ? "none" : s;
}

std::string shortest(double v) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

}  // namespace

Config::Config(std::string_view transform, std::string_view text, std::initializer_list<std::string_view> keys,
               std::string_view primary)
    : transform_(transform) {
    if (trim(text).empty()) return;
    bool first = true;
    for (std::string_view item : split(text, ',')) {
        if (item.empty()) fail("empty item in the configuration \"" + std::string(text) + "\"");
        const size_t eq = item.find('=');
        std::string_view key, value;
        if (eq == std::string_view::npos) {
            if (!first || primary.empty()) {
                std::string message = "\"";  // (built up in steps: GCC 12 warns falsely on "…" + string)
                message.append(item).append("\" is not key=value (keys: ").append(join(keys)).append(")");
                fail(message);
            }
            key = primary, value = item;
        } else {
            key = trim(item.substr(0, eq)), value = trim(item.substr(eq + 1));
        }
        bool known = false;
        for (std::string_view k : keys) known = known || k == key;
        if (!known) fail("unknown key '" + std::string(key) + "' (keys: " + join(keys) + ")");
        if (has(key)) fail("key '" + std::string(key) + "' given twice");
        if (value.empty()) fail("key '" + std::string(key) + "' has no value");
        items_.emplace_back(std::string(key), std::string(value));
        first = false;
    }
}

void Config::fail(const std::string& message) const { throw TransformError(transform_ + ": " + message); }

const std::string* Config::find(std::string_view key) const {
    for (const auto& [k, v] : items_)
        if (k == key) return &v;
    return nullptr;
}

double Config::parse_number(std::string_view key, std::string_view text, double lo, double hi) const {
    double v = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || ptr != end || !std::isfinite(v))
        fail(std::string(key) + "=" + std::string(text) + ": \"" + std::string(text) + "\" is not a number");
    if (v < lo || v > hi)
        fail(std::string(key) + "=" + std::string(text) + " is outside [" + shortest(lo) + ", " + shortest(hi) + "]");
    return v;
}

double Config::number(std::string_view key, double fallback, double lo, double hi) const {
    const std::string* v = find(key);
    return v ? parse_number(key, *v, lo, hi) : fallback;
}

int64_t Config::integer(std::string_view key, int64_t fallback, int64_t lo, int64_t hi) const {
    const std::string* v = find(key);
    if (!v) return fallback;
    const double d = parse_number(key, *v, double(lo), double(hi));
    if (d != std::floor(d)) fail(std::string(key) + "=" + *v + " is not a whole number");
    return int64_t(d);
}

bool Config::flag(std::string_view key, bool fallback) const {
    const std::string* v = find(key);
    if (!v) return fallback;
    if (*v == "true" || *v == "1" || *v == "yes") return true;
    if (*v == "false" || *v == "0" || *v == "no") return false;
    fail(std::string(key) + "=" + *v + " is not true or false");
}

std::vector<double> Config::numbers(std::string_view key, char sep, std::initializer_list<size_t> counts, double lo,
                                    double hi) const {
    const std::string* v = find(key);
    if (!v) return {};
    std::vector<double> out;
    for (std::string_view part : split(*v, sep)) out.push_back(parse_number(key, part, lo, hi));
    bool allowed = false;
    std::string wanted;
    for (size_t n : counts) {
        allowed = allowed || n == out.size();
        wanted += (wanted.empty() ? "" : " or ") + std::to_string(n);
    }
    if (!allowed)
        fail(std::string(key) + "=" + *v + " has " + std::to_string(out.size()) + " values, expected " + wanted +
             " separated by '" + std::string(1, sep) + "'");
    return out;
}

std::vector<int64_t> Config::integers(std::string_view key, char sep, std::initializer_list<size_t> counts, int64_t lo,
                                      int64_t hi) const {
    std::vector<int64_t> out;
    for (double d : numbers(key, sep, counts, double(lo), double(hi))) {
        if (d != std::floor(d)) fail(std::string(key) + "=" + *find(key) + " holds a value that is not a whole number");
        out.push_back(int64_t(d));
    }
    return out;
}

std::string Config::word(std::string_view key, std::string_view fallback,
                         std::initializer_list<std::string_view> choices) const {
    const std::string* v = find(key);
    if (!v) return std::string(fallback);
    for (std::string_view c : choices)
        if (*v == c) return *v;
    fail(std::string(key) + "=" + *v + " is not one of " + join(choices));
}

}  // namespace kiln::transforms
