// Firmware: kernel_check.h's network on the board, compared with the build machine's result
// (expected.h). Prints each probability, the largest relative difference and the stack used; exits
// 0 when every probability is within 1e-5 (relative) of the host's — the libraries' exp and the
// compilers' fused multiply-adds may differ in the last bits.
#include <cmath>
#include <cstdio>

#include "board.h"
#include "expected.h"
#include "kernel_check.h"

int main() {
    static kernel_check::Buffers m;
    kernel_check::run(m);
    double worst = 0;
    for (int c = 0; c < kernel_check::classes; ++c) {
        const double diff = std::fabs(double(m.probs[c]) - double(expected_probs[c])) / double(expected_probs[c]);
        if (!(diff <= worst)) worst = diff;  // NaN counts as the worst
        std::printf("class %d: %.9g (host %.9g)\n", c, double(m.probs[c]), double(expected_probs[c]));
    }
    std::printf("result: worst_relative_difference=%.3g stack_bytes=%u\n", worst, unsigned(board::stack_high_water_bytes()));
    return worst <= 1e-5 ? 0 : 1;
}
