// Writing a whole file atomically: the bytes go to a temporary file beside the target, are flushed
// to disk (fsync) and renamed over it, and the directory is synced. A crash or a failed write at any
// point leaves the previous file (or none) in place, never a partial one. save_safetensors does the
// same for weights.
#pragma once
#include <string>
#include <string_view>

namespace kiln::io {

// Throws Error(io) naming the path and the system's reason when any step fails; the temporary file
// is removed then.
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace kiln::io
