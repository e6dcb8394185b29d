// A transform's configuration string: "key=value,key=value". The first item may be a bare value,
// taken as the value of the transform's primary key ("64" for resize means "size=64").
// List values separate their numbers with ':' ("mean=0.5:0.5:0.5"); sizes use 'x' ("64x48").
// Unknown, repeated or malformed keys throw TransformError naming the transform and the key.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::transforms {

class Config {
public:
    Config(std::string_view transform, std::string_view text, std::initializer_list<std::string_view> keys,
           std::string_view primary = {});

    bool has(std::string_view key) const { return find(key) != nullptr; }
    double number(std::string_view key, double fallback, double lo, double hi) const;
    int64_t integer(std::string_view key, int64_t fallback, int64_t lo, int64_t hi) const;
    bool flag(std::string_view key, bool fallback) const;  // true/false/1/0/yes/no
    // A list of numbers separated by sep, each in [lo, hi], with a count from `counts`; empty if absent.
    std::vector<double> numbers(std::string_view key, char sep, std::initializer_list<size_t> counts, double lo,
                                double hi) const;
    std::vector<int64_t> integers(std::string_view key, char sep, std::initializer_list<size_t> counts, int64_t lo,
                                  int64_t hi) const;
    // One of `choices`, or fallback when absent.
    std::string word(std::string_view key, std::string_view fallback, std::initializer_list<std::string_view> choices) const;

    [[noreturn]] void fail(const std::string& message) const;

private:
    const std::string* find(std::string_view key) const;
    double parse_number(std::string_view key, std::string_view text, double lo, double hi) const;

    std::string transform_;
    std::vector<std::pair<std::string, std::string>> items_;
};

}  // namespace kiln::transforms
