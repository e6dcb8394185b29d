// What test-dist runs under mpirun: the MPI communicator's collectives on every rank, checked
// against what each must give, and the failures a distributed run must survive.
//   mpi_check collectives          allreduce (in pieces of every size), broadcast, barrier
//   mpi_check hang SECONDS         rank 1 never joins the allreduce: the others must fail in time
//   mpi_check die                  rank 1 is killed before the allreduce
//   mpi_check agree                Program::agreement: rank 1 alone votes to stop, then alone
//                                  trains to a non-finite loss: every rank must learn both from the step
//   mpi_check train                50 SGD steps of a small CNN, each rank on its shard of every
//                                  global batch of 16, against one process on the whole batch
//   mpi_check nccl                 (a GPU per rank) the nccl communicator: device buffers averaged
//                                  over the ranks against the host's mean, then train on cuda
// Prints "rank R: ok" per rank and exits 0 when every check holds.
#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "kiln/backend/registry.h"
#include "kiln/core/error.h"
#include "kiln/dist/communicator.h"
#include "kiln/nn/layers.h"
#include "kiln/runtime/program.h"

namespace {

// A small CNN without BatchNorm (whose batch statistics differ by shard): conv, relu, pool, linear.
struct Net {
    kiln::Graph g{11};
    kiln::Value x, y, loss;
    explicit Net(int64_t batch) {
        x = g.input("x", {batch, 2, 8, 8});
        y = g.input("y", {batch}, kiln::DType::i64);
        kiln::Value h = g.relu(kiln::nn::conv2d(g, "conv", x, 4, {.kernel = 3, .padding = 1}));
        h = kiln::nn::max_pool2d(g, h, 2);
        loss = g.cross_entropy(kiln::nn::linear(g, "fc", g.flatten(h), 3), y);
    }
};

// The state after `steps` SGD steps (momentum 0.9) over the global batches of 16, this rank
// taking rows [rank·16/size, (rank + 1)·16/size) of each.
std::vector<float> train(kiln::Communicator* comm, int rank, int size, int steps, const std::string& backend) {
    const int64_t global = 16, local = global / size;
    Net net(local);
    kiln::CompileOptions o;
    o.loss = net.loss;
    o.optimizer = kiln::SGD{.lr = 0.05f, .momentum = 0.9f};
    o.fuse_gradients = true;
    o.backend = backend;
    o.backend_options.threads = 1;
    o.backend_options.device = kiln::local_rank();  // cuda: the GPU the nccl communicator drives
    auto p = kiln::compile(net.g, o);
    p->set_communicator(comm);
    kiln::Generator data(5);
    std::vector<float> x(size_t(global) * 128);
    std::vector<int64_t> y(static_cast<size_t>(global));
    for (int step = 0; step < steps; ++step) {
        for (float& v : x) v = data.uniform(-1.0f, 1.0f);
        for (int64_t& v : y) v = int64_t(data.below(3));
        p->write_input(net.x, x.data() + rank * local * 128, local);
        p->write_input(net.y, y.data() + rank * local, local);
        p->train_step(local);
    }
    std::vector<float> state;
    for (const kiln::StateEntry& e : p->state()) {
        std::vector<float> v(size_t(e.shape.numel()));
        p->read_state(e, v.data());
        state.insert(state.end(), v.begin(), v.end());
    }
    return state;
}

// 50 steps on every rank against one process on the whole batches, compared by rank 0.
bool train_against_one_process(kiln::Communicator* comm, int rank, int size, const std::string& backend) {
    const std::vector<float> ranks = train(comm, rank, size, 50, backend);
    if (rank != 0) return true;
    const std::vector<float> one = train(nullptr, 0, 1, 50, backend);
    // Relative to each value, or to 1 % of the largest for values near 0 (a sum's rounding
    // differs with its order: 2 shards of 8 rows against 16).
    double top = 0, worst = 0;
    for (float v : one) top = std::max(top, std::fabs(double(v)));
    for (size_t i = 0; i < one.size(); ++i)
        worst = std::max(worst, std::fabs(double(ranks[i]) - double(one[i])) / std::max(0.01 * top, std::fabs(double(one[i]))));
    std::printf("train: %d ranks against one process after 50 steps on %s: largest relative difference %.3g over %zu values "
                "(largest %.3g)\n", size, backend.c_str(), worst, one.size(), top);
    return worst <= 1e-5;
}

// Device buffers of every size averaged by the nccl communicator: rank r holds (r + 1)/2 + i % 97,
// so the mean is (size + 1)/4 + i % 97 (NCCL may scale before it sums: within float rounding).
bool device_allreduce(kiln::Communicator* comm, int rank, int size) {
    auto gpu = kiln::make_backend("cuda", {.device = kiln::local_rank()});
    std::printf("rank %d: %s\n", rank, gpu->description().c_str());
    for (size_t n : {size_t(1), size_t(7), size_t(1000), size_t(1) << 20}) {
        std::vector<float> v(n);
        for (size_t i = 0; i < n; ++i) v[i] = float(rank + 1) * 0.5f + float(i % 97);
        void* d = gpu->allocate(n * sizeof(float));
        gpu->copy_to_device(d, v.data(), n * sizeof(float));
        comm->allreduce_average_device(static_cast<float*>(d), n);
        gpu->copy_to_host(v.data(), d, n * sizeof(float));
        gpu->release(d);
        for (size_t i = 0; i < n; ++i) {
            const double want = 0.25 * double(size + 1) + double(i % 97);
            if (!(std::fabs(double(v[i]) - want) <= 1e-6 * want)) {
                std::printf("rank %d: device allreduce of %zu: element %zu is %.9g, expected %.9g\n", rank, n, i, double(v[i]), want);
                return false;
            }
        }
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "collectives";
    try {
        kiln::CommunicatorOptions o;
        if (mode == "hang") o.timeout_seconds = std::atof(argv[2]);
        auto comm = kiln::make_communicator(mode == "nccl" ? "nccl" : "auto", o);
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
        } else if (mode == "agree") {
            // a linear classifier: no ReLU between an infinite input and the loss (it maps NaN to 0)
            kiln::Graph g(3);
            const kiln::Value xv = g.input("x", {4, 8}), yv = g.input("y", {4}, kiln::DType::i64);
            kiln::CompileOptions o;
            o.loss = g.cross_entropy(kiln::nn::linear(g, "fc", xv, 3), yv);
            o.optimizer = kiln::SGD{.lr = 0.05f};
            o.fuse_gradients = true;
            o.backend_options.threads = 1;
            auto p = kiln::compile(g, o);
            p->set_communicator(comm.get());
            std::vector<float> x(4 * 8, 0.5f);
            const std::vector<int64_t> y(4, 1);
            // per step: whether rank 1 votes to stop, whether its input is infinite
            const bool plan[3][2] = {{true, false}, {false, false}, {false, true}};
            for (const auto& [stop, nan] : plan) {
                std::fill(x.begin(), x.end(), rank == 1 && nan ? INFINITY : 0.5f);
                p->write_input(xv, x.data(), 4);
                p->write_input(yv, y.data(), 4);
                p->vote_stop(rank == 1 && stop);
                p->train_step(4);
                const kiln::Program::Agreement a = p->agreement();
                std::printf("rank %d: agreement stop %d, loss not finite %d\n", rank, int(a.stop), int(a.loss_not_finite));
                if (a.stop != stop || a.loss_not_finite != nan) return 1;
            }
        } else if (mode == "train") {
            if (!train_against_one_process(comm.get(), rank, size, "cpu")) return 1;
        } else if (mode == "nccl") {
            if (!device_allreduce(comm.get(), rank, size) || !train_against_one_process(comm.get(), rank, size, "cuda")) return 1;
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
