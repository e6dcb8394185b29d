// Which backends exist and how one is made: "cpu" is built in; "cuda" is a module (libkiln-cuda.so)
// found and dlopen()ed on first use; tests register their own (register_backend).
#pragma once
#include <memory>
#include <string>

#include "kiln/backend/backend.h"

namespace kiln {

// "cpu" (SIMD kernels, falling back to the reference per op), "cuda" (libkiln-cuda.so, loaded on
// first use; an Error says why when it is not built, not found, or no GPU is visible), or a name
// given to register_backend.
std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options = {});

// Makes `name` a backend make_backend (and so compile) can create — how tests run whole programs on
// the CUDA backend's code with a host executor. A later registration of a name replaces it.
using BackendFactory = std::unique_ptr<Backend> (*)(const BackendOptions&);
void register_backend(const std::string& name, BackendFactory factory);

}  // namespace kiln
