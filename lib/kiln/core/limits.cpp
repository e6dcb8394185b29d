#include "kiln/core/limits.h"

#include "kiln/core/error.h"

namespace kiln::limits {

int64_t checked_numel(const Shape& shape, const std::string& what, int64_t max_elements, bool allow_empty) {
    int64_t n = 1;
    for (int i = 0; i < shape.rank; ++i) {
        const int64_t d = shape[i];
        if (d < (allow_empty ? 0 : 1) || d > dim)
            fail(Errc::invalid_argument, what + ": dimension " + std::to_string(i) + " of shape " + shape.str() +
                                             " is outside " + (allow_empty ? "0" : "1") + ".." + with_commas(dim));
        // Past the limit n stays past it, unless a later dimension is 0 (then there is nothing).
        if (!mul(n, d, n) || n > max_elements) n = max_elements + 1;
    }
    if (n > max_elements)
        fail(Errc::invalid_argument, what + ": shape " + shape.str() + " has more than " + with_commas(max_elements) +
                                         " elements, kiln's limit");
    return n;
}

std::string with_commas(int64_t v) {
    const std::string digits = std::to_string(v < 0 ? 0 - uint64_t(v) : uint64_t(v));
    std::string out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return v < 0 ? "-" + out : out;
}

}  // namespace kiln::limits
