// make_communicator: the local communicator, and the MPI module found and dlopen()ed on first use
// (the CUDA backend's way: backend/registry.cpp).
#include "kiln/dist/communicator.h"

#include <dlfcn.h>

#include <cstdlib>

#include "kiln/core/error.h"
#include "kiln/core/module.h"
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

// The module stays loaded for the process's life (MPI cannot be initialised twice). GLOBAL:
// OpenMPI's plugins resolve libmpi's symbols.
const ModuleEntry& mpi_module() {
    static const ModuleEntry module =
        load_module("KILN_MPI_MODULE", "libkiln-mpi.so", "kiln/dist/mpi", "kiln_mpi_create_communicator", RTLD_NOW | RTLD_GLOBAL, "MPI module",
                    "it is built when OpenMPI's development files are installed: apt-get install libopenmpi-dev openmpi-bin");
    return module;
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
    const ModuleEntry& m = mpi_module();
    if (!m.function) fail(Errc::unsupported, "communicator 'mpi': " + m.error);
    char reason[512] = "";
    void* c = reinterpret_cast<kiln_mpi_create_communicator_fn>(m.function)(KILN_MPI_ABI_VERSION, options.timeout_seconds, reason, sizeof reason);
    if (!c) fail(Errc::unsupported, std::string("communicator 'mpi': ") + reason);
    return std::unique_ptr<Communicator>(static_cast<Communicator*>(c));
}

}  // namespace kiln
