#include "idx_file.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace kiln_idx {

namespace {

[[noreturn]] void fail(kiln_status s, const std::string& path, const std::string& problem) {
    throw Failure(s, path + ": " + problem);
}

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// A byte source over a raw file or a gzip stream; read() returns fewer bytes than asked only at
// the end of the data.
class Source {
public:
    virtual ~Source() = default;
    virtual size_t read(uint8_t* dst, size_t n) = 0;
    virtual bool compressed() const = 0;
};

class RawSource : public Source {
public:
    RawSource(std::FILE* f, std::string path) : f_(f), path_(std::move(path)) {}
    size_t read(uint8_t* dst, size_t n) override {
        size_t got = std::fread(dst, 1, n, f_);
        if (got < n && std::ferror(f_)) fail(KILN_ERR_IO, path_, std::string("read error: ") + std::strerror(errno));
        return got;
    }
    bool compressed() const override { return false; }

private:
    std::FILE* f_;
    std::string path_;
};

class GzipSource : public Source {
public:
    GzipSource(std::FILE* f, std::string path) : f_(f), path_(std::move(path)) {
        zs_.zalloc = Z_NULL, zs_.zfree = Z_NULL, zs_.opaque = Z_NULL;
        zs_.next_in = Z_NULL, zs_.avail_in = 0;
        if (inflateInit2(&zs_, 15 + 16) != Z_OK) fail(KILN_ERR_IO, path_, "zlib could not start a gzip stream");
    }
    ~GzipSource() override { inflateEnd(&zs_); }

    size_t read(uint8_t* dst, size_t n) override {
        size_t produced = 0;
        while (produced < n && !ended_) {
            if (zs_.avail_in == 0 && !refill())
                fail(KILN_ERR_FORMAT, path_, "gzip data truncated (the file ends inside the compressed stream)");
            zs_.next_out = dst + produced;
            zs_.avail_out = static_cast<uInt>(std::min<size_t>(n - produced, 1u << 30));
            uInt before = zs_.avail_out;
            int ret = inflate(&zs_, Z_NO_FLUSH);
            produced += before - zs_.avail_out;
            if (ret == Z_STREAM_END) {
                next_member();
            } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
                fail(KILN_ERR_FORMAT, path_,
                     std::string("corrupt gzip data (zlib: ") + (zs_.msg ? zs_.msg : zError(ret)) + ")");
            }
        }
        return produced;
    }
    bool compressed() const override { return true; }

private:
    bool refill() {
        size_t got = std::fread(in_, 1, sizeof in_, f_);
        if (got == 0 && std::ferror(f_)) fail(KILN_ERR_IO, path_, std::string("read error: ") + std::strerror(errno));
        zs_.next_in = in_;
        zs_.avail_in = static_cast<uInt>(got);
        return got > 0;
    }
    // gzip allows several members back to back (as `cat a.gz b.gz` makes); anything else after
    // the first member is ignored, as gzip(1) does.
    void next_member() {
        if (zs_.avail_in == 0) refill();
        if (zs_.avail_in >= 2 && zs_.next_in[0] == 0x1f && zs_.next_in[1] == 0x8b) inflateReset(&zs_);
        else ended_ = true;
    }

    std::FILE* f_;
    std::string path_;
    z_stream zs_{};
    uint8_t in_[1 << 16];
    bool ended_ = false;
};

std::string type_name(uint8_t t) {
    switch (t) {
        case 0x08: return "unsigned byte";
        case 0x09: return "signed byte";
        case 0x0B: return "i16";
        case 0x0C: return "i32";
        case 0x0D: return "f32";
        case 0x0E: return "f64";
        default: return "unknown";
    }
}

std::string hex_bytes(const uint8_t* b, size_t n) {
    std::string s;
    char buf[4];
    for (size_t i = 0; i < n; ++i) {
        std::snprintf(buf, sizeof buf, i ? " %02x" : "%02x", b[i]);
        s += buf;
    }
    return s;
}

std::string dims_text(const std::vector<uint32_t>& dims) {
    std::string s;
    for (size_t i = 0; i < dims.size(); ++i) s += (i ? " × " : "") + std::to_string(dims[i]);
    return s;
}

}  // namespace

