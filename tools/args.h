// Command-line parsing shared by the kiln-* tools: a Command declares its positional arguments
// and --options once, parses argv with them and writes its own --help.
//
//   Command grid("kiln-data grid", "Draws samples of a dataset into a PNG.");
//   grid.positional("dataset", "<plugin>:<config>")
//       .option("out", "FILE", "the PNG to write", Required::yes)
//       .option("n", "N", "how many samples", "9")
//       .flag("json", "print JSON");            // no value: a.given("json")
//   Args a = grid.parse(argc, argv, 2);        // the words after "kiln-data grid"
//   if (a.help) { std::fputs(grid.help().c_str(), stdout); return 0; }
//   int64_t n = a.integer("n", 1, 1000);
//
// Options are written `--name VALUE` or `--name=VALUE`, flags `--name`; `-h`/`--help` asks for the help; `--` ends
// the options (what follows is positional). Every mistake is a UsageError, which run_tool turns
// into exit status 2; any other exception becomes "<tool>: error: <message>" and status 1.
#pragma once
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kiln::tools {

// A mistake on the command line; `usage` is the usage line of the command it was given to.
class UsageError : public std::runtime_error {
public:
    UsageError(const std::string& message, std::string usage) : std::runtime_error(message), usage(std::move(usage)) {}
    std::string usage;
};

enum class Required { no, yes };

// Of `candidates`, the one nearest to `word` by edit distance (insertions, deletions,
// substitutions and swaps of neighbours), when it is near enough to be a typo: at most a third
// of the word's length, at least 1. "" otherwise.
inline std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
    auto distance = [](const std::string& a, const std::string& b) {
        std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
        for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
        for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
        for (size_t i = 1; i <= a.size(); ++i)
            for (size_t j = 1; j <= b.size(); ++j) {
                d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        return d[a.size()][b.size()];
    };
    std::string best;
    size_t best_distance = std::max<size_t>(1, word.size() / 3) + 1;
    for (const std::string& c : candidates)
        if (const size_t dist = distance(word, c); dist < best_distance) best = c, best_distance = dist;
    return best;
}

// The parsed command line: positional arguments in order, and each option's value (its default
// when it was not given).
class Args {
public:
    bool help = false;
    std::vector<std::string> positionals;

    bool given(const std::string& name) const { return given_.count(name) > 0; }
    const std::string& text(const std::string& name) const { return values_.at(name); }

    // The option as a whole number in [min, max]; anything else is a UsageError.
    int64_t integer(const std::string& name, int64_t min, int64_t max) const {
        const std::string& s = text(name);
        int64_t v = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || end != s.data() + s.size() || v < min || v > max)
            throw UsageError("--" + name + " " + s + ": expected a whole number from " + std::to_string(min) +
                                 " to " + std::to_string(max),
                             usage_);
        return v;
    }

    // The option as a real number in [lo, hi]; anything else is a UsageError.
    double real(const std::string& name, double lo, double hi) const {
        const std::string& s = text(name);
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (s.empty() || *end != '\0' || !(v >= lo && v <= hi)) {
            char range[64];
            std::snprintf(range, sizeof range, "%g to %g", lo, hi);
            throw UsageError("--" + name + " " + s + ": expected a number from " + range, usage_);
        }
        return v;
    }

    // The option's value, which must be one of `choices`.
    const std::string& choice(const std::string& name, const std::vector<std::string>& choices) const {
        const std::string& s = text(name);
        std::string list;
        for (const std::string& c : choices) {
            if (c == s) return s;
            list += (list.empty() ? "" : ", ") + c;
        }
        throw UsageError("--" + name + " " + s + ": expected one of " + list, usage_);
    }

    // A UsageError for this command (for checks between options, e.g. an option that only
    // applies when another has some value).
    UsageError usage_error(const std::string& message) const { return UsageError(message, usage_); }

private:
    friend class Command;
    std::map<std::string, std::string> values_;
    std::set<std::string> given_;
    std::string usage_;
};

class Command {
public:
    // `program` is what the user types, e.g. "kiln-data grid"; `summary` opens the help.
    Command(std::string program, std::string summary) : program_(std::move(program)), summary_(std::move(summary)) {}

    Command& positional(std::string name, std::string help) {
        positionals_.push_back({std::move(name), "", std::move(help), "", Required::yes});
        return *this;
    }
    // The last positional argument, given one or more times (`kiln-report compare RUN RUN…`).
    Command& positionals(std::string name, std::string help) {
        positionals_.push_back({std::move(name), "", std::move(help), "", Required::yes, false, true});
        return *this;
    }
    Command& option(std::string name, std::string value_name, std::string help, std::string default_value = "") {
        options_.push_back({std::move(name), std::move(value_name), std::move(help), std::move(default_value), Required::no});
        return *this;
    }
    Command& option(std::string name, std::string value_name, std::string help, Required required) {
        options_.push_back({std::move(name), std::move(value_name), std::move(help), "", required});
        return *this;
    }
    // An option that takes no value (`--json`): given, its text is "yes"; `--json=…` is a UsageError.
    Command& flag(std::string name, std::string help) {
        options_.push_back({std::move(name), "", std::move(help), "", Required::no, true});
        return *this;
    }

