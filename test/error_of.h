// The message of the kiln::Error that f() throws, or "(no error)": tests compare messages whole.
#pragma once
#include <string>

#include "kiln/core/error.h"

namespace kiln::testing {

template <class F> std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace kiln::testing
