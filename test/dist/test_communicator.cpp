// The communicator (kiln/dist/communicator.h): the local one, choosing one, and the MPI module run
// by mpirun with 2 ranks on this machine (mpi_check.cpp) — its collectives, a rank that hangs and a
// rank that dies: the others must stop with an error naming what failed, in bounded time. Without
// mpirun or the module (no OpenMPI), the MPI cases say why they are skipped. The NCCL module needs
// a GPU: here, that it says why it cannot start (mpi_check nccl, in scripts/check-gpu.sh, runs it).
#define BOOST_TEST_MODULE dist_communicator
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "error_of.h"
#include "kiln/dist/communicator.h"
#include "kiln/nn/layers.h"
#include "kiln/runtime/program.h"
#include "temp_dir.h"

using kiln::testing::error_of;

namespace {

struct Run {
    int status;
    std::string out;
    double seconds;
};

// mpirun -np RANKS mpi_check ARGS, its output (stdout and stderr) and how long it took.
Run mpirun(const std::string& args, int ranks = 2) {
    TempDir dir;
    const std::string log = dir / "log";
    const std::string cmd = "mpirun --allow-run-as-root --oversubscribe -np " + std::to_string(ranks) + " " + std::string(KILN_MPI_CHECK) + " " +
                            args + " > " + log + " 2>&1";
    const auto t0 = std::chrono::steady_clock::now();
    const int status = std::system(cmd.c_str());
    Run r{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), "",
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
    if (FILE* f = std::fopen(log.c_str(), "r")) {
        char buf[4096];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) r.out.append(buf, n);
        std::fclose(f);
    }
    BOOST_TEST_MESSAGE(cmd << " → " << r.status << " in " << r.seconds << " s\n" << r.out);
    return r;
}

bool have_mpi() {
    if (std::system("command -v mpirun > /dev/null 2>&1") != 0) {
        std::printf("skipped: no mpirun (apt-get install openmpi-bin libopenmpi-dev)\n");
        return false;
    }
    if (!std::filesystem::exists(KILN_MPI_MODULE_PATH)) {
        std::printf("skipped: this build has no MPI module (%s)\n", KILN_MPI_MODULE_PATH);
        return false;
    }
    return true;
}

}  // namespace

BOOST_AUTO_TEST_CASE(local_and_choosing) {
    ::unsetenv("OMPI_COMM_WORLD_SIZE");
    auto c = kiln::make_communicator("auto");
    BOOST_TEST(c->rank() == 0);
    BOOST_TEST(c->size() == 1);
    float x[3] = {1, 2, 3};
    c->allreduce_sum(x, 3);
    BOOST_TEST(x[2] == 3.0f);
    BOOST_TEST(error_of([&] { c->broadcast(x, 4, 1); }) == "broadcast: root 1 of a one-process group");
    BOOST_TEST(error_of([] { kiln::make_communicator("gloo"); }) == "unknown communicator 'gloo' (known: auto, local, mpi, nccl)");
    BOOST_TEST(error_of([] { kiln::make_communicator("local", {.timeout_seconds = 0}); }) == "communicator: the timeout must be positive");
}

BOOST_AUTO_TEST_CASE(mpi_collectives_on_two_ranks) {
    if (!have_mpi()) return;
    const Run r = mpirun("collectives");
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out.find("rank 0: ok") != std::string::npos);
    BOOST_TEST(r.out.find("rank 1: ok") != std::string::npos);
    BOOST_TEST(r.out.find("rank 1 of 2") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_hung_rank_stops_the_others_in_bounded_time) {
    if (!have_mpi()) return;
    const Run r = mpirun("hang 3");
    BOOST_TEST(r.status != 0);
    BOOST_TEST(r.out.find("mpi: rank 0 of 2: the allreduce of 1 floats did not complete within 3 s") != std::string::npos);
    BOOST_TEST(r.seconds < 60);
}

BOOST_AUTO_TEST_CASE(a_dead_rank_stops_the_others) {
    if (!have_mpi()) return;
    const Run r = mpirun("die");
    BOOST_TEST(r.status != 0);
    BOOST_TEST(r.out.find("rank 1") != std::string::npos);  // mpirun names the rank that died
    BOOST_TEST(r.seconds < 60);
}

// A rank's vote to stop and its non-finite loss reach every rank through the step's own allreduce.
BOOST_AUTO_TEST_CASE(every_rank_learns_one_rank_s_stop_and_nan) {
    if (!have_mpi()) return;
    const Run r = mpirun("agree");
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out.find("rank 0: ok") != std::string::npos);
    BOOST_TEST(r.out.find("rank 1: ok") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(two_ranks_train_to_one_process_s_weights) {
    if (!have_mpi()) return;
    const Run r = mpirun("train");
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out.find("train: 2 ranks against one process after 50 steps") != std::string::npos);
}