    // "usage: kiln-data grid <dataset> --out FILE [options]"
    std::string usage() const {
        std::string u = "usage: " + program_;
        for (const Item& p : positionals_) u += " <" + p.name + ">" + (p.many ? "…" : "");
        for (const Item& o : options_)
            if (o.required == Required::yes) u += " --" + o.name + " " + o.value_name;
        return u + " [options]";
    }

    // The usage, the summary, then one line per argument and option with its help in a column
    // as wide as the longest name needs (up to 28 characters; a longer name puts its help on the
    // next line, in the same column). Widths count characters, not bytes (the names hold "…").
    std::string help() const {
        std::vector<std::pair<std::string, std::string>> lines;
        for (const Item& p : positionals_) lines.emplace_back("<" + p.name + ">", p.help);
        for (const Item& o : options_)
            lines.emplace_back("--" + o.name + (o.flag ? "" : " " + o.value_name),
                               o.help + (o.required == Required::yes ? " (required)"
                                         : o.default_value.empty() ? ""
                                                                   : " (default " + o.default_value + ")"));
        lines.emplace_back("-h, --help", "show this help");
        const auto width = [](const std::string& s) {
            size_t n = 0;
            for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // UTF-8: count the first byte of each character
            return n;
        };
        size_t column = 0;
        for (const auto& [left, text] : lines)
            if (width(left) <= 28) column = std::max(column, width(left));
        std::string h = usage() + "\n\n" + summary_ + "\n";
        for (size_t i = 0; i < lines.size(); ++i) {
            if (i == 0 && !positionals_.empty()) h += "\narguments:\n";
            if (i == positionals_.size()) h += "\noptions:\n";
            const auto& [left, text] = lines[i];
            const size_t w = width(left);
            h += "  " + left + (w <= column ? std::string(column - w + 2, ' ') : "\n" + std::string(column + 4, ' ')) + text + "\n";
        }
        return h;
    }

    // Parses argv[first..argc). Throws UsageError for an unknown option, an option without its
    // value, a missing required option or the wrong number of positional arguments (unless
    // --help was asked for, which ends parsing).
    Args parse(int argc, char** argv, int first) const {
        Args a;
        a.usage_ = usage();
        for (const Item& o : options_) a.values_[o.name] = o.default_value;
        bool options_ended = false;
        for (int i = first; i < argc; ++i) {
            const std::string word = argv[i];
            if (options_ended || word.size() < 2 || word[0] != '-') {
                a.positionals.push_back(word);
                continue;
            }
            if (word == "--") {
                options_ended = true;
                continue;
            }
            if (word == "-h" || word == "--help") {
                a.help = true;
                return a;
            }
            const size_t eq = word.find('=');
            const std::string name = word.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
            const Item* item = word.rfind("--", 0) == 0 ? find(name) : nullptr;
            if (!item) throw UsageError("unknown option " + word + did_you_mean(name), a.usage_);
            if (item->flag) {
                if (eq != std::string::npos) throw UsageError("--" + name + " takes no value", a.usage_);
                a.values_[name] = "yes";
            } else if (eq != std::string::npos) {
                a.values_[name] = word.substr(eq + 1);
            } else if (i + 1 < argc) {
                // A value never starts with "--": `--early-stopping --patience 3` forgot one.
                if (std::string(argv[i + 1]).rfind("--", 0) == 0)
                    throw UsageError("--" + name + " needs a value (" + item->value_name + ") before " + argv[i + 1], a.usage_);
                a.values_[name] = argv[++i];
            } else {
                throw UsageError("--" + name + " needs a value (" + find(name)->value_name + ")", a.usage_);
            }
            a.given_.insert(name);
        }
        for (const Item& o : options_)
            if (o.required == Required::yes && !a.given(o.name)) throw UsageError("--" + o.name + " is required", a.usage_);
        if (a.positionals.size() < positionals_.size())
            throw UsageError("missing <" + positionals_[a.positionals.size()].name + ">", a.usage_);
        if (a.positionals.size() > positionals_.size() && !(!positionals_.empty() && positionals_.back().many))
            throw UsageError("unexpected argument '" + a.positionals[positionals_.size()] + "'", a.usage_);
        return a;
    }

private:
    struct Item {
        std::string name, value_name, help, default_value;
        Required required;
        bool flag = false;
        bool many = false;  // a positional given one or more times
    };
    const Item* find(const std::string& name) const {
        for (const Item& o : options_)
            if (o.name == name) return &o;
        return nullptr;
    }
    // " (did you mean --patience?)" for the option nearest to a mistyped name, if any is near.
    std::string did_you_mean(const std::string& name) const {
        std::vector<std::string> names{"help"};
        for (const Item& o : options_) names.push_back(o.name);
        const std::string near = nearest(name, names);
        return near.empty() ? "" : " (did you mean --" + near + "?)";
    }

    std::string program_, summary_;
    std::vector<Item> positionals_, options_;
};

// Runs a tool's body and turns what it throws into a message on stderr and an exit status:
// UsageError → the message and the usage line, 2; any other exception (kiln::Error above all) →
// "<tool>: error: <message>", 1.
template <class Body>
int run_tool(const char* tool, Body&& body) {
    try {
        return body();
    } catch (const UsageError& e) {
        std::fprintf(stderr, "%s: error: %s\n%s\n(add --help for the full help)\n", tool, e.what(), e.usage.c_str());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: error: %s\n", tool, e.what());
        return 1;
    }
}

}  // namespace kiln::tools
