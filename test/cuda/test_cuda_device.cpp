// The CUDA backend on a real GPU: the module loads, and — where a GPU is visible — the course's
// models train on it as on the CPU reference, the same seed gives bit-identical runs, and device
// memory errors are reported. Without a GPU it prints why and exits 77 (meson: SKIP); a module
// that fails to load for any other reason fails the test.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cuda/program_runs.h"
#include "kiln/core/error.h"

using namespace kiln;

namespace {
int failures = 0;
void expect(bool ok, const std::string& what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAIL", what.c_str());
    failures += !ok;
}
}  // namespace

int main() {
    // Checked before the device is: a wrong KILN_CUDA_CONV is named, GPU or not.
    ::setenv("KILN_CUDA_CONV", "winograd", 1);
    try {
        make_backend("cuda");
        expect(false, "KILN_CUDA_CONV=winograd is refused");
    } catch (const Error& e) {
        expect(std::string(e.what()).find("KILN_CUDA_CONV is 'winograd' (known: gemm, cudnn)") != std::string::npos,
               std::string("KILN_CUDA_CONV=winograd: ") + e.what());
    }
    ::unsetenv("KILN_CUDA_CONV");
    if (failures) return 1;

    try {
        make_backend("cuda");
    } catch (const Error& e) {
        const std::string msg = e.what();
        if (msg.find("no CUDA device is visible") != std::string::npos) {
            std::printf("skipped: the CUDA backend loaded, but %s\n", msg.c_str());
            return 77;
        }
        std::printf("FAIL: %s\n", msg.c_str());
        return 1;
    }

    for (const auto& mc : kiln::testing::model_cases()) {
        const auto ref = kiln::testing::run_model(mc, "cpu");
        // The backend's own convolutions (im2col + cuBLAS), then cuDNN's.
        for (const char* conv : {"gemm", "cudnn"}) {
            ::setenv("KILN_CUDA_CONV", conv, 1);
            const std::string what = std::string(mc.model) + " (KILN_CUDA_CONV=" + conv + ")";
            const auto got = kiln::testing::run_model(mc, "cuda");
            std::printf("%s on %s", what.c_str(), got.memory_report.c_str());
            bool losses = got.losses.size() == ref.losses.size();
            for (size_t i = 0; losses && i < ref.losses.size(); ++i)
                losses = std::fabs(got.losses[i] - ref.losses[i]) <= 1e-3f * std::fabs(ref.losses[i]);
            expect(losses, what + ": losses within 1e-3 (relative) of the CPU reference");
            const double e = kiln::testing::nmse(got.logits, ref.logits);
            expect(e <= 1e-6, what + ": eval logits NMSE " + std::to_string(e) + " <= 1e-6");
            // As in test_cuda_kernels.cpp: NMSE, or the absolute difference where a gradient is noise.
            std::string off;
            for (size_t k = 0; k < ref.state.size() && k < got.state.size(); ++k) {
                const double n = kiln::testing::nmse(got.state[k], ref.state[k]), d = kiln::testing::max_abs_diff(got.state[k], ref.state[k]);
                if (n > 1e-6 && d > 1e-5) off += " " + got.names[k] + " (NMSE " + std::to_string(n) + ")";
            }
            expect(got.state.size() == ref.state.size() && off.empty(),
                   what + ": state after training within NMSE 1e-6 or 1e-5 absolute of the CPU reference" + off);
            const auto again = kiln::testing::run_model(mc, "cuda");
            expect(again.losses == got.losses && again.logits == got.logits && again.state == got.state,
                   what + ": a second run with the same seed is bit-identical");
        }
    }

    ::unsetenv("KILN_CUDA_CONV");
    auto be = make_backend("cuda");
    try {
        be->allocate(size_t(1) << 50);
        expect(false, "a 1 PiB allocation is refused");
    } catch (const Error& e) {
        expect(std::string(e.what()).find("cannot allocate") != std::string::npos, std::string("a 1 PiB allocation: ") + e.what());
    }
    return failures == 0 ? 0 : 1;
}
