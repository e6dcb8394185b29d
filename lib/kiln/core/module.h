// Modules: shared objects kiln loads at run time, never links — the CUDA backend
// (libkiln-cuda.so), the MPI communicator (libkiln-mpi.so). One is looked for at $ENV, else
// beside this libkiln (<libdir>/kiln/FILE once installed, BUILD_DIR/FILE in the build tree), else in
// the configured install directory; it stays loaded for the process's life.
#pragma once
#include <string>

namespace kiln {

struct ModuleEntry {
    void* function = nullptr;  // the entry point, or null with the reason in `error`
    std::string error;
};

// The entry point `symbol` of module `file`. `build_dir` is its folder under lib/ in the build tree
// ("kiln/backend/cuda"); `what` names it and `hint` says when a build has it. A file that exists
// but does not load is the answer (its loader's message), not a reason to look further.
ModuleEntry load_module(const char* env, const char* file, const char* build_dir, const char* symbol, int dlopen_flags,
                        const std::string& what, const std::string& hint);

}  // namespace kiln
