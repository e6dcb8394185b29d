#include "kiln/core/thread_pool.h"

#include <algorithm>
#include <chrono>

namespace kiln {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    asm volatile("yield");
#endif
}

// Spins until done() or spin_seconds have passed; returns done().
template <class F> bool spin_until(F done) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::duration<double>(ThreadPool::spin_seconds);
    for (int i = 0;; ++i) {
        if (done()) return true;
        cpu_relax();
        if (i % 64 == 63 && Clock::now() > deadline) return done();
    }
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    size_ = threads;
    workers_.reserve(size_ - 1);
    for (int i = 1; i < size_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
}

// Sleeping is made safe by sequentially consistent atomics: a worker counts itself in sleepers_
// before it checks generation_ one last time, and run() bumps generation_ before it reads
// sleepers_, so either run() sees the sleeper and notifies it under the mutex, or the worker sees
// the new generation and does not sleep. The caller and pending_ / caller_waiting_ work the same way.
void ThreadPool::run(FunctionRef<void(int)> task) {
    if (size_ == 1) {
        task(0);
        return;
    }
    task_ = &task;
    pending_ = size_ - 1;
    ++generation_;
    if (sleepers_ > 0) {
        std::lock_guard<std::mutex> lock(mutex_);
        wake_.notify_all();
    }
    task(0);
    if (!spin_until([this] { return pending_ == 0; })) {
        std::unique_lock<std::mutex> lock(mutex_);
        // An exchange, not a store: qemu-user on an x86 host lets an aarch64 store-release pass a
        // later load-acquire (the load of pending_ in the wait), so the last worker could miss the
        // flag and the caller sleep for ever (seen as a hang of examples/fashion_mnist in CI). A
        // read-modify-write is a full barrier there, and the same seq_cst operation everywhere.
        caller_waiting_.exchange(true);
        done_.wait(lock, [this] { return pending_ == 0; });
        caller_waiting_ = false;
    }
    task_ = nullptr;
}

void ThreadPool::worker(int index) {
    uint64_t seen = 0;
    for (;;) {
        auto has_work = [&] { return stop_ || generation_ != seen; };
        if (!spin_until(has_work)) {
            std::unique_lock<std::mutex> lock(mutex_);
            ++sleepers_;
            wake_.wait(lock, has_work);
            --sleepers_;
        }
        if (stop_) return;
        seen = generation_;
        (*task_.load())(index);
        if (--pending_ == 0 && caller_waiting_) {
            std::lock_guard<std::mutex> lock(mutex_);
            done_.notify_one();
        }
    }
}

}  // namespace kiln
