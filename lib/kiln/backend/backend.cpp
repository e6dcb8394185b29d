#include "kiln/backend/backend.h"

#include "kiln/backend/cpu/cpu_backend.h"
#include "kiln/core/error.h"

namespace kiln {

std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options) {
    if (name == "cpu") return cpu::make_cpu_backend(options);
    if (name == "cuda")
        fail(Errc::unsupported, "backend 'cuda': this build of kiln has no CUDA backend yet");
    fail(Errc::invalid_argument, "unknown backend '" + name + "' (known: cpu, cuda)");
}

}  // namespace kiln