// One rank: the MPI communicator's allreduce and average leave the gradients' bits as they are.
BOOST_AUTO_TEST_CASE(one_rank_trains_to_one_process_s_bits) {
    if (!have_mpi()) return;
    const Run r = mpirun("train", 1);
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out.find("train: 1 ranks against one process after 50 steps on cpu: largest relative difference 0 ") != std::string::npos);
}

// fuse_gradients moves the gradients, not what a step computes: the same bits as without, and the
// block holds every parameter's gradient (BatchNorm's two in one [2, C] tensor).
BOOST_AUTO_TEST_CASE(fused_gradients_train_to_the_same_bits) {
    auto run = [](bool fused, double* grad_squares, double* block_squares) {
        kiln::Graph g(4);
        const kiln::Value x = g.input("x", {6, 2, 6, 6}), y = g.input("y", {6}, kiln::DType::i64);
        kiln::Value h = g.relu(kiln::nn::batch_norm(g, "bn", kiln::nn::conv2d(g, "conv", x, 3, {.kernel = 3, .padding = 1})));
        const kiln::Value loss = g.cross_entropy(kiln::nn::linear(g, "fc", g.flatten(h), 4), y);
        kiln::CompileOptions o;
        o.loss = loss;
        o.optimizer = kiln::SGD{.lr = 0.1f, .momentum = 0.9f};
        o.fuse_gradients = fused;
        for (const char* name : {"conv.weight", "conv.bias", "bn.weight", "bn.bias", "fc.weight", "fc.bias"}) o.gradients.push_back(g.find(name));
        auto p = kiln::compile(g, o);
        kiln::Generator rng(9);
        std::vector<float> xs(6 * 72);
        std::vector<int64_t> ys(6);
        for (int step = 0; step < 5; ++step) {
            for (float& v : xs) v = rng.uniform(-1.0f, 1.0f);
            for (int64_t& v : ys) v = int64_t(rng.below(4));
            p->write_input(x, xs.data(), 6);
            p->write_input(y, ys.data(), 6);
            p->train_step(6);
        }
        if (grad_squares) {
            for (kiln::Value param : o.gradients)
                for (float v : p->read(p->grad(param))) *grad_squares += double(v) * v;
            for (float v : p->fused_gradients()) *block_squares += double(v) * v;
        }
        std::vector<float> state;
        for (const kiln::StateEntry& e : p->state()) {
            std::vector<float> v(size_t(e.shape.numel()) * kiln::dtype_size(e.dtype) / 4);
            p->read_state(e, v.data());
            state.insert(state.end(), v.begin(), v.end());
        }
        return state;
    };
    double grads = 0, block = 0;
    const std::vector<float> plain = run(false, nullptr, nullptr), fused = run(true, &grads, &block);
    BOOST_TEST(plain == fused);
    BOOST_TEST(grads > 0);
    BOOST_TEST(block == grads);
}

// make_communicator("nccl") on a machine without a GPU: Error(unsupported) saying so, or in a build
// without the module that it is not built. It starts MPI in this process (the bootstrap: MPI's
// singleton mode), so it comes last.
BOOST_AUTO_TEST_CASE(nccl_without_a_gpu_says_why) {
    std::string message;
    try {
        auto c = kiln::make_communicator("nccl");
        std::printf("this machine has a CUDA device: %s\n", c->description().c_str());
        BOOST_TEST(c->reduces_device_memory());
        BOOST_TEST(c->description().starts_with("nccl (NCCL "));
        return;
    } catch (const kiln::Error& e) {
        message = e.what();
        BOOST_TEST(e.code() == kiln::Errc::unsupported);
    }
    BOOST_TEST_MESSAGE(message);
    if (std::filesystem::exists(KILN_NCCL_MODULE_PATH)) {
        BOOST_TEST(message.starts_with("communicator 'nccl': no CUDA device: cudaGetDeviceCount"));
    } else {
        std::printf("this build has no NCCL module (%s)\n", KILN_NCCL_MODULE_PATH);
        BOOST_TEST(message.starts_with("communicator 'nccl': this build of kiln has no NCCL module (libkiln-nccl.so is not in "));
        BOOST_TEST(message.ends_with("; it is built with the CUDA backend when the toolkit has NCCL (nccl.h, libnccl) and OpenMPI is installed)"));
    }
}
