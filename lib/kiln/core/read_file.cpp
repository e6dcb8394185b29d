#include "kiln/core/read_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "kiln/core/error.h"
#include "kiln/core/limits.h"

namespace kiln {

std::string read_file(const std::string& path, const char* what, int64_t max_bytes) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) fail(Errc::io, path + ": cannot open the " + what + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(::fileno(f.get()), &st) != 0) fail(Errc::io, path + ": cannot stat the " + what + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) fail(Errc::format, path + ": the " + std::string(what) + " is not a regular file");
    if (st.st_size > max_bytes)
        fail(Errc::format, path + ": the " + std::string(what) + " is " + limits::with_commas(st.st_size) +
                               " bytes, more than the " + limits::with_commas(max_bytes) + " kiln reads");
    std::string text(size_t(st.st_size), '\0');
    const size_t got = std::fread(text.data(), 1, text.size(), f.get());
    if (std::ferror(f.get())) fail(Errc::io, path + ": cannot read the " + what + ": " + std::strerror(errno));
    text.resize(got);  // a file that shrank meanwhile; one that grew is read up to its old size
    return text;
}

}  // namespace kiln
