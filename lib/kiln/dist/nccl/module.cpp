// libkiln-nccl.so: kiln::Communicator that averages device memory with NCCL (kiln_nccl.h) and does
// the rest on the MPI communicator it is given: rank 0's ncclUniqueId reaches the others by its
// broadcast, and rank, size, broadcast, barrier and the host-memory allreduces are its. The NCCL
// communicator is non-blocking (ncclConfig_t::blocking = 0), its start and every allreduce polled
// against the deadline, so that a rank that died or hangs turns into an error naming the operation
// (the communicator aborted) instead of a process waiting forever.
#include <cuda_runtime.h>
#include <nccl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "kiln/core/error.h"
#include "kiln/dist/communicator.h"
#include "kiln/dist/nccl/kiln_nccl.h"

namespace kiln {

namespace {

bool broken = false;  // an NCCL operation failed or timed out: other ranks may be stuck in it

// At exit after such a failure, end the process before the MPI module's MPI_Finalize, which waits
// for every rank — forever for one stuck in a collective; a rank that ends without it makes mpirun
// stop the others.
void finish() {
    if (!broken) return;
    std::fflush(nullptr);
    std::_Exit(EXIT_FAILURE);
}

std::string cuda_error(const std::string& what, cudaError_t err) {
    return what + ": " + cudaGetErrorString(err) + " (" + cudaGetErrorName(err) + ")";
}

class NcclCommunicator final : public Communicator {
public:
    NcclCommunicator(std::unique_ptr<Communicator> bootstrap, double timeout, int device)
        : bootstrap_(std::move(bootstrap)), timeout_(timeout), device_(device) {
        char host[256] = "";
        gethostname(host, sizeof host - 1);
        host_ = host;
        try {
            start();
        } catch (...) {
            release();
            throw;
        }
    }
    ~NcclCommunicator() override { release(); }

    std::string description() const override {
        return "nccl (" + library_ + ", GPU " + std::to_string(device_) + ": " + gpu_ + "), rank " + std::to_string(rank()) + " of " +
               std::to_string(size()) + " on " + host_;
    }
    int rank() const override { return bootstrap_->rank(); }
    int size() const override { return bootstrap_->size(); }
    void allreduce_sum(float* data, size_t n) override { bootstrap_->allreduce_sum(data, n); }
    void allreduce_sum(double* data, size_t n) override { bootstrap_->allreduce_sum(data, n); }
    void broadcast(void* data, size_t bytes, int root) override { bootstrap_->broadcast(data, bytes, root); }
    void barrier() override { bootstrap_->barrier(); }

    bool reduces_device_memory() const override { return true; }
    void allreduce_average_device(float* data, size_t n) override {
        const std::string what = "allreduce of " + std::to_string(n) + " floats";
        if (!comm_) fail(Errc::io, prefix() + "the " + what + ": the NCCL communicator was aborted after an earlier error");
        check(ncclAllReduce(data, data, n, ncclFloat, ncclAvg, comm_, stream_), what);
        wait(what, [&] {
            const cudaError_t err = cudaStreamQuery(stream_);
            if (err == cudaErrorNotReady) return false;
            if (err != cudaSuccess) abort_and_fail(cuda_error("the " + what, err));
            return true;
        });
    }

private:
    std::string prefix() const { return "nccl: rank " + std::to_string(rank()) + " of " + std::to_string(size()) + ": "; }

    void start() {
        cudaDeviceProp prop{};
        cudaError_t err;
        if ((err = cudaSetDevice(device_)) != cudaSuccess || (err = cudaGetDeviceProperties(&prop, device_)) != cudaSuccess)
            fail(Errc::unsupported, prefix() + cuda_error("cudaSetDevice(" + std::to_string(device_) + ")", err));
        gpu_ = prop.name;
        int version = 0;
        ncclGetVersion(&version);
        library_ = "NCCL " + std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) + "." + std::to_string(version % 100);
        if ((err = cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)) != cudaSuccess)
            fail(Errc::unsupported, prefix() + cuda_error("cudaStreamCreate", err));

