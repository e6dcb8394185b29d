#include "kiln/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "kiln/core/error.h"

namespace kiln::io {

namespace {

[[noreturn]] void fail_io(const std::string& path, const std::string& what) {
    fail(Errc::io, path + ": " + what + ": " + std::strerror(errno));
}

}  // namespace

AtomicFile::AtomicFile(const std::string& path) : path_(path), tmp_(path + ".tmp-" + std::to_string(::getpid())) {
    // Beside the target: the same file system, so the rename is atomic.
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail_io(path_, "cannot create temporary file " + tmp_);
}

AtomicFile::~AtomicFile() {
    if (committed_) return;
    if (fd_ >= 0) ::close(fd_);
    ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t bytes) {
    const char* p = static_cast<const char*>(data);
    while (bytes > 0) {
        const ssize_t w = ::write(fd_, p, bytes);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) fail_io(path_, "write failed");
        p += w, bytes -= size_t(w);
    }
}

void AtomicFile::commit() {
    if (::fsync(fd_) != 0) fail_io(path_, "fsync failed");
    const int fd = fd_;
    fd_ = -1;  // closed even when close reports an error
    if (::close(fd) != 0) fail_io(path_, "close failed");
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail_io(path_, "cannot rename " + tmp_ + " to it");
    committed_ = true;
    // The new directory entry is durable only once the directory is synced.
    const std::string dir = std::filesystem::path(path_).parent_path().string();
    const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || ::fsync(dfd) != 0) {
        if (dfd >= 0) ::close(dfd);
        fail_io(path_, "cannot sync its directory");
    }
    ::close(dfd);
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
    AtomicFile f(path);
    f.write(bytes.data(), bytes.size());
    f.commit();
}

}  // namespace kiln::io
