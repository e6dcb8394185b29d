// One exported model (kiln-export) on the first Fashion-MNIST test images, on a device: a Cortex-M7
// firmware with the program in flash, or a static Linux program that loads NAME.kprog at run time
// (KILN_PROGRAM_FROM_FILE). Compares every prediction and logit with kiln-infer's on the build
// machine; exits 0 when all predictions are equal and every logit is within
//   |device − host| ≤ 1e-4 · max(1, |host|)
// (the host's CPU backend sums in another order and fuses multiply-adds; this runs the reference
// kernels), or, for an int8 program (KILN_BIT_EXACT), equal to kiln-infer --int8's bit for bit:
// integer sums are exact in any order. Built once per model by meson.build with
//   KILN_MODEL=tinyvgg KILN_MODEL_UPPER=TINYVGG KILN_MODEL_H="tinyvgg.h" KILN_EXPECTED_H="tinyvgg_expected.h"
#include <cmath>
#include <cstdio>

#include KILN_MODEL_H
#include KILN_EXPECTED_H
#include "board.h"
#include "kiln/micro/micro.h"
#include "samples.h"

#define KILN_CAT_(a, b) a##b
#define KILN_CAT(a, b) KILN_CAT_(a, b)
#define MODEL_ARENA_BYTES KILN_CAT(KILN_MODEL_UPPER, _ARENA_BYTES)
#define MODEL_CLASSES KILN_CAT(KILN_MODEL_UPPER, _CLASSES)

// The caller's arena, sized at compile time from the exported header (the TFLM arena, known exactly).
alignas(8) static unsigned char arena[MODEL_ARENA_BYTES];

int main(int argc, char** argv) {
#ifdef KILN_PROGRAM_FROM_FILE
    // A Linux device loads the program's bytes from NAME.kprog.
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s NAME.kprog\n", argv[0]);
        return 2;
    }
    alignas(8) static unsigned char program[KILN_CAT(KILN_MODEL_UPPER, _PROGRAM_BYTES) + 1];
    std::FILE* f = std::fopen(argv[1], "rb");
    if (!f) {
        std::perror(argv[1]);
        return 1;
    }
    const size_t program_bytes = std::fread(program, 1, sizeof program, f);
    std::fclose(f);
#else
    (void)argc, (void)argv;
    const unsigned char* program = KILN_CAT(KILN_MODEL, _program);  // in flash
    const size_t program_bytes = sizeof KILN_CAT(KILN_MODEL, _program);
#endif
    static kiln_micro_model model;
    const kiln_micro_status s = kiln_micro_init(&model, program, program_bytes, arena, sizeof arena, nullptr, 0);
    if (s != KILN_MICRO_OK) {
        std::printf("kiln_micro_init: %s\n", kiln_micro_status_message(s));
        return 1;
    }
    kiln_micro_info info;
    kiln_micro_describe(program, program_bytes, &info);

    int same = 0, correct = 0;
    double worst = 0;
    for (int i = 0; i < SAMPLE_COUNT; ++i) {
        kiln_micro_set_pixels(&model, 0, sample_pixels[i]);
        kiln_micro_infer(&model);
        const float* logits = kiln_micro_output(&model);
        const float* host = KILN_CAT(KILN_MODEL, _expected_logits)[i];
        int predicted = 0;
        for (int c = 0; c < MODEL_CLASSES; ++c) {
            if (logits[c] > logits[predicted]) predicted = c;
            const double diff = std::fabs(double(logits[c]) - double(host[c])) / std::fmax(1.0, std::fabs(double(host[c])));
            if (!(diff <= worst)) worst = diff;  // NaN counts as the worst
        }
        const int host_predicted = KILN_CAT(KILN_MODEL, _expected_predicted)[i];
        same += predicted == host_predicted;
        correct += predicted == sample_labels[i];
        if (predicted != host_predicted)
            std::printf("image %d: predicted %s, the host %s\n", i, kiln_micro_class_name(&model, uint32_t(predicted)),
                        kiln_micro_class_name(&model, uint32_t(host_predicted)));
    }
    std::printf("result: model=%s images=%d predictions_equal=%d accuracy=%d%% worst_logit_difference=%.3g "
                "arena_bytes=%u lower_bound=%u stack_bytes=%u ram_bytes=%u\n",
                info.model_name, SAMPLE_COUNT, same, 100 * correct / SAMPLE_COUNT, worst, unsigned(sizeof arena),
                unsigned(info.lower_bound), unsigned(board::stack_high_water_bytes()),
                unsigned(board::static_ram_bytes() + board::stack_high_water_bytes()));
#ifdef KILN_BIT_EXACT
    const double bound = 0;
#else
    const double bound = 1e-4;
#endif
    return same == SAMPLE_COUNT && worst <= bound ? 0 : 1;
}
