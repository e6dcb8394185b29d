#include "kiln/core/error.h"

#include <ostream>

namespace kiln {

const char* errc_name(Errc code) {
    switch (code) {
    case Errc::invalid_argument: return "invalid argument";
    case Errc::shape_mismatch: return "shape mismatch";
    case Errc::unsupported: return "unsupported";
    case Errc::io: return "i/o error";
    case Errc::format: return "format error";
    case Errc::plugin: return "plugin error";
    }
    return "error";
}

std::ostream& operator<<(std::ostream& os, Errc code) { return os << errc_name(code); }

void fail(Errc code, const std::string& message) { throw Error(code, message); }

}  // namespace kiln
