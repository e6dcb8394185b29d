// make_communicator: the local communicator, and the MPI module found and dlopen()ed on first use
// (the CUDA backend's way: backend/registry.cpp).
#include "kiln/dist/communicator.h"

#include <dlfcn.h>

#include <cstdlib>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/dist/mpi/kiln_mpi.h"

namespace kiln {

namespace {

class LocalCommunicator final : public Communicator {
public:
    std::string description() const override { return "local (one process)"; }
    int rank() const override { return 0; }
    int size() const override { return 1; }
    void allreduce_sum(float*, size_t) override {}
    void broadcast(void*, size_t, int root) override {
        if (root != 0) fail(Errc::invalid_argument, "broadcast: root " + std::to_string(root) + " of a one-process group");
    }
    void barrier() override {}
};

// Where libkiln-mpi.so may be: $KILN_MPI_MODULE, then beside this libkiln — <libdir>/kiln/ once
// installed, lib/kiln/dist/mpi/ in the build tree — then the configured install directory.
std::vector<std::string> mpi_module_candidates() {
    if (const char* env = std::getenv("KILN_MPI_MODULE"); env && *env) return {env};
    std::vector<std::string> paths;
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&mpi_module_candidates), &info) && info.dli_fname) {
        std::string dir = info.dli_fname;
        dir = dir.find('/') == std::string::npos ? "." : dir.substr(0, dir.rfind('/'));
        paths.push_back(dir + "/kiln/libkiln-mpi.so");
        paths.push_back(dir + "/kiln/dist/mpi/libkiln-mpi.so");
    }
    paths.push_back(std::string(KILN_BACKEND_DIR) + "/libkiln-mpi.so");
    return paths;
}

// The module stays loaded for the process's life (MPI cannot be initialised twice).
kiln_mpi_create_communicator_fn mpi_module(std::string& error) {
    static std::string why;
    static const kiln_mpi_create_communicator_fn create = [] {
        std::string tried;
        for (const std::string& path : mpi_module_candidates()) {
            void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);  // GLOBAL: OpenMPI's plugins resolve libmpi's symbols
            if (!handle) {
                const char* e = dlerror();
                if (std::getenv("KILN_MPI_MODULE") || (e && !std::string(e).ends_with("No such file or directory"))) {
                    why = "cannot load " + path + ": " + (e ? e : "unknown error");
                    return kiln_mpi_create_communicator_fn{};
                }
                tried += (tried.empty() ? "" : ", ") + path;
                continue;
            }
            auto f = reinterpret_cast<kiln_mpi_create_communicator_fn>(dlsym(handle, "kiln_mpi_create_communicator"));
            if (!f) why = path + " has no kiln_mpi_create_communicator (not a kiln MPI module)";
            return f;
        }
        why = "this build of kiln has no MPI module (libkiln-mpi.so is not in " + tried +
              "; it is built when OpenMPI's development files are installed: apt-get install libopenmpi-dev openmpi-bin)";
        return kiln_mpi_create_communicator_fn{};
    }();
    error = why;
    return create;
}

}  // namespace

bool launched_by_mpi() {
    for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
        if (const char* v = std::getenv(var); v && *v) return true;
    return false;
}

std::unique_ptr<Communicator> make_communicator(const std::string& name, const CommunicatorOptions& options) {
    if (!(options.timeout_seconds > 0)) fail(Errc::invalid_argument, "communicator: the timeout must be positive");
    if (name == "local" || (name == "auto" && !launched_by_mpi())) return std::make_unique<LocalCommunicator>();
    if (name != "mpi" && name != "auto") fail(Errc::invalid_argument, "unknown communicator '" + name + "' (known: auto, local, mpi)");
    std::string error;
    const kiln_mpi_create_communicator_fn create = mpi_module(error);
    if (!create) fail(Errc::unsupported, "communicator 'mpi': " + error);
    char reason[512] = "";
    void* c = create(KILN_MPI_ABI_VERSION, options.timeout_seconds, reason, sizeof reason);
    if (!c) fail(Errc::unsupported, std::string("communicator 'mpi': ") + reason);
    return std::unique_ptr<Communicator>(static_cast<Communicator*>(c));
}

}  // namespace kiln
