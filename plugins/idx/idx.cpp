// The idx dataset plugin: MNIST, Fashion-MNIST and EMNIST-style IDX files, raw or gzip-compressed.
//
// Configuration ("idx:<config>" on a command line), comma-separated:
//   <dir>                 (first; or dir=<dir>) folder with the usual file names:
//                         train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz], or t10k-…
//                         for the test split (also the "images.idx3" spelling, and EMNIST's
//                         <name>-train-images-idx3-ubyte[.gz] / <name>-test-…)
//   split=train|test      which pair of files (default train)
//   images=<file>         explicit files instead (relative to <dir> when one is given)
//   labels=<file>
//   classes=auto|fashion|digits|numbers|<K>
//                         the classes: Fashion-MNIST's 10, MNIST's 10 ("0 - zero" …), the label
//                         numbers 0..K−1 with K one more than the largest label, or K given as a
//                         number (named "0" … "K−1"); auto (default) picks fashion when the path
//                         mentions "fashion", digits when it mentions "mnist" (not "emnist"), else
//                         numbers. A label past the classes is an error naming the file, the item
//                         and the label. With numbers (and so auto) every class 0..K−1 must occur:
//                         one stray byte (label 200 among 0–9) would otherwise make 201 classes, so
//                         a gap is an error too; give classes=<K> for data whose labels have gaps.
//   transpose=yes|no      swap rows and columns (EMNIST's files store images transposed; torchvision
//                         leaves them so, hence the default no)
// The whole decompressed data is read once at open (Fashion-MNIST's training set is 47 MB) and
// samples are served from memory as u8 H×W×1 images.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include "idx_file.h"
#include "kiln/data/plugin.h"

using kiln_idx::Failure;

struct kiln_dataset {
    std::string images_path, labels_path;
    int64_t count = 0;
    int64_t rows = 0, cols = 0;
    std::vector<uint8_t> images, labels;
    std::vector<std::string> class_names;
};

