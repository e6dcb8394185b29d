// Writing a whole file atomically: the bytes go to a temporary file beside the target, are flushed
// to disk (fsync) and renamed over it, and the directory is synced. A crash or a failed write at any
// point leaves the previous file (or none) in place, never a partial one.
//
//   io::write_file_atomic("history.csv", text);          // a file in one piece
//   io::AtomicFile f("best.safetensors");                // or in several, as save_safetensors writes
//   f.write(header.data(), header.size()); …; f.commit();
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace kiln::io {

// Every step throws Error(io) naming the path and the system's reason when it fails. Destroyed
// without commit() (a failure, an exception on the way), it removes the temporary file and leaves
// the target untouched.
class AtomicFile {
public:
    explicit AtomicFile(const std::string& path);  // creates <path>.tmp-<pid>
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, size_t bytes);
    // fsync, close, rename over the target, sync the directory.
    void commit();

private:
    std::string path_, tmp_;
    int fd_ = -1;
    bool committed_ = false;
};

void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace kiln::io
