// The firmware a deployment starts from: one exported program (kiln-export NAME.c, in flash) and
// images embedded beside it (embed.py's samples.h), classified on the board with the micro runtime
// in an arena of exactly NAME_ARENA_BYTES. Prints each image's class and the accuracy; exits 1 when
// the runtime refuses the program. Built by a bare-metal build given -Ddevice_model=DIR/NAME
// (README: "Deploy to a device"), which defines
//   KILN_MODEL=NAME KILN_MODEL_UPPER=NAME in capitals KILN_MODEL_H="NAME.h"
#include <cstdio>

#include KILN_MODEL_H
#include "board.h"
#include "kiln/micro/micro.h"
#include "samples.h"

#define KILN_CAT_(a, b) a##b
#define KILN_CAT(a, b) KILN_CAT_(a, b)

alignas(8) static unsigned char arena[KILN_CAT(KILN_MODEL_UPPER, _ARENA_BYTES)];

int main() {
    static kiln_micro_model model;
    const kiln_micro_status s = kiln_micro_init(&model, KILN_CAT(KILN_MODEL, _program), sizeof KILN_CAT(KILN_MODEL, _program),
                                                arena, sizeof arena, nullptr, 0);
    if (s != KILN_MICRO_OK) {
        std::printf("kiln_micro_init: %s\n", kiln_micro_status_message(s));
        return 1;
    }
    int correct = 0;
    for (int i = 0; i < SAMPLE_COUNT; ++i) {
        kiln_micro_set_pixels(&model, 0, sample_pixels[i]);
        kiln_micro_infer(&model);
        const float* logits = kiln_micro_output(&model);
        uint32_t best = 0;
        for (uint32_t c = 1; c < KILN_CAT(KILN_MODEL_UPPER, _CLASSES); ++c)
            if (logits[c] > logits[best]) best = c;
        correct += best == sample_labels[i];
        std::printf("image %d: %s (label %s)\n", i, kiln_micro_class_name(&model, best), kiln_micro_class_name(&model, sample_labels[i]));
    }
    std::printf("%d of %d right; arena %u bytes, stack %u bytes\n", correct, SAMPLE_COUNT, unsigned(sizeof arena),
                unsigned(board::stack_high_water_bytes()));
    return 0;
}
