#include "kiln/io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "kiln/core/error.h"
#include "kiln/core/limits.h"
#include "kiln/io/atomic_file.h"

// Tensor bytes go to and from memory unchanged, which is little-endian only on a little-endian host.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace kiln::io {

namespace {

// The reference implementation refuses headers above 100 MB; so do we, before allocating one.
constexpr uint64_t max_header_bytes = 100'000'000;

[[noreturn]] void fail_format(const std::string& path, const std::string& what) {
    fail(Errc::format, path + ": " + what);
}

[[noreturn]] void fail_io(const std::string& path, const std::string& what) {
    fail(Errc::io, path + ": " + what + ": " + std::strerror(errno));
}

std::string offsets_str(uint64_t begin, uint64_t end) {
    std::string s = "[";  // built with +=: g++ 12 warns, a false -Wrestrict, on "[" + std::string
    s += std::to_string(begin) + ", " + std::to_string(end) + "]";
    return s;
}

// A file descriptor closed on scope exit.
struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
};

void read_all(int fd, void* data, size_t n, uint64_t offset, const std::string& path) {
    auto* p = static_cast<uint8_t*>(data);
    while (n > 0) {
        ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) fail_io(path, "read failed");
        if (r == 0) fail_format(path, "file ended early (was it changed while being read?)");
        p += r, n -= static_cast<size_t>(r), offset += static_cast<uint64_t>(r);
    }
}

// Maps a safetensors dtype name to kiln's; names the format knows but kiln does not hold are
// "unsupported" rather than malformed.
DType parse_dtype(const std::string& path, const std::string& tensor, const std::string& name) {
    for (DType t : {DType::f32, DType::i32, DType::i64, DType::u8, DType::i8})
        if (name == safetensors_dtype_name(t)) return t;
    static const std::set<std::string> other_known = {"BOOL", "I16", "U16", "F16", "BF16", "U32",
                                                      "F64", "U64", "F8_E4M3", "F8_E5M2"};
    if (other_known.count(name))
        fail(Errc::unsupported, path + ": tensor '" + tensor + "': dtype " + name +
                                    " is not supported (kiln reads F32, I32, I64, U8 and I8)");
    fail_format(path, "tensor '" + tensor + "': unknown dtype '" + name + "'");
}

// One tensor's header entry, checked on its own; its data is read once every entry is valid.
struct Entry {
    NamedTensor* tensor;
    uint64_t begin, end;
};