namespace {

namespace fs = std::filesystem;

const char* const fashion_classes[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
const char* const digit_classes[] = {"0 - zero", "1 - one", "2 - two",   "3 - three", "4 - four",
                                     "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"};

void write_error(char* err, size_t err_size, const char* message) {
    if (err && err_size) std::snprintf(err, err_size, "%s", message);
}

[[noreturn]] void invalid(const std::string& message) { throw Failure(KILN_ERR_INVALID, message); }

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool is_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

struct Config {
    std::string dir, split = "train", images, labels, classes = "auto";
    int count = 0;  // classes=<K>
    bool transpose = false;
};

Config parse_config(const char* text) {
    Config c;
    std::string s = text ? text : "";
    for (size_t pos = 0, n = 0; pos <= s.size(); ++n) {
        size_t comma = std::min(s.find(',', pos), s.size());
        std::string item = s.substr(pos, comma - pos);
        pos = comma + 1;
        if (item.empty()) continue;
        size_t eq = item.find('=');
        if (eq == std::string::npos) {
            if (n != 0) invalid("idx: '" + item + "' is not a key=value setting (only the folder, first, comes without a key)");
            c.dir = item;
            continue;
        }
        std::string key = item.substr(0, eq), value = item.substr(eq + 1);
        if (key == "split") {
            if (value != "train" && value != "test") invalid("idx: split must be train or test, not '" + value + "'");
            c.split = value;
        } else if (key == "images") c.images = value;
        else if (key == "labels") c.labels = value;
        else if (key == "dir") c.dir = value;
        else if (key == "classes") {
            const bool number = !value.empty() && value.size() <= 3 && value.find_first_not_of("0123456789") == std::string::npos;
            c.count = number ? std::stoi(value) : 0;
            if (number && (c.count < 1 || c.count > 256))
                invalid("idx: classes=" + value + ": a class count is 1 to 256 (labels are bytes)");
            if (!number && value != "auto" && value != "fashion" && value != "digits" && value != "numbers")
                invalid("idx: classes must be auto, fashion, digits, numbers or a count (1 to 256), not '" + value + "'");
            c.classes = number ? "count" : value;
        } else if (key == "transpose") {
            if (value != "yes" && value != "no") invalid("idx: transpose must be yes or no, not '" + value + "'");
            c.transpose = value == "yes";
        } else {
            invalid("idx: unknown setting '" + key + "' (known: split, images, labels, classes, transpose, dir)");
        }
    }
    if (c.images.empty() != c.labels.empty()) invalid("idx: give both images=<file> and labels=<file>, or neither");
    if (c.images.empty() && c.dir.empty())
        invalid("idx: no folder given (e.g. idx:/usr/share/datasets/fashion-mnist,split=test)");
    return c;
}

// The labels file that goes with an images file of the usual naming.
std::string labels_name_for(std::string name) {
    for (const char* from : {"images-idx3", "images.idx3"}) {
        size_t at = name.find(from);
        if (at != std::string::npos) return name.replace(at, 11, from[6] == '-' ? "labels-idx1" : "labels.idx1");
    }
    return {};
}

void find_split_files(Config& c) {
    const fs::path dir(c.dir);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        if (fs::exists(dir, ec)) invalid("idx: " + c.dir + ": is not a folder (give the folder that holds the IDX files)");
        throw Failure(KILN_ERR_IO, "idx: " + c.dir + ": no such folder");
    }
    const std::string prefix = c.split == "train" ? "train" : "t10k";
    std::vector<std::string> names;
    for (const char* sep : {"-images-idx3-ubyte", "-images.idx3-ubyte"})
        for (const char* gz : {"", ".gz"}) names.push_back(prefix + sep + gz);
    std::string found;
    for (const auto& n : names)
        if (is_file(dir / n)) {
            found = n;
            break;
        }
    if (found.empty()) {
        // EMNIST-style: <anything>-train-images-idx3-ubyte[.gz] / <anything>-test-…
        std::vector<std::string> matches;
        for (const auto& e : fs::directory_iterator(dir, ec)) {
            std::string n = e.path().filename().string();
            for (const char* gz : {"", ".gz"}) {
                std::string tail = "-" + c.split + "-images-idx3-ubyte" + gz;
                if (n.size() > tail.size() && n.compare(n.size() - tail.size(), tail.size(), tail) == 0 && is_file(e.path()))
                    matches.push_back(n);
            }
        }
        std::sort(matches.begin(), matches.end());
        if (matches.size() > 1) {
            std::string list;
            for (const auto& m : matches) list += (list.empty() ? "" : ", ") + m;
            invalid("idx: " + c.dir + ": several " + c.split + " image files (" + list +
                    "); choose one with images=<file>,labels=<file>");
        }
        if (matches.empty())
            throw Failure(KILN_ERR_IO, "idx: " + c.dir + ": no " + c.split + " images file (looked for " + names[0] +
                                           "[.gz] and *-" + c.split + "-images-idx3-ubyte[.gz]); give images=<file>,labels=<file>");
        found = matches[0];
    }
    c.images = (dir / found).string();
    std::string labels = labels_name_for(found);
    // The labels file may be compressed when the images are not, or the other way round.
    std::string stem = labels.size() > 3 && labels.compare(labels.size() - 3, 3, ".gz") == 0 ? labels.substr(0, labels.size() - 3) : labels;
    for (const std::string& n : {labels, stem, stem + ".gz"})
        if (is_file(dir / n)) {
            c.labels = (dir / n).string();
            return;
        }
    throw Failure(KILN_ERR_IO, "idx: " + (dir / labels).string() + ": labels file not found (it goes with " + c.images + ")");
}

// The class names of `labels` under a classes= setting ("fashion", "digits", "numbers" or "count"
// with `count`), after checking every label against them (see the header).
std::vector<std::string> class_names(const std::string& classes, int count, const std::vector<uint8_t>& labels,
                                     const std::string& path) {
    const int max_label = *std::max_element(labels.begin(), labels.end());
    const auto item_of = [&](int label) {
        return std::to_string(std::find(labels.begin(), labels.end(), uint8_t(label)) - labels.begin());
    };
    const int k = classes == "numbers" ? max_label + 1 : classes == "count" ? count : 10;
    if (max_label >= k)
        throw Failure(KILN_ERR_FORMAT, "idx: " + path + ": label " + std::to_string(max_label) + " of item " + item_of(max_label) +
                                           " is outside the " + std::to_string(k) + " " +
                                           (classes == "count" ? std::string("classes given") : classes + " classes") +
                                           " (0.." + std::to_string(k - 1) + "; classes=<count> for other data)");
    if (classes == "numbers") {  // every class must occur: a stray byte must not add classes
        std::vector<bool> seen(size_t(k), false);
        for (uint8_t l : labels) seen[l] = true;
        const auto gap = std::find(seen.begin(), seen.end(), false);
        if (gap != seen.end())
            throw Failure(KILN_ERR_FORMAT, "idx: " + path + ": no item has label " + std::to_string(gap - seen.begin()) +
                                               ", yet label " + std::to_string(max_label) + " (item " + item_of(max_label) +
                                               ") would make " + std::to_string(k) + " classes; labels are read as classes 0.." +
                                               std::to_string(k - 1) + " without gaps (a corrupt file? give classes=" +
                                               std::to_string(k) + " if the gap is meant)");
    }
    std::vector<std::string> names;
    if (classes == "fashion" || classes == "digits") {
        const char* const* table = classes == "fashion" ? fashion_classes : digit_classes;
        names.assign(table, table + 10);
    } else {
        for (int c = 0; c < k; ++c) names.push_back(std::to_string(c));
    }
    return names;
}

kiln_dataset* open_dataset(const char* text) {
    Config c = parse_config(text);
    if (c.images.empty()) find_split_files(c);
    else if (!c.dir.empty()) {
        if (fs::path(c.images).is_relative()) c.images = (fs::path(c.dir) / c.images).string();
        if (fs::path(c.labels).is_relative()) c.labels = (fs::path(c.dir) / c.labels).string();
    }

    static const char* const image_dims[] = {"count", "rows", "columns"};
    static const char* const label_dims[] = {"count"};
    kiln_idx::IdxArray images, labels;
    try {
        images = kiln_idx::read_idx(c.images, 3, "images", image_dims);
        labels = kiln_idx::read_idx(c.labels, 1, "labels", label_dims);
    } catch (const Failure& f) {
        throw Failure(f.status, std::string("idx: ") + f.what());
    }
    if (images.dims[0] != labels.dims[0])
        throw Failure(KILN_ERR_FORMAT, "idx: " + c.images + " holds " + std::to_string(images.dims[0]) + " images but " +
                                           c.labels + " holds " + std::to_string(labels.dims[0]) + " labels");

    auto ds = std::make_unique<kiln_dataset>();
    ds->images_path = c.images, ds->labels_path = c.labels;
    ds->count = images.dims[0];
    ds->rows = images.dims[1], ds->cols = images.dims[2];
    ds->images = std::move(images.data);
    ds->labels = std::move(labels.data);
    if (c.transpose) {
        std::vector<uint8_t> tmp(size_t(ds->rows * ds->cols));
        for (int64_t n = 0; n < ds->count; ++n) {
            uint8_t* img = ds->images.data() + n * ds->rows * ds->cols;
            for (int64_t y = 0; y < ds->rows; ++y)
                for (int64_t x = 0; x < ds->cols; ++x) tmp[size_t(x * ds->rows + y)] = img[y * ds->cols + x];
            std::copy(tmp.begin(), tmp.end(), img);
        }
        std::swap(ds->rows, ds->cols);
    }

    std::string classes = c.classes;
    if (classes == "auto") {
        std::string where = lower(c.dir + " " + c.images);
        if (where.find("fashion") != std::string::npos) classes = "fashion";
        else if (where.find("mnist") != std::string::npos && where.find("emnist") == std::string::npos) classes = "digits";
        else classes = "numbers";
    }
    ds->class_names = class_names(classes, c.count, ds->labels, c.labels);
    return ds.release();
}

kiln_dataset* idx_open(const char* config, char* err, size_t err_size) {
    try {
        return open_dataset(config);
    } catch (const Failure& f) {
        write_error(err, err_size, f.what());
    } catch (const std::bad_alloc&) {
        write_error(err, err_size, "idx: out of memory while reading the dataset");
    } catch (const std::exception& e) {
        write_error(err, err_size, (std::string("idx: ") + e.what()).c_str());
    }
    return nullptr;
}

void idx_close(kiln_dataset* ds) { delete ds; }
int64_t idx_length(const kiln_dataset* ds) { return ds->count; }
int32_t idx_num_classes(const kiln_dataset* ds) { return static_cast<int32_t>(ds->class_names.size()); }
const char* idx_class_name(const kiln_dataset* ds, int32_t c) {
    return c >= 0 && size_t(c) < ds->class_names.size() ? ds->class_names[size_t(c)].c_str() : nullptr;
}

kiln_status idx_sample_shape(const kiln_dataset* ds, kiln_array* shape) {
    shape->elem = KILN_U8;
    shape->rank = 3;
    shape->shape[0] = ds->rows, shape->shape[1] = ds->cols, shape->shape[2] = 1, shape->shape[3] = 0;
    shape->data = nullptr;
    return KILN_OK;
}

kiln_status idx_get(const kiln_dataset* ds, int64_t i, kiln_array* out, size_t capacity, size_t* needed,
                    int64_t* label, char* err, size_t err_size) {
    if (i < 0 || i >= ds->count) {
        char msg[160];
        std::snprintf(msg, sizeof msg, "idx: index %lld is outside the dataset's %lld samples", (long long)i,
                      (long long)ds->count);
        write_error(err, err_size, msg);
        return KILN_ERR_INVALID;
    }
    const size_t bytes = size_t(ds->rows * ds->cols);
    if (needed) *needed = bytes;
    if (capacity < bytes) return KILN_ERR_CAPACITY;
    out->elem = KILN_U8;
    out->rank = 3;
    out->shape[0] = ds->rows, out->shape[1] = ds->cols, out->shape[2] = 1, out->shape[3] = 0;
    std::memcpy(out->data, ds->images.data() + size_t(i) * bytes, bytes);
    *label = ds->labels[size_t(i)];
    return KILN_OK;
}

const kiln_dataset_api dataset_api = {
    .open = idx_open,
    .close = idx_close,
    .length = idx_length,
    .num_classes = idx_num_classes,
    .class_name = idx_class_name,
    .sample_shape = idx_sample_shape,
    .get = idx_get,
};

const kiln_plugin plugin = {
    .abi_version = KILN_PLUGIN_ABI_VERSION,
    .name = "idx",
    .version = "1.0.0",
    .description = "MNIST / Fashion-MNIST / EMNIST IDX files, raw or .gz: idx:<dir>[,split=train|test]",
    .dataset = &dataset_api,
    .n_transforms = 0,
    .transforms = nullptr,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const kiln_plugin* kiln_plugin_entry(void) { return &plugin; }
