// kiln::Error — the one exception type the library throws for a user's mistake or bad input.
// Its code says what kind of problem it is; its message names the op, file or value involved.
// Programmer mistakes inside kiln are asserts, never Errors.
#pragma once
#include <iosfwd>
#include <stdexcept>
#include <string>

namespace kiln {

enum class Errc {
    invalid_argument,  // a value outside what the API accepts
    shape_mismatch,    // shapes that do not fit together (message names both)
    unsupported,       // valid request that this build or backend cannot do
    io,                // a file could not be read or written
    format,            // a file's contents are not what they claim to be
    plugin,            // a plugin could not be loaded or reported an error
};

const char* errc_name(Errc code);
std::ostream& operator<<(std::ostream& os, Errc code);

class Error : public std::runtime_error {
public:
    Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
    Errc code() const noexcept { return code_; }

private:
    Errc code_;
};

[[noreturn]] void fail(Errc code, const std::string& message);

}  // namespace kiln
