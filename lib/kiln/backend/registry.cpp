// Backend discovery: the built-in CPU backend, the CUDA module found and dlopen()ed on first use,
// and the backends tests register.
#include "kiln/backend/registry.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

#include "kiln/backend/cpu/cpu_backend.h"
#include "kiln/backend/cuda/kiln_cuda.h"
#include "kiln/core/error.h"

namespace kiln {

namespace {

std::mutex registry_mutex;
std::vector<std::pair<std::string, BackendFactory>>& registry() {
    static std::vector<std::pair<std::string, BackendFactory>> r;
    return r;
}

// Where libkiln-cuda.so may be: $KILN_CUDA_BACKEND, then beside this libkiln — <libdir>/kiln/ once
// installed, lib/kiln/backend/cuda/ in the build tree — then the configured install directory.
std::vector<std::string> cuda_module_candidates() {
    std::vector<std::string> paths;
    if (const char* env = std::getenv("KILN_CUDA_BACKEND"); env && *env) return {env};
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&cuda_module_candidates), &info) && info.dli_fname) {
        std::string dir = info.dli_fname;
        dir = dir.find('/') == std::string::npos ? "." : dir.substr(0, dir.rfind('/'));
        paths.push_back(dir + "/kiln/libkiln-cuda.so");
        paths.push_back(dir + "/kiln/backend/cuda/libkiln-cuda.so");
    }
    paths.push_back(std::string(KILN_BACKEND_DIR) + "/libkiln-cuda.so");
    return paths;
}

// The module stays loaded for the life of the process (unloading the CUDA runtime is unsafe).
struct CudaModule {
    kiln_cuda_create_backend_fn create = nullptr;
    std::string error;  // why there is no module, when create is null
};

const CudaModule& cuda_module() {
    static const CudaModule module = [] {
        CudaModule m;
        std::string tried;
        for (const std::string& path : cuda_module_candidates()) {
            void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
            if (!handle) {
                const char* why = dlerror();
                // A file that exists but does not load (a missing libcudart, say) is the answer.
                if (std::getenv("KILN_CUDA_BACKEND") || (why && !std::string(why).ends_with("No such file or directory"))) {
                    m.error = "cannot load " + path + ": " + (why ? why : "unknown error");
                    return m;
                }
                tried += (tried.empty() ? "" : ", ") + path;
                continue;
            }
            m.create = reinterpret_cast<kiln_cuda_create_backend_fn>(dlsym(handle, "kiln_cuda_create_backend"));
            if (!m.create) m.error = path + " has no kiln_cuda_create_backend (not a kiln CUDA backend module)";
            return m;
        }
        m.error = "this build of kiln has no CUDA backend (libkiln-cuda.so is not in " + tried +
                  "; it is built when nvcc is on PATH, or with -Dcuda=enabled)";
        return m;
    }();
    return module;
}

std::unique_ptr<Backend> make_cuda_backend() {
    const CudaModule& m = cuda_module();
    if (!m.create) fail(Errc::unsupported, "backend 'cuda': " + m.error);
    char reason[512] = "";
    void* be = m.create(KILN_CUDA_ABI_VERSION, op_count, sizeof(KernelCall), reason, sizeof reason);
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
    if (name == "cuda") return make_cuda_backend();
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
