// kiln-csv: tabular data from a CSV file, as a kiln dataset plugin built outside kiln's source tree.
// It includes only kiln/data/plugin.h (the C ABI, lib/kiln/data/README.md) and links nothing of kiln.
//
// Configuration ("csv:<config>"), comma-separated, the file first:
//   <file>                               the CSV file (the path cannot itself contain a comma)
//   label=<column name | index>          the label column (default: the last one); a name is looked up
//                                        in the header, a whole number is a 0-based column index
//   header=yes|no                        whether the first line names the columns (default yes)
//   task=classification|regression       classification (default): the label's distinct values are
//                                        the classes, sorted (numerically when every value is a
//                                        number, else by bytes); regression: the label must be a
//                                        number and is returned as an f32 target
// Every other column is a numeric feature: sample i is f32 [features], the columns in file order.
// Fields are separated by ',' and may be double-quoted ("a ""b"" c"); spaces around a field are
// dropped; blank lines are skipped; a line ends with \n or \r\n.
//
// The whole file is parsed and checked at open, so get() only copies from memory and any number of
// threads may call it at once. Errors read "csv: <file>:<line>: <problem>".
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/data/plugin.h"

struct kiln_dataset {
    int64_t rows = 0, features = 0;
    std::vector<float> values;          // rows × features
    std::vector<int64_t> labels;        // class index, or the target's f32 bits (regression)
    std::vector<std::string> classes;   // empty for regression
};

namespace {

// A failure to open, with the message for the caller's err buffer (open() returns no status).
struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

void write_error(char* err, size_t err_size, const char* message) {
    if (err && err_size) std::snprintf(err, err_size, "%s", message);
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool parse_number(std::string_view s, double& v) {
    s = trim(s);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

struct Config {
    std::string file, label;  // label empty: the last column
    bool header = true, regression = false;
};

[[noreturn]] void invalid(const std::string& message) { throw Failure("csv: " + message); }

Config parse_config(std::string_view text) {
    Config c;
    const size_t comma = text.find(',');
    c.file = std::string(trim(text.substr(0, comma)));
    if (c.file.empty()) invalid("no file given (e.g. csv:/data/iris.csv,label=species)");
    for (size_t pos = comma; pos != std::string_view::npos;) {
        const size_t next = text.find(',', pos + 1);
        const std::string_view item = trim(text.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1));
        pos = next;
        if (item.empty()) continue;
        const size_t eq = item.find('=');
        const std::string key(trim(item.substr(0, eq)));
        const std::string value(eq == std::string_view::npos ? "" : trim(item.substr(eq + 1)));
        if (eq == std::string_view::npos) invalid("'" + std::string(item) + "' is not a key=value setting");
        if (key == "label") {
            if (value.empty()) invalid("label= needs a column name or index");
            c.label = value;
        } else if (key == "header") {
            if (value != "yes" && value != "no") invalid("header must be yes or no, not '" + value + "'");
            c.header = value == "yes";
        } else if (key == "task") {
            if (value != "classification" && value != "regression")
                invalid("task must be classification or regression, not '" + value + "'");
            c.regression = value == "regression";
        } else {
            invalid("unknown setting '" + key + "' (known: label, header, task)");
        }
    }
    return c;
}

std::string read_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw Failure("csv: " + path + ": cannot open the file: " + std::strerror(errno));
    std::string text;
    char chunk[1 << 16];
    size_t got;
    while ((got = std::fread(chunk, 1, sizeof chunk, f)) > 0) text.append(chunk, got);
    const int error = std::ferror(f) ? errno : 0;
    std::fclose(f);
    if (error) throw Failure("csv: " + path + ": cannot read the file: " + std::strerror(error));
    return text;
}

// Splits a file into lines of fields, remembering each line's number for messages.
class Reader {
public:
    Reader(const std::string& path, std::string_view text) : path_(path), text_(text) {}

    [[noreturn]] void fail(int64_t line, const std::string& problem) const {
        throw Failure("csv: " + path_ + ":" + std::to_string(line) + ": " + problem);
    }