IdxArray read_idx(const std::string& path, int ndim, const char* what, const char* const* dim_names) {
    File file(std::fopen(path.c_str(), "rb"));
    if (!file) fail(KILN_ERR_IO, path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (fstat(fileno(file.get()), &st) != 0) fail(KILN_ERR_IO, path, std::string("cannot stat: ") + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) fail(KILN_ERR_IO, path, "is not a regular file");
    const uint64_t file_size = static_cast<uint64_t>(st.st_size);
    if (file_size == 0) fail(KILN_ERR_FORMAT, path, "the file is empty (0 bytes)");

    // Compression is told by content, not by the name.
    uint8_t first[2] = {};
    size_t got = std::fread(first, 1, 2, file.get());
    std::rewind(file.get());
    std::unique_ptr<Source> src;
    if (got == 2 && first[0] == 0x1f && first[1] == 0x8b) src = std::make_unique<GzipSource>(file.get(), path);
    else src = std::make_unique<RawSource>(file.get(), path);
    const char* holds = src->compressed() ? "the decompressed data holds" : "the file holds";

    const size_t header_bytes = 4 + 4 * size_t(ndim);
    uint8_t header[4 + 4 * 4] = {};
    size_t have = src->read(header, 4);
    if (have < 4)
        fail(KILN_ERR_FORMAT, path,
             "header truncated: " + std::string(holds) + " " + std::to_string(have) +
                 " bytes, an IDX header needs " + std::to_string(header_bytes));
    if (header[0] != 0 || header[1] != 0)
        fail(KILN_ERR_FORMAT, path,
             "not an IDX file: wrong magic (first bytes " + hex_bytes(header, 4) + ", expected 00 00 08 0" +
                 std::to_string(ndim) + ")");
    if (header[2] != 0x08)
        fail(KILN_ERR_FORMAT, path,
             "IDX data type 0x" + hex_bytes(header + 2, 1) + " (" + type_name(header[2]) +
                 ") is not supported; the idx plugin reads unsigned bytes (0x08)");
    if (header[3] != ndim)
        fail(KILN_ERR_FORMAT, path,
             "has " + std::to_string(header[3]) + " dimensions, an IDX " + what + " file has " + std::to_string(ndim));
    have += src->read(header + 4, header_bytes - 4);
    if (have < header_bytes)
        fail(KILN_ERR_FORMAT, path,
             "header truncated: " + std::string(holds) + " " + std::to_string(have) + " bytes, the header of " +
                 std::to_string(ndim) + " dimensions needs " + std::to_string(header_bytes));

    IdxArray out;
    uint64_t total = 1;  // saturates at UINT64_MAX: three u32 can overflow 64 bits
    for (int d = 0; d < ndim; ++d) {
        const uint8_t* p = header + 4 + 4 * d;
        uint32_t v = uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
        if (v == 0) fail(KILN_ERR_FORMAT, path, std::string("dimension ") + std::to_string(d) + " (" + dim_names[d] + ") is 0");
        out.dims.push_back(v);
        if (__builtin_mul_overflow(total, uint64_t(v), &total)) total = UINT64_MAX;
    }
    const std::string claim = "the header says " + dims_text(out.dims) + " = " +
                              (total == UINT64_MAX ? std::string("more than 2^64") : std::to_string(total)) +
                              " bytes of " + what;

    if (!src->compressed()) {
        const uint64_t available = file_size - header_bytes;
        if (total > available)
            fail(KILN_ERR_FORMAT, path,
                 "data truncated: " + claim + ", the file holds " + std::to_string(available) + " after its " +
                     std::to_string(header_bytes) + "-byte header");
        if (total < available)
            fail(KILN_ERR_FORMAT, path,
                 std::to_string(available - total) + " unexpected bytes after the data (" + claim + ")");
        out.data.resize(size_t(total));
        if (src->read(out.data.data(), out.data.size()) != out.data.size())
            fail(KILN_ERR_IO, path, "the file became shorter while it was read");
        return out;
    }

    // Deflate expands at most ~1032:1, so an honest header's size is reached with the first
    // reservation; a lying one only ever gets as much memory as data really arrives.
    const uint64_t plausible = file_size * 1032 + (1u << 16);
    size_t filled = 0;
    size_t want = size_t(std::min<uint64_t>({total, plausible, SIZE_MAX / 2}));
    out.data.resize(want);
    for (;;) {
        filled += src->read(out.data.data() + filled, out.data.size() - filled);
        if (filled < out.data.size()) break;  // the stream ended
        if (filled == total) break;
        out.data.resize(size_t(std::min<uint64_t>(total, uint64_t(out.data.size()) * 2)));
    }
    if (filled < total)
        fail(KILN_ERR_FORMAT, path,
             "data truncated: " + claim + ", the decompressed data holds " + std::to_string(filled) + " after its " +
                 std::to_string(header_bytes) + "-byte header");
    uint8_t extra[256];
    if (size_t more = src->read(extra, sizeof extra))
        fail(KILN_ERR_FORMAT, path,
             "the decompressed data continues past what the header describes (" + claim + ", at least " +
                 std::to_string(more) + " more bytes)");
    return out;
}

}  // namespace kiln_idx