        ncclUniqueId id{};
        if (rank() == 0) {
            if (const ncclResult_t r = ncclGetUniqueId(&id); r != ncclSuccess)
                fail(Errc::unsupported, prefix() + "ncclGetUniqueId: " + ncclGetErrorString(r) + " (" + ncclGetLastError(nullptr) + ")");
        }
        bootstrap_->broadcast(&id, sizeof id, 0);
        ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
        config.blocking = 0;
        const std::string what = "ncclCommInitRank of " + std::to_string(size()) + " ranks";
        const ncclResult_t r = ncclCommInitRankConfig(&comm_, size(), id, rank(), &config);
        if (!comm_) fail(Errc::unsupported, prefix() + what + ": " + ncclGetErrorString(r) + " (" + ncclGetLastError(nullptr) + ")");
        check(r, what);
        wait(what, [] { return true; });
    }

    // A non-blocking call returns success or ncclInProgress (wait() follows it); any other result
    // aborts the communicator.
    void check(ncclResult_t r, const std::string& what) {
        if (r != ncclSuccess && r != ncclInProgress)
            abort_and_fail("the " + what + ": " + ncclGetErrorString(r) + " (" + ncclGetLastError(comm_) + ")");
    }

    // Polls the communicator's state until NCCL has done what it was asked and `done()` holds, up to
    // the deadline, sleeping a little more each time (a rank waiting for a slower one should leave
    // it the CPU). An error or the deadline aborts the communicator.
    template <class Done> void wait(const std::string& what, Done done) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_);
        for (int spins = 0;; ++spins) {
            ncclResult_t state = ncclInProgress;
            if (const ncclResult_t r = ncclCommGetAsyncError(comm_, &state); r != ncclSuccess) state = r;
            if (state != ncclSuccess && state != ncclInProgress)
                abort_and_fail("the " + what + ": " + ncclGetErrorString(state) + " (" + ncclGetLastError(comm_) + ")");
            if (state == ncclSuccess && done()) return;
            if (std::chrono::steady_clock::now() > deadline)
                abort_and_fail("the " + what + " did not complete within " + std::to_string(int(timeout_)) + " s on " + host_ +
                               " — another rank died or hangs");
            if (spins > 100) std::this_thread::sleep_for(std::chrono::microseconds(spins > 10000 ? 1000 : 20));
        }
    }

    [[noreturn]] void abort_and_fail(const std::string& why) {
        ncclCommAbort(comm_);
        comm_ = nullptr;
        broken = true;
        fail(Errc::io, prefix() + why);
    }

    // Finalizing synchronises with the other ranks (then destroying is local); ranks that do not
    // come in time have the communicator aborted instead.
    void release() noexcept {
        try {
            if (comm_) {
                check(ncclCommFinalize(comm_), "ncclCommFinalize");
                wait("ncclCommFinalize", [] { return true; });
                ncclCommDestroy(comm_);
            }
        } catch (const std::exception&) {  // wait() aborted the communicator: nothing left to free
        }
        if (stream_) cudaStreamDestroy(stream_);
    }

    std::unique_ptr<Communicator> bootstrap_;
    double timeout_;
    int device_;
    std::string host_, gpu_, library_;
    cudaStream_t stream_ = nullptr;
    ncclComm_t comm_ = nullptr;
};

}  // namespace

}  // namespace kiln

extern "C" void* kiln_nccl_create_communicator(int abi_version, void* bootstrap, double timeout_seconds, int local_rank, char* reason,
                                               size_t reason_size) {
    std::unique_ptr<kiln::Communicator> boot(static_cast<kiln::Communicator*>(bootstrap));
    auto say = [&](const std::string& why) {
        if (reason && reason_size) std::snprintf(reason, reason_size, "%s", why.c_str());
        return nullptr;
    };
    if (abi_version != KILN_NCCL_ABI_VERSION)
        return say("the module has ABI " + std::to_string(KILN_NCCL_ABI_VERSION) + ", the caller " + std::to_string(abi_version));
    int count = 0;
    if (const cudaError_t err = cudaGetDeviceCount(&count); err != cudaSuccess) {
        // cudaErrorInsufficientDriver without a driver, cudaErrorNoDevice without a GPU.
        cudaGetLastError();
        return say("no CUDA device: " + kiln::cuda_error("cudaGetDeviceCount", err));
    }
    if (count == 0) return say("no CUDA device: cudaGetDeviceCount found 0 devices");
    // After the MPI module's, so that it runs before MPI_Finalize.
    [[maybe_unused]] static const int registered = std::atexit(kiln::finish);
    try {
        return static_cast<kiln::Communicator*>(new kiln::NcclCommunicator(std::move(boot), timeout_seconds, local_rank % count));
    } catch (const std::exception& e) {
        return say(e.what());
    }
}
