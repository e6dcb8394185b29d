// ThreadPool: a fixed set of worker threads started once (at compile time) and reused by every
// kernel. Work is split statically into one contiguous chunk per thread, so the same thread count
// gives bit-identical results run after run. Dispatching work allocates nothing.
//
// Between tasks a worker spins for a short while (spin_seconds) before it sleeps, and so does the
// caller waiting for the workers: a training step runs dozens of parallel kernels back to back,
// and waking a sleeping thread costs 5 µs on bare metal but up to ~100 µs on a virtual machine
// whose idle vCPU was halted — more than a small kernel takes.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace kiln {

// A non-owning reference to a callable; valid only while the callable lives.
template <class Sig> class FunctionRef;
template <class R, class... A> class FunctionRef<R(A...)> {
public:
    template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
    FunctionRef(F&& f) : obj_(const_cast<void*>(static_cast<const void*>(&f))) {
        call_ = [](void* o, A... a) -> R { return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<A>(a)...); };
    }
    R operator()(A... a) const { return call_(obj_, std::forward<A>(a)...); }

private:
    void* obj_;
    R (*call_)(void*, A...);
};

class ThreadPool {
public:
    // threads: total number of threads including the caller; 0 means std::thread::hardware_concurrency().
    explicit ThreadPool(int threads = 0);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return size_; }

    // Runs task(t) once for every t in [0, size()), the caller taking t = 0; returns when all finish.
    void run(FunctionRef<void(int)> task);

    // Splits [0, n) into at most size() contiguous chunks of at least min_chunk items and calls
    // fn(begin, end) for each, in parallel. Small n runs on the caller alone.
    template <class F> void parallel_for(int64_t n, int64_t min_chunk, F&& fn) {
        if (n <= 0) return;
        int64_t chunks = std::min<int64_t>(size_, (n + min_chunk - 1) / std::max<int64_t>(min_chunk, 1));
        if (chunks <= 1) {
            fn(int64_t(0), n);
            return;
        }
        run([&](int t) {
            if (t >= chunks) return;
            int64_t begin = n * t / chunks, end = n * (t + 1) / chunks;
            if (begin < end) fn(begin, end);
        });
    }

    static constexpr double spin_seconds = 100e-6;

private:
    void worker(int index);

    int size_;
    std::vector<std::thread> workers_;
    std::mutex mutex_;  // guards sleeping on the condition variables
    std::condition_variable wake_, done_;
    std::atomic<const FunctionRef<void(int)>*> task_{nullptr};
    std::atomic<uint64_t> generation_{0};  // bumped once per run()
    std::atomic<int> pending_{0};          // workers still busy with the current task
    std::atomic<int> sleepers_{0};         // workers blocked on wake_
    std::atomic<bool> caller_waiting_{false}, stop_{false};
};

}  // namespace kiln