Entry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& info,
                  uint64_t data_bytes, NamedTensor& out) {
    auto bad = [&](const std::string& what) { fail_format(path, "tensor '" + name + "': " + what); };
    if (!info.is_object()) bad("entry is not a JSON object");
    auto dtype = info.find("dtype"), shape = info.find("shape"), offsets = info.find("data_offsets");
    if (dtype == info.end() || !dtype->is_string()) bad("'dtype' is missing or not a string");
    if (shape == info.end() || !shape->is_array()) bad("'shape' is missing or not an array");
    if (offsets == info.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
        bad("'data_offsets' must be [begin, end] with non-negative integers");

    out.name = name;
    out.dtype = parse_dtype(path, name, dtype->get<std::string>());
    if (shape->size() > static_cast<size_t>(Shape::max_rank))
        fail(Errc::unsupported, path + ": tensor '" + name + "': " + std::to_string(shape->size()) +
                                    " dimensions, kiln supports at most " + std::to_string(Shape::max_rank));
    // Element count with overflow checks: a hostile shape must not wrap around to a small size.
    uint64_t bytes = dtype_size(out.dtype);
    for (const auto& d : *shape) {
        if (!d.is_number_unsigned()) bad("'shape' must hold non-negative integers");
        uint64_t dim = d.get<uint64_t>();
        if (dim > uint64_t(limits::dim)) bad("dimension " + std::to_string(dim) + " of 'shape' is past kiln's limit of " + limits::with_commas(limits::dim));
        if (__builtin_mul_overflow(bytes, dim, &bytes)) bad("shape is too large");
        out.shape.push_back(static_cast<int64_t>(dim));
    }
    uint64_t begin = (*offsets)[0].get<uint64_t>(), end = (*offsets)[1].get<uint64_t>();
    if (begin > end) bad("data_offsets " + offsets_str(begin, end) + " end before they begin");
    if (end > data_bytes)
        bad("data_offsets " + offsets_str(begin, end) + " lie outside the data area (" +
            std::to_string(data_bytes) + " bytes)");
    if (end - begin != bytes)
        bad("shape " + out.shape.str() + " of " + dtype->get<std::string>() + " needs " + std::to_string(bytes) +
            " bytes but data_offsets " + offsets_str(begin, end) + " hold " + std::to_string(end - begin));
    return {&out, begin, end};
}

Metadata parse_metadata(const std::string& path, const nlohmann::json& j) {
    Metadata m;
    if (!j.is_object()) fail_format(path, "__metadata__ is not a JSON object");
    for (const auto& [key, value] : j.items()) {
        if (!value.is_string()) fail_format(path, "__metadata__ value of '" + key + "' is not a string");
        m[key] = value.get<std::string>();
    }
    return m;
}

// The header JSON, compact like serde_json's, padded with spaces to a multiple of 8 bytes so the
// data that follows starts aligned.
std::string make_header(const std::vector<const NamedTensor*>& order, const Metadata& metadata) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const NamedTensor* t : order) {
        std::vector<int64_t> dims(t->shape.dims, t->shape.dims + t->shape.rank);
        header[t->name] = {{"dtype", safetensors_dtype_name(t->dtype)},
                           {"shape", dims},
                           {"data_offsets", {offset, offset + t->data.size()}}};
        offset += t->data.size();
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    return text;
}

std::vector<const NamedTensor*> check_and_order(const std::string& path, const std::vector<NamedTensor>& tensors) {
    std::set<std::string> names;
    std::vector<const NamedTensor*> order;
    for (const NamedTensor& t : tensors) {
        auto bad = [&](const std::string& what) { fail(Errc::invalid_argument, path + ": tensor '" + t.name + "': " + what); };
        if (t.name == "__metadata__") bad("the name is reserved for the header's metadata");
        if (!names.insert(t.name).second) bad("the name appears twice");
        for (int i = 0; i < t.shape.rank; ++i)
            if (t.shape[i] < 0) bad("negative dimension in shape " + t.shape.str());
        size_t expected = static_cast<size_t>(t.shape.numel()) * dtype_size(t.dtype);
        if (t.data.size() != expected)
            bad("shape " + t.shape.str() + " of " + dtype_name(t.dtype) + " needs " + std::to_string(expected) +
                " bytes, data holds " + std::to_string(t.data.size()));
        order.push_back(&t);
    }
    std::sort(order.begin(), order.end(), [](const NamedTensor* a, const NamedTensor* b) {
        if (dtype_size(a->dtype) != dtype_size(b->dtype)) return dtype_size(a->dtype) > dtype_size(b->dtype);
        return a->name < b->name;
    });
    return order;
}

}  // namespace

const char* safetensors_dtype_name(DType dtype) {
    switch (dtype) {
    case DType::f32: return "F32";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::u8: return "U8";
    case DType::i8: return "I8";
    }
    return "?";
}

