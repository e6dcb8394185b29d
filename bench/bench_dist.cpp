// bench-dist: data-parallel training speed of a course model on random Fashion-MNIST-shaped data,
// alone or under mpirun (issue 16). With N ranks each trains on batch/N images of every global
// batch and the fused gradients are averaged every step (kiln/dist). Rank 0 prints one line:
//   img_s          global training images/s (the global batch over the median step time)
//   step_ms        a data-parallel step: forward, backward, the allreduce of the gradients (and
//                  the ranks' two votes, Program::agreement), update (median)
//   compute_ms     the same step without the allreduce (the communicator detached; median)
//   allreduce_ms   the allreduce alone (median, after a barrier)
//   grad_bytes     the bytes allreduced per step (the parameters' gradients, f32, with padding)
//   bench-dist MODEL [--batch B] [--threads N] [--seconds S] [--smoke]
//   mpirun -np 2 bench-dist tinyvgg --batch 64 --threads 1
// bench/dist_scaling.py runs it both ways and turns the figures into the README's cost model.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/dist/communicator.h"
#include "kiln/nn/models.h"
#include "kiln/runtime/program.h"

using namespace kiln;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Calls f about `seconds` (at least `min_calls` times, the same count on every rank: rank 0's
// clock decides, broadcast each round), returning each call's milliseconds.
template <class F> std::vector<double> time_calls(Communicator& comm, double seconds, int min_calls, F f) {
    std::vector<double> ms;
    const auto t0 = Clock::now();
    for (int32_t more = 1; more;) {
        comm.barrier();
        const auto t = Clock::now();
        f();
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
        more = int(ms.size()) < min_calls || std::chrono::duration<double>(Clock::now() - t0).count() < seconds;
        comm.broadcast(&more, sizeof more, 0);
    }
    return ms;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODEL [--batch B] [--threads N] [--seconds S] [--smoke]\n", argv[0]);
        return 2;
    }
    const std::string model = argv[1];
    int64_t batch = 64;
    int threads = 1, min_calls = 5;
    double seconds = 3;
    for (int i = 2; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--smoke")) seconds = 0, min_calls = 1;
        else if (i + 1 == argc) break;
        else if (!std::strcmp(argv[i], "--batch")) batch = std::atoll(argv[++i]);
        else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[++i]);
    }
    try {
        auto comm = make_communicator("auto");
        const int ranks = comm->size();
        if (batch % ranks) fail(Errc::invalid_argument, "--batch " + std::to_string(batch) + " does not split over " + std::to_string(ranks) + " ranks");
        const int64_t local = batch / ranks;
        Graph g(42);
        const Value x = g.input("x", {local, 1, 28, 28});
        const Value y = g.input("y", {local}, DType::i64);
        CompileOptions o;
        o.loss = g.cross_entropy(nn::build_model(g, model, x, 10), y);
        o.optimizer = SGD{.lr = 0.01f, .momentum = 0.9f};
        o.fuse_gradients = ranks > 1;
        o.backend_options.threads = threads;
        auto p = compile(g, o);
        std::vector<float> xs(size_t(local) * 784);
        std::vector<int64_t> ys(static_cast<size_t>(local));
        Generator rng(7 + uint64_t(comm->rank()));
        for (float& v : xs) v = rng.uniform();
        for (int64_t& v : ys) v = int64_t(rng.below(10));
        auto step = [&] {
            p->write_input(x, xs.data(), local);
            p->write_input(y, ys.data(), local);
            p->train_step(local);
        };
        step();  // warm-up
        if (ranks > 1) p->set_communicator(comm.get());
        const double step_ms = median(time_calls(*comm, seconds, min_calls, step));
        p->set_communicator(nullptr);
        const double compute_ms = median(time_calls(*comm, seconds / 2, min_calls, step));
        double allreduce_ms = 0;
        size_t grad_bytes = 0;
        for (const StateEntry& e : p->state())
            if (e.kind == StateEntry::param) grad_bytes += e.bytes;
        if (ranks > 1) {
            const std::span<float> grads = p->fused_gradients();
            grad_bytes = grads.size_bytes() + 2 * sizeof(float);  // and the two votes
            allreduce_ms = median(time_calls(*comm, seconds / 2, min_calls, [&] { comm->allreduce_average(grads.data(), grads.size() + 2); }));
        }
        int64_t params = 0;
        for (const StateEntry& e : p->state())
            if (e.kind == StateEntry::param) params += e.shape.numel();
        if (comm->rank() == 0)
            std::printf("model=%s ranks=%d threads=%d batch=%lld img_s=%.0f step_ms=%.4f compute_ms=%.4f allreduce_ms=%.4f "
                        "params=%lld grad_bytes=%zu\n",
                        model.c_str(), ranks, threads, static_cast<long long>(batch), double(batch) / step_ms * 1e3, step_ms, compute_ms,
                        allreduce_ms, static_cast<long long>(params), grad_bytes);
        return 0;
    } catch (const Error& e) {
        std::fprintf(stderr, "bench-dist: error: %s\n", e.what());
        return 1;
    }
}
