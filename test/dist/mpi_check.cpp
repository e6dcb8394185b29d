// What test-dist runs under mpirun: the MPI communicator's collectives on every rank, checked
// against what each must give, and the failures a distributed run must survive.
//   mpi_check collectives          allreduce (in pieces of every size), broadcast, barrier
//   mpi_check hang SECONDS         rank 1 never joins the allreduce: the others must fail in time
//   mpi_check die                  rank 1 is killed before the allreduce
// Prints "rank R: ok" per rank and exits 0 when every check holds.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/dist/communicator.h"

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "collectives";
    try {
        kiln::CommunicatorOptions o;
        if (mode == "hang") o.timeout_seconds = std::atof(argv[2]);
        auto comm = kiln::make_communicator("auto", o);
        const int rank = comm->rank(), size = comm->size();
        std::printf("%s\n", comm->description().c_str());
        if (mode == "collectives") {
            bool ok = true;
            for (size_t n : {size_t(1), size_t(7), size_t(1000), size_t(1) << 20}) {
                std::vector<float> v(n);
                for (size_t i = 0; i < n; ++i) v[i] = float(rank + 1) * 0.5f + float(i % 97);
                comm->allreduce_sum(v.data(), n);
                for (size_t i = 0; i < n; ++i) {  // Σ_r ((r + 1)/2 + i % 97): exact in float here
                    const float want = 0.25f * float(size) * float(size + 1) + float(size) * float(i % 97);
                    if (v[i] != want) {
                        std::printf("rank %d: allreduce of %zu: element %zu is %g, expected %g\n", rank, n, i, double(v[i]), double(want));
                        ok = false;
                        break;
                    }
                }
            }
            std::vector<char> text(64, 0);
            if (rank == size - 1) std::snprintf(text.data(), text.size(), "from rank %d", rank);
            comm->broadcast(text.data(), text.size(), size - 1);
            if (std::string(text.data()) != "from rank " + std::to_string(size - 1)) {
                std::printf("rank %d: broadcast gave '%s'\n", rank, text.data());
                ok = false;
            }
            comm->barrier();
            if (!ok) return 1;
        } else if (mode == "hang" || mode == "die") {
            float x = 1;
            if (rank == 1) {
                if (mode == "die") std::raise(SIGKILL);
                std::this_thread::sleep_for(std::chrono::hours(1));
            }
            comm->allreduce_sum(&x, 1);
        }
        std::printf("rank %d: ok\n", rank);
        return 0;
    } catch (const kiln::Error& e) {
        std::fprintf(stderr, "mpi_check: error: %s\n", e.what());
        return 1;
    }
}
