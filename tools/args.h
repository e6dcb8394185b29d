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

    std::string help() const {
        std::string h = usage() + "\n\n" + summary_ + "\n";
        auto line = [&h](const std::string& left, const std::string& text) {
            h += "  " + left + std::string(left.size() < 22 ? 22 - left.size() : 1, ' ') + text + "\n";
        };
        if (!positionals_.empty()) h += "\narguments:\n";
        for (const Item& p : positionals_) line("<" + p.name + ">", p.help);
        h += "\noptions:\n";
        for (const Item& o : options_)
            line("--" + o.name + (o.flag ? "" : " " + o.value_name),
                 o.help + (o.required == Required::yes ? " (required)"
                           : o.default_value.empty() ? ""
                                                     : " (default " + o.default_value + ")"));
        line("-h, --help", "show this help");
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
            if (!item) throw UsageError("unknown option " + word, a.usage_);
            if (item->flag) {
                if (eq != std::string::npos) throw UsageError("--" + name + " takes no value", a.usage_);
                a.values_[name] = "yes";
            } else if (eq != std::string::npos) {
                a.values_[name] = word.substr(eq + 1);
            } else if (i + 1 < argc) {
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
