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

void write_file_atomic(const std::string& path, std::string_view bytes) {
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail_io(path, "cannot create temporary file " + tmp);
    bool open_fd = true;
    try {
        const char* p = bytes.data();
        size_t left = bytes.size();
        while (left > 0) {
            const ssize_t w = ::write(fd, p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) fail_io(path, "write failed");
            p += w, left -= size_t(w);
        }
        if (::fsync(fd) != 0) fail_io(path, "fsync failed");
        open_fd = false;  // closed even when close reports an error
        if (::close(fd) != 0) fail_io(path, "close failed");
    } catch (...) {
        if (open_fd) ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int saved = errno;
        ::unlink(tmp.c_str());
        errno = saved;
        fail_io(path, "cannot rename " + tmp + " to it");
    }
    const std::string dir = std::filesystem::path(path).parent_path().string();
    const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || ::fsync(dfd) != 0) {
        if (dfd >= 0) ::close(dfd);
        fail_io(path, "cannot sync its directory");
    }
    ::close(dfd);
}

}  // namespace kiln::io
