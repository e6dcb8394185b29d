#include "kiln/backend/cpu/cpu_backend.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "kiln/backend/reference/kernels.h"
#include "kiln/core/error.h"

namespace kiln::cpu {

namespace {

class CpuBackend final : public Backend {
public:
    explicit CpuBackend(const BackendOptions& o) : pool_(o.threads), gemm_(pool_), reference_(o.reference) {}

    const char* name() const override { return reference_ ? "cpu-reference" : "cpu"; }

    bool supports(const KernelCall& call) const override {
        return reference::kernels[static_cast<int>(call.op)] != nullptr;
    }

    size_t scratch_bytes(const KernelCall& call) const override {
        return reference_ ? 0 : fast_scratch_bytes(call, pool_.size());
    }

    void* allocate(size_t bytes) override {
        void* p = std::aligned_alloc(alignment(), align_up(bytes, alignment()));
        if (!p) fail(Errc::invalid_argument, "cpu: cannot allocate an arena of " + std::to_string(bytes) + " bytes");
        std::memset(p, 0, bytes);
        return p;
    }
    void release(void* p) override { std::free(p); }
    void copy_to_device(void* dst, const void* src, size_t bytes) override {
        if (bytes) std::memcpy(dst, src, bytes);
    }
    void copy_to_host(void* dst, const void* src, size_t bytes) override {
        if (bytes) std::memcpy(dst, src, bytes);
    }
    bool host_accessible() const override { return true; }

    void run(const KernelCall& call) override {
        const int op = static_cast<int>(call.op);
        if (const Kernel fast = reference_ ? nullptr : fast_kernels[op]) {
            Context ctx{pool_, gemm_};
            return fast(call, ctx);
        }
        reference::kernels[op](call);
    }

private:
    static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }
    ThreadPool pool_;
    Gemm gemm_;
    bool reference_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options) {
    return std::make_unique<CpuBackend>(options);
}

}  // namespace kiln::cpu