const NamedTensor* SafetensorsFile::find(const std::string& name) const {
    for (const NamedTensor& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors, const Metadata& metadata) {
    std::vector<const NamedTensor*> order = check_and_order(path, tensors);
    std::string header = make_header(order, metadata);
    uint8_t length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(uint64_t(header.size()) >> (8 * i));

    AtomicFile f(path);  // on any failure the target is untouched
    f.write(length, sizeof length);
    f.write(header.data(), header.size());
    for (const NamedTensor* t : order) f.write(t->data.data(), t->data.size());
    f.commit();
}

namespace {

// The file's header checked whole; the tensors' data read too when `with_data`.
SafetensorsFile load(const std::string& path, bool with_data) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.fd < 0) fail_io(path, "cannot open");
    struct stat st;
    if (::fstat(fd.fd, &st) != 0) fail_io(path, "cannot stat");
    if (!S_ISREG(st.st_mode)) fail(Errc::io, path + ": not a regular file");
    uint64_t file_bytes = static_cast<uint64_t>(st.st_size);

    if (file_bytes < 8)
        fail_format(path, "file is " + std::to_string(file_bytes) + " bytes, too short for the 8-byte header length");
    uint8_t length[8];
    read_all(fd.fd, length, 8, 0, path);
    uint64_t header_bytes = 0;
    for (int i = 0; i < 8; ++i) header_bytes |= uint64_t(length[i]) << (8 * i);
    if (header_bytes > file_bytes - 8)
        fail_format(path, "header length " + std::to_string(header_bytes) + " exceeds the file size (" +
                              std::to_string(file_bytes) + " bytes)");
    if (header_bytes > max_header_bytes)
        fail_format(path, "header length " + std::to_string(header_bytes) + " exceeds the limit of " +
                              std::to_string(max_header_bytes) + " bytes");
    uint64_t data_start = 8 + header_bytes, data_bytes = file_bytes - data_start;

    std::string text(header_bytes, '\0');
    read_all(fd.fd, text.data(), text.size(), 8, path);
    nlohmann::json header;
    // JSON lets a key appear twice in an object (the parser keeps the last); safetensors' reference
    // reader refuses that, and so does kiln: two "fc.weight" entries are two claims on one name.
    std::vector<std::set<std::string>> keys;  // of each open object
    auto no_duplicates = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        using E = nlohmann::json::parse_event_t;
        if (event == E::object_start) keys.emplace_back();
        if (event == E::object_end) keys.pop_back();
        if (event == E::key && !keys.back().insert(parsed.get<std::string>()).second)
            fail_format(path, depth == 1 ? "tensor '" + parsed.get<std::string>() + "' appears twice in the header"
                                         : "the header's key '" + parsed.get<std::string>() + "' appears twice in one entry");
        return true;
    };
    try {
        header = nlohmann::json::parse(text, no_duplicates);
    } catch (const nlohmann::json::exception& e) {
        fail_format(path, std::string("header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) fail_format(path, "header is not a JSON object");

    // Check every entry and that no two tensors share bytes, before reading any data.
    SafetensorsFile file;
    std::vector<NamedTensor> parsed(header.size() - header.count("__metadata__"));
    std::vector<Entry> entries;
    for (const auto& [key, value] : header.items()) {
        if (key == "__metadata__")
            file.metadata = parse_metadata(path, value);
        else
            entries.push_back(parse_entry(path, key, value, data_bytes, parsed[entries.size()]));
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    for (size_t i = 1; i < entries.size(); ++i) {
        const Entry &a = entries[i - 1], &b = entries[i];
        if (b.begin < a.end)
            fail_format(path, "tensors '" + a.tensor->name + "' " + offsets_str(a.begin, a.end) + " and '" +
                                  b.tensor->name + "' " + offsets_str(b.begin, b.end) + " overlap");
    }

    if (!with_data) return file;
    for (const Entry& e : entries) {
        e.tensor->data.resize(e.end - e.begin);
        read_all(fd.fd, e.tensor->data.data(), e.tensor->data.size(), data_start + e.begin, path);
    }
    for (const Entry& e : entries) file.tensors.push_back(std::move(*e.tensor));  // in file order
    return file;
}

}  // namespace

SafetensorsFile load_safetensors(const std::string& path) { return load(path, true); }

Metadata load_safetensors_metadata(const std::string& path) { return load(path, false).metadata; }

}  // namespace kiln::io
