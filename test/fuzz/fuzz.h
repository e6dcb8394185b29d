// What the fuzz targets share (test/fuzz/README.md says how they are built and run).
//   MemFile   the input as a file a parser can open by path (/proc/self/fd/N of a memfd: no disk)
//   Bytes     takes structured values off the front of an input
//   FUZZ_EXPECT  a property the target checks; its failure aborts, which libFuzzer reports
// A target catches kiln::Error: refusing a hostile input with a message is the right answer.
// Everything else — a crash, a sanitizer report, an uncaught exception, an abort — is a finding.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace kiln::fuzz {

class MemFile {
public:
    explicit MemFile(const char* name = "fuzz-input") : fd_(::memfd_create(name, MFD_CLOEXEC)) {
        if (fd_ < 0) {
            std::perror("memfd_create");
            std::abort();
        }
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    ~MemFile() { ::close(fd_); }
    MemFile(const MemFile&) = delete;
    MemFile& operator=(const MemFile&) = delete;

    // Replaces the contents; returns the path to open.
    const std::string& hold(const void* data, size_t size) {
        if (::ftruncate(fd_, 0) != 0 || (size > 0 && ::pwrite(fd_, data, size, 0) != ssize_t(size))) {
            std::perror("memfd write");
            std::abort();
        }
        return path_;
    }
    const std::string& path() const { return path_; }

private:
    int fd_;
    std::string path_;
};

// Reads from the front of an input; past its end every read gives 0 (or the empty string).
class Bytes {
public:
    Bytes(const uint8_t* data, size_t size) : p_(data), left_(size) {}
    uint8_t byte() { return left_ ? (--left_, *p_++) : 0; }
    uint32_t u32() {
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) v |= uint32_t(byte()) << (8 * i);
        return v;
    }
    int64_t i64() {
        uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v |= uint64_t(byte()) << (8 * i);
        return int64_t(v);
    }
    std::string_view take(size_t n) {
        n = n < left_ ? n : left_;
        std::string_view s(reinterpret_cast<const char*>(p_), n);
        p_ += n, left_ -= n;
        return s;
    }
    std::string_view rest() { return take(left_); }
    size_t left() const { return left_; }

private:
    const uint8_t* p_;
    size_t left_;
};

// Whether text holds a run of more than max_digits digits. Targets whose inputs name sizes skip
// those: a size within kiln's limits is legal and only slow (the unit tests check the limits).
inline bool has_long_number(std::string_view text, size_t max_digits) {
    size_t run = 0;
    for (const char c : text)
        if ((run = c >= '0' && c <= '9' ? run + 1 : 0) > max_digits) return true;
    return false;
}

[[noreturn]] inline void property_failed(const char* what, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: property failed: %s\n", file, line, what);
    std::abort();
}

}  // namespace kiln::fuzz

#define FUZZ_EXPECT(cond) ((cond) ? (void)0 : ::kiln::fuzz::property_failed(#cond, __FILE__, __LINE__))
