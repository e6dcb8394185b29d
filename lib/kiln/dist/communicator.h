// Communicator: the processes that train one model together (issue 16), Horovod / PyTorch DDP
// style — each rank computes the gradients of its shard of a batch, the ranks sum them, every rank
// applies the same update. kiln writes no transport of its own: "mpi" is OpenMPI and "nccl" NCCL,
// each a separately loaded module (libkiln-mpi.so, libkiln-nccl.so in <libdir>/kiln/), dlopen()ed
// only by a process that asks for it, as the CUDA backend is; libkiln never links either.
//
//   auto comm = kiln::make_communicator("auto");   // "mpi" under mpirun, else "local"
//   comm->broadcast(weights, bytes, 0);            // rank 0's initial weights
//   comm->allreduce_sum(grads, n);                 // every rank: the sum over the ranks
//
// A collective that does not complete within CommunicatorOptions::timeout_seconds (a peer died or
// hangs) throws Error(io) naming the operation and the ranks, never hangs the process forever.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

namespace kiln {

class Communicator {
public:
    virtual ~Communicator() = default;
    virtual std::string description() const = 0;  // "mpi (OpenMPI 4.1.4), rank 1 of 2 on host-a"
    virtual int rank() const = 0;
    virtual int size() const = 0;
    // data[0, n) summed over every rank, in place; every rank ends with the same bits.
    virtual void allreduce_sum(float* data, size_t n) = 0;
    // The same in double precision (metrics: sums of losses and counts).
    virtual void allreduce_sum(double* data, size_t n) = 0;
    // The same, then divided by size(): the mean over the ranks.
    void allreduce_average(float* data, size_t n);
    // root's bytes copied to every other rank.
    virtual void broadcast(void* data, size_t bytes, int root) = 0;
    virtual void barrier() = 0;

    // CUDA device memory — the "nccl" communicator's; the others refuse it. The data pointers
    // above are host memory on every communicator.
    virtual bool reduces_device_memory() const { return false; }
    // data[0, n) in device memory (this rank's GPU) averaged over every rank, in place.
    virtual void allreduce_average_device(float* data, size_t n);
};

struct CommunicatorOptions {
    double timeout_seconds = 300;  // a collective waiting longer fails (a dead or hung peer)
};

// "local" (one process; every collective is the identity), "mpi", "nccl" (NCCL for device
// memory, MPI for the rest and to pass NCCL its unique id; the GPU is local_rank()'s), or "auto":
// mpi when the process was started by mpirun (OMPI_COMM_WORLD_SIZE / PMI_SIZE set), else local.
// Error(unsupported) when a module is missing or cannot start, with the reason.
std::unique_ptr<Communicator> make_communicator(const std::string& name, const CommunicatorOptions& options = {});

// Whether this process looks started by an MPI launcher (its environment says so).
bool launched_by_mpi();

// What the launcher tells this process in its environment, before any communicator exists (0, or
// for local_size 1, without a launcher):
// its rank in the job (OMPI_COMM_WORLD_RANK, PMI_RANK) — for messages;
int launcher_rank();
// its rank among those of its host (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID) — which GPU a rank
// drives (rank k of a host: GPU k mod count);
int local_rank();
// the number of ranks on its host (OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS) — they share its cores.
int local_size();

}  // namespace kiln
