// Reading a whole text file that came from outside (a model description, a run's history), after
// checking its size against a cap, so a huge or endless file (/dev/zero) is an Error, not bad_alloc.
#pragma once
#include <cstdint>
#include <string>

namespace kiln {

// The file's contents. `what` names it in messages ("model description"). Throws Error(io) when
// it cannot be read, Error(format) when it is not a regular file or is larger than max_bytes.
std::string read_file(const std::string& path, const char* what, int64_t max_bytes = int64_t(64) << 20);

}  // namespace kiln
