// Where the machine runs the tests slowed down — under AddressSanitizer (scripts/test-sanitize.sh)
// or emulated by qemu (scripts/test-cross.sh), which set KILN_TEST_QUICK=1 — the few heaviest
// tests do less of the same (fewer steps, fewer shapes, a smaller slice of data) and say so.
// The full versions run natively in every CI run.
#pragma once
#include <boost/test/unit_test.hpp>
#include <cstdlib>

namespace kiln::testing {

inline bool quick() {
    const char* v = std::getenv("KILN_TEST_QUICK");
    return v && v[0] == '1';
}

// The full value natively, the quick one (with a message saying what was cut) under KILN_TEST_QUICK.
template <class T> T full_or_quick(T full, T quick_value, const char* what) {
    if (!quick()) return full;
    BOOST_TEST_MESSAGE("KILN_TEST_QUICK: " << what);
    return quick_value;
}

}  // namespace kiln::testing
