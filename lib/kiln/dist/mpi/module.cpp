// libkiln-mpi.so: kiln::Communicator over OpenMPI's MPI_COMM_WORLD (kiln_mpi.h). Every collective
// is the non-blocking MPI call polled against a deadline, so that a rank that died or hangs turns
// into an error naming the operation instead of a process waiting forever; after such an error
// the process ends with MPI_Abort (a pending collective cannot be finalised), which makes mpirun
// stop every rank.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/dist/communicator.h"
#include "kiln/dist/mpi/kiln_mpi.h"

namespace kiln {

namespace {

bool broken = false;  // a collective timed out: finalising would wait for it

void finish() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    if (broken) MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Finalize();
}

std::string mpi_error(int code) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(code, text, &len);
    return std::string(text, size_t(len));
}

class MpiCommunicator final : public Communicator {
public:
    explicit MpiCommunicator(double timeout) : timeout_(timeout) {
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
        char host[MPI_MAX_PROCESSOR_NAME];
        int len = 0;
        MPI_Get_processor_name(host, &len);
        host_.assign(host, size_t(len));
        char version[MPI_MAX_LIBRARY_VERSION_STRING];
        MPI_Get_library_version(version, &len);
        library_ = std::string(version, size_t(len));
        library_ = library_.substr(0, library_.find(','));
    }
    std::string description() const override {
        return "mpi (" + library_ + "), rank " + std::to_string(rank_) + " of " + std::to_string(size_) + " on " + host_;
    }
    int rank() const override { return rank_; }
    int size() const override { return size_; }

    void allreduce_sum(float* data, size_t n) override { allreduce(data, n, MPI_FLOAT, "floats"); }
    void allreduce_sum(double* data, size_t n) override { allreduce(data, n, MPI_DOUBLE, "doubles"); }
    void broadcast(void* data, size_t bytes, int root) override {
        if (root < 0 || root >= size_) fail(Errc::invalid_argument, "mpi: broadcast from rank " + std::to_string(root) + " of " + std::to_string(size_));
        for (size_t at = 0; at < bytes; at += chunk) {
            MPI_Request r;
            check(MPI_Ibcast(static_cast<char*>(data) + at, int(std::min(chunk, bytes - at)), MPI_BYTE, root, MPI_COMM_WORLD, &r), "broadcast");
            wait(r, "broadcast of " + std::to_string(bytes) + " bytes from rank " + std::to_string(root));
        }
    }
    void barrier() override {
        MPI_Request r;
        check(MPI_Ibarrier(MPI_COMM_WORLD, &r), "barrier");
        wait(r, "barrier");
    }

private:
    static constexpr size_t chunk = size_t(1) << 30;

    template <class T> void allreduce(T* data, size_t n, MPI_Datatype type, const char* values) {
        // MPI counts are int: large buffers go in pieces.
        for (size_t at = 0; at < n; at += chunk) {
            MPI_Request r;
            check(MPI_Iallreduce(MPI_IN_PLACE, data + at, int(std::min(chunk, n - at)), type, MPI_SUM, MPI_COMM_WORLD, &r), "allreduce");
            wait(r, "allreduce of " + std::to_string(n) + " " + values);
        }
    }

    void check(int code, const char* what) const {
        if (code != MPI_SUCCESS) fail(Errc::io, "mpi: rank " + std::to_string(rank_) + ": " + what + ": " + mpi_error(code));
    }
    // Polls the request, sleeping a little more each time (a rank waiting for a slower one should
    // leave it the CPU), up to the deadline.
    void wait(MPI_Request& r, const std::string& what) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_);
        int done = 0;
        for (int spins = 0;; ++spins) {
            check(MPI_Test(&r, &done, MPI_STATUS_IGNORE), what.c_str());
            if (done) return;
            if (std::chrono::steady_clock::now() > deadline) {
                broken = true;
                fail(Errc::io, "mpi: rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": the " + what +
                                   " did not complete within " + std::to_string(int(timeout_)) + " s on " + host_ + ": " +
                                   silent_ranks());
            }
            if (spins > 100) std::this_thread::sleep_for(std::chrono::microseconds(spins > 10000 ? 1000 : 20));
        }
    }

    // After a timeout: which ranks are silent. Every rank that timed out sends each other one a
    // message and waits a few seconds for theirs; a rank still inside MPI (it timed out too, at
    // about the same moment: the ranks met at the previous collective) answers, a dead or hung
    // one cannot.
    std::string silent_ranks() {
        static const int token = 0;  // outlives the sends, which are never waited for
        constexpr int tag = 0x6b6c;
        std::vector<int> got(size_t(size_), 0);
        std::vector<MPI_Request> recv(size_t(size_), MPI_REQUEST_NULL);
        for (int p = 0; p < size_; ++p) {
            if (p == rank_) continue;
            MPI_Request send;
            if (MPI_Isend(&token, 1, MPI_INT, p, tag, MPI_COMM_WORLD, &send) == MPI_SUCCESS) MPI_Request_free(&send);
            MPI_Irecv(&got[size_t(p)], 1, MPI_INT, p, tag, MPI_COMM_WORLD, &recv[size_t(p)]);
        }
        const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(std::min(timeout_, 5.0));
        std::string silent;
        for (int p = 0; p < size_; ++p) {
            int done = p == rank_;
            while (!done && MPI_Test(&recv[size_t(p)], &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done &&
                   std::chrono::steady_clock::now() < until)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            if (done) continue;
            MPI_Cancel(&recv[size_t(p)]);
            MPI_Request_free(&recv[size_t(p)]);
            silent += (silent.empty() ? "" : ", ") + std::to_string(p);
        }
        if (silent.empty()) return "every rank answers (a collective that the ranks called in another order?)";
        return (silent.find(',') == std::string::npos ? "rank " : "ranks ") + silent + " did not answer — dead or hung";
    }

    int rank_ = 0, size_ = 1;
    double timeout_;
    std::string host_, library_;
};

}  // namespace

}  // namespace kiln

extern "C" void* kiln_mpi_create_communicator(int abi_version, double timeout_seconds, char* reason, size_t reason_size) {
    auto say = [&](const std::string& why) {
        if (reason && reason_size) std::snprintf(reason, reason_size, "%s", why.c_str());
        return nullptr;
    };
    if (abi_version != KILN_MPI_ABI_VERSION)
        return say("the module has ABI " + std::to_string(KILN_MPI_ABI_VERSION) + ", the caller " + std::to_string(abi_version));
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
        int provided = 0;
        if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return say("MPI_Init_thread failed");
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        std::atexit(kiln::finish);
    }
    try {
        return new kiln::MpiCommunicator(timeout_seconds);
    } catch (const std::exception& e) {
        return say(e.what());
    }
}
