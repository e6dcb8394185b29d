// Backend discovery: the built-in CPU backend, the CUDA module found and dlopen()ed on first use,
// and the backends tests register.
#include "kiln/backend/registry.h"

#include <dlfcn.h>

#include <mutex>
#include <utility>
#include <vector>

#include "kiln/backend/cpu/cpu_backend.h"
#include "kiln/backend/cuda/kiln_cuda.h"
#include "kiln/core/error.h"
#include "kiln/core/module.h"

namespace kiln {

namespace {

std::mutex registry_mutex;
std::vector<std::pair<std::string, BackendFactory>>& registry() {
    static std::vector<std::pair<std::string, BackendFactory>> r;
    return r;
}

// The module stays loaded for the life of the process (unloading the CUDA runtime is unsafe).
const ModuleEntry& cuda_module() {
    static const ModuleEntry module = load_module("KILN_CUDA_BACKEND", "libkiln-cuda.so", "kiln/backend/cuda", "kiln_cuda_create_backend",
                                                  RTLD_NOW | RTLD_LOCAL, "CUDA backend",
                                                  "it is built when nvcc is on PATH, or with -Dcuda=enabled");
    return module;
}

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options) {
    const ModuleEntry& m = cuda_module();
    if (!m.function) fail(Errc::unsupported, "backend 'cuda': " + m.error);
    char reason[512] = "";
    void* be = reinterpret_cast<kiln_cuda_create_backend_fn>(m.function)(KILN_CUDA_ABI_VERSION, op_count, sizeof(KernelCall), reason,
                                                                         sizeof reason, options.device);
    if (!be) fail(Errc::unsupported, std::string("backend 'cuda': ") + reason);
    return std::unique_ptr<Backend>(static_cast<Backend*>(be));
}

}  // namespace

void register_backend(const std::string& name, BackendFactory factory) {
    std::lock_guard<std::mutex> lock(registry_mutex);
    for (auto& [n, f] : registry())
        if (n == name) {
            f = factory;
            return;
        }
    registry().emplace_back(name, factory);
}

std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options) {
    if (name == "cpu") return cpu::make_cpu_backend(options);
    if (name == "cuda") return make_cuda_backend(options);
    std::string known = "cpu, cuda";
    {
        std::lock_guard<std::mutex> lock(registry_mutex);
        for (const auto& [n, f] : registry()) {
            if (n == name) return f(options);
            known += ", " + n;
        }
    }
    fail(Errc::invalid_argument, "unknown backend '" + name + "' (known: " + known + ")");
}

}  // namespace kiln