    // The next non-blank line's fields; false at the end of the file.
    bool next(std::vector<std::string>& fields, int64_t& line) {
        for (;;) {
            if (pos_ >= text_.size()) return false;
            size_t end = text_.find('\n', pos_);
            if (end == std::string_view::npos) end = text_.size();
            std::string_view raw = text_.substr(pos_, end - pos_);
            pos_ = end + 1;
            line = ++line_;
            if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
            if (trim(raw).empty()) continue;
            split(raw, fields);
            return true;
        }
    }

private:
    void split(std::string_view raw, std::vector<std::string>& fields) const {
        fields.clear();
        size_t i = 0;
        for (;;) {
            std::string field;
            while (i < raw.size() && (raw[i] == ' ' || raw[i] == '\t')) ++i;
            if (i < raw.size() && raw[i] == '"') {
                for (++i;; ++i) {
                    if (i >= raw.size()) fail(line_, "a quoted field is not closed on its line");
                    if (raw[i] == '"') {
                        if (i + 1 < raw.size() && raw[i + 1] == '"') field += '"', ++i;
                        else break;
                    } else {
                        field += raw[i];
                    }
                }
                ++i;
                while (i < raw.size() && (raw[i] == ' ' || raw[i] == '\t')) ++i;
                if (i < raw.size() && raw[i] != ',')
                    fail(line_, "text after the closing quote of field " + std::to_string(fields.size() + 1));
            } else {
                const size_t end = std::min(raw.find(',', i), raw.size());
                field = std::string(trim(raw.substr(i, end - i)));
                i = end;
            }
            fields.push_back(std::move(field));
            if (i >= raw.size()) return;
            ++i;  // the comma
        }
    }

    const std::string& path_;
    std::string_view text_;
    size_t pos_ = 0;
    int64_t line_ = 0;
};

std::string column_name(const std::vector<std::string>& names, size_t k) {
    return names.empty() ? "column " + std::to_string(k) : "column " + std::to_string(k) + " ('" + names[k] + "')";
}

size_t label_column(const Config& c, const Reader& reader, const std::vector<std::string>& header, size_t columns,
                    int64_t first_line) {
    if (c.label.empty()) return columns - 1;
    auto named = std::find(header.begin(), header.end(), c.label);
    if (named != header.end()) return size_t(named - header.begin());
    size_t index = 0;
    auto [end, ec] = std::from_chars(c.label.data(), c.label.data() + c.label.size(), index);
    if (ec == std::errc() && end == c.label.data() + c.label.size()) {
        if (index < columns) return index;
        reader.fail(first_line, "label=" + c.label + " but the first line has " + std::to_string(columns) +
                                    " columns (indices 0 to " + std::to_string(columns - 1) + ")");
    }
    if (header.empty()) reader.fail(first_line, "label=" + c.label + " names a column, but header=no gives none");
    std::string list;
    for (const auto& h : header) list += (list.empty() ? "" : ", ") + h;
    reader.fail(first_line, "no column named '" + c.label + "' in the header (" + list + ")");
}

int64_t float_bits(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    return int64_t(bits);
}

kiln_dataset* open_dataset(const char* config) {
    const Config c = parse_config(config ? config : "");
    const std::string text = read_file(c.file);
    Reader reader(c.file, text);

    std::vector<std::string> fields, header;
    int64_t line = 0;
    if (!reader.next(fields, line))
        throw Failure("csv: " + c.file + ": the file is empty (no lines with data)");
    const size_t columns = fields.size();
    const int64_t first_line = line;
    if (c.header) {
        header = fields;
        if (!reader.next(fields, line)) reader.fail(first_line, "the file has a header but no data lines");
    }
    if (columns < 2) reader.fail(first_line, "a line needs at least 2 columns (features and a label), this one has 1");
    const size_t label = label_column(c, reader, header, columns, first_line);

    auto ds = std::make_unique<kiln_dataset>();
    ds->features = int64_t(columns - 1);
    std::vector<std::string> label_text;
    std::vector<double> label_value;
    bool all_numeric = true;
    do {
        if (fields.size() != columns)
            reader.fail(line, "the line has " + std::to_string(fields.size()) + " fields, the first line has " +
                                  std::to_string(columns));
        for (size_t k = 0; k < columns; ++k) {
            double v = 0;
            const bool numeric = parse_number(fields[k], v);
            if (k == label) {
                if (fields[k].empty()) reader.fail(line, "the label (" + column_name(header, k) + ") is empty");
                if (c.regression && (!numeric || !std::isfinite(float(v))))
                    reader.fail(line, "the regression target '" + fields[k] + "' (" + column_name(header, k) +
                                          ") is not a finite number");
                all_numeric = all_numeric && numeric && std::isfinite(v);
                label_text.push_back(fields[k]);
                label_value.push_back(v);
                continue;
            }
            if (fields[k].empty()) reader.fail(line, column_name(header, k) + " is empty (missing values are not supported)");
            if (!numeric) reader.fail(line, column_name(header, k) + ": '" + fields[k] + "' is not a number");
            if (!std::isfinite(float(v))) reader.fail(line, column_name(header, k) + ": '" + fields[k] + "' is not a finite f32");
            ds->values.push_back(float(v));
        }
    } while (reader.next(fields, line));
    ds->rows = int64_t(label_text.size());

    if (c.regression) {
        for (double v : label_value) ds->labels.push_back(float_bits(float(v)));
        return ds.release();
    }
    std::vector<size_t> order(label_text.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        if (all_numeric && label_value[a] != label_value[b]) return label_value[a] < label_value[b];
        return label_text[a] < label_text[b];
    });
    ds->labels.resize(order.size());
    for (size_t i : order) {
        if (ds->classes.empty() || ds->classes.back() != label_text[i]) ds->classes.push_back(label_text[i]);
        ds->labels[i] = int64_t(ds->classes.size() - 1);
    }
    return ds.release();
}

