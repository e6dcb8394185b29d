// make_communicator: the local communicator, and the MPI and NCCL modules found and dlopen()ed on
// first use (the CUDA backend's way: backend/registry.cpp).
#include "kiln/dist/communicator.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <initializer_list>

#include "kiln/core/error.h"
#include "kiln/core/module.h"
#include "kiln/dist/mpi/kiln_mpi.h"
#include "kiln/dist/nccl/kiln_nccl.h"

namespace kiln {

namespace {

class LocalCommunicator final : public Communicator {
public:
    std::string description() const override { return "local (one process)"; }
    int rank() const override { return 0; }
    int size() const override { return 1; }
    void allreduce_sum(float*, size_t) override {}
    void allreduce_sum(double*, size_t) override {}
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

const ModuleEntry& nccl_module() {
    static const ModuleEntry module =
        load_module("KILN_NCCL_MODULE", "libkiln-nccl.so", "kiln/dist/nccl", "kiln_nccl_create_communicator", RTLD_NOW | RTLD_LOCAL, "NCCL module",
                    "it is built with the CUDA backend when the toolkit has NCCL (nccl.h, libnccl) and OpenMPI is installed");
    return module;
}

std::unique_ptr<Communicator> make_mpi(const CommunicatorOptions& options) {
    const ModuleEntry& m = mpi_module();
    if (!m.function) fail(Errc::unsupported, "communicator 'mpi': " + m.error);
    char reason[512] = "";
    void* c = reinterpret_cast<kiln_mpi_create_communicator_fn>(m.function)(KILN_MPI_ABI_VERSION, options.timeout_seconds, reason, sizeof reason);
    if (!c) fail(Errc::unsupported, std::string("communicator 'mpi': ") + reason);
    return std::unique_ptr<Communicator>(static_cast<Communicator*>(c));
}

// The module is looked for first, so that a build without it does not start MPI for nothing; the
// MPI communicator is its bootstrap, and the module's from then on.
std::unique_ptr<Communicator> make_nccl(const CommunicatorOptions& options) {
    const ModuleEntry& m = nccl_module();
    if (!m.function) fail(Errc::unsupported, "communicator 'nccl': " + m.error);
    std::unique_ptr<Communicator> bootstrap = make_mpi(options);
    char reason[512] = "";
    void* c = reinterpret_cast<kiln_nccl_create_communicator_fn>(m.function)(KILN_NCCL_ABI_VERSION, bootstrap.release(), options.timeout_seconds,
                                                                             local_rank(), reason, sizeof reason);
    if (!c) fail(Errc::unsupported, std::string("communicator 'nccl': ") + reason);
    return std::unique_ptr<Communicator>(static_cast<Communicator*>(c));
}

}  // namespace

void Communicator::allreduce_average(float* data, size_t n) {
    allreduce_sum(data, n);
    if (size() == 1) return;
    const float share = 1.0f / float(size());
    for (size_t i = 0; i < n; ++i) data[i] *= share;
}

void Communicator::allreduce_average_device(float*, size_t) {
    fail(Errc::unsupported, "communicator " + description() + ": reduces host memory only (device memory needs 'nccl')");
}

namespace {
// The first of `vars` that is set, as a number; `otherwise` when none is.
int from_launcher(std::initializer_list<const char*> vars, int otherwise) {
    for (const char* var : vars)
        if (const char* v = std::getenv(var); v && *v) return std::atoi(v);
    return otherwise;
}
}  // namespace

int launcher_rank() { return from_launcher({"OMPI_COMM_WORLD_RANK", "PMI_RANK"}, 0); }
int local_rank() { return from_launcher({"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMI_LOCAL_RANK"}, 0); }
int local_size() { return std::max(1, from_launcher({"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}, 1)); }

bool launched_by_mpi() {
    for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
        if (const char* v = std::getenv(var); v && *v) return true;
    return false;
}

std::unique_ptr<Communicator> make_communicator(const std::string& name, const CommunicatorOptions& options) {
    if (!(options.timeout_seconds > 0)) fail(Errc::invalid_argument, "communicator: the timeout must be positive");
    if (name == "local" || (name == "auto" && !launched_by_mpi())) return std::make_unique<LocalCommunicator>();
    if (name == "mpi" || name == "auto") return make_mpi(options);
    if (name == "nccl") return make_nccl(options);
    fail(Errc::invalid_argument, "unknown communicator '" + name + "' (known: auto, local, mpi, nccl)");
}

}  // namespace kiln
