// Loads the built libkiln-cuda.so (path in argv[1]) the way libkiln will: dlopen + dlsym of the C
// entry points in kiln_cuda.h. Loading and the symbols are checked everywhere; the kernel runs only
// where a GPU is present, and otherwise the test says why and exits 77 (meson: SKIP).
#include <dlfcn.h>

#include <cstdio>

#include "kiln/backend/cuda/kiln_cuda.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s path/to/libkiln-cuda.so\n", argv[0]);
        return 2;
    }
    void* module = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!module) {
        std::fprintf(stderr, "FAIL: dlopen(%s): %s\n", argv[1], dlerror());
        return 1;
    }
    auto count = reinterpret_cast<kiln_cuda_device_count_fn>(dlsym(module, "kiln_cuda_device_count"));
    auto selftest = reinterpret_cast<kiln_cuda_axpy_selftest_fn>(dlsym(module, "kiln_cuda_axpy_selftest"));
    if (!count || !selftest) {
        std::fprintf(stderr, "FAIL: %s lacks kiln_cuda_device_count or kiln_cuda_axpy_selftest\n", argv[1]);
        return 1;
    }

    char reason[256] = "";
    const int devices = count(reason, sizeof reason);
    if (devices == 0) {
        std::printf("skipped: no CUDA device (%s)\n", reason);
        return 77;
    }
    std::printf("%d CUDA device(s)\n", devices);
    int failed = 0;
    const int sizes[] = {1, 1000, 1 << 20};
    for (int n : sizes) {
        const int rc = selftest(n, reason, sizeof reason);
        std::printf("%s: axpy n=%d: %s\n", rc == 0 ? "ok" : "FAIL", n, reason);
        failed += rc != 0;
    }
    // A bad argument is refused, not run.
    if (selftest(0, reason, sizeof reason) != -1) {
        std::printf("FAIL: n=0 was not refused\n");
        ++failed;
    }
    return failed == 0 ? 0 : 1;
}