kiln_dataset* csv_open(const char* config, char* err, size_t err_size) {
    try {
        return open_dataset(config);
    } catch (const Failure& f) {
        write_error(err, err_size, f.what());
    } catch (const std::bad_alloc&) {
        write_error(err, err_size, "csv: out of memory while reading the file");
    } catch (const std::exception& e) {
        write_error(err, err_size, (std::string("csv: ") + e.what()).c_str());
    }
    return nullptr;
}

void csv_close(kiln_dataset* ds) { delete ds; }
int64_t csv_length(const kiln_dataset* ds) { return ds->rows; }
int32_t csv_num_classes(const kiln_dataset* ds) { return int32_t(ds->classes.size()); }
const char* csv_class_name(const kiln_dataset* ds, int32_t c) {
    return c >= 0 && size_t(c) < ds->classes.size() ? ds->classes[size_t(c)].c_str() : nullptr;
}

kiln_status csv_sample_shape(const kiln_dataset* ds, kiln_array* shape) {
    if (!shape) return KILN_ERR_INVALID;
    *shape = kiln_array{KILN_F32, 1, {ds->features, 0, 0, 0}, nullptr};
    return KILN_OK;
}

kiln_status csv_get(const kiln_dataset* ds, int64_t i, kiln_array* out, size_t capacity, size_t* needed,
                    int64_t* label, char* err, size_t err_size) {
    if (!out || !label) {
        write_error(err, err_size, "csv: get() needs an output array and a label");
        return KILN_ERR_INVALID;
    }
    if (i < 0 || i >= ds->rows) {
        char msg[128];
        std::snprintf(msg, sizeof msg, "csv: sample %lld is outside the file's %lld rows", (long long)i, (long long)ds->rows);
        write_error(err, err_size, msg);
        return KILN_ERR_INVALID;
    }
    const size_t bytes = size_t(ds->features) * sizeof(float);
    if (needed) *needed = bytes;
    if (capacity < bytes || !out->data) return KILN_ERR_CAPACITY;
    *out = kiln_array{KILN_F32, 1, {ds->features, 0, 0, 0}, out->data};
    std::memcpy(out->data, ds->values.data() + size_t(i) * size_t(ds->features), bytes);
    *label = ds->labels[size_t(i)];
    return KILN_OK;
}

const kiln_dataset_api dataset_api = {csv_open,       csv_close,        csv_length, csv_num_classes,
                                      csv_class_name, csv_sample_shape, csv_get,    /*notes=*/nullptr};

const kiln_plugin plugin = {
    KILN_PLUGIN_ABI_VERSION,
    "csv",
    "1.0.0",
    "CSV tables: csv:<file>[,label=<column name|index>][,header=yes|no][,task=classification|regression]",
    &dataset_api,
    0,
    nullptr,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const kiln_plugin* kiln_plugin_entry(void) { return &plugin; }
