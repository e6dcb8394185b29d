// A compiled Program as a deployable program: the micro runtime's format (micro/format.h, run by
// micro/micro.h on a Cortex-M, a Linux board or the host), as bytes for a file and as C source
// whose const array a firmware keeps in flash. kiln-export is the tool around it.
//
//   CompileOptions opt;                      // outputs = {logits}; loss + SGD for a training program
//   opt.backend_options.reference = true;    // the device's kernels: the plan is the device's
//   auto prog = compile(g, opt);  io::load_state(*prog, "best.safetensors");
//   std::vector<uint8_t> bytes = export_program(*prog, {.input = x, .output = logits, ...});
//   CSource c = program_c_source(bytes, "tinyvgg");   // tinyvgg.h, tinyvgg.c
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kiln/runtime/program.h"

namespace kiln {

struct ExportOptions {
    Value input;   // f32 [batch, ...]
    Value output;  // the logits, f32 [batch, classes], listed in CompileOptions::outputs
    Value labels;  // i64 [batch]: the loss's labels (a training program)
    std::string model_name;
    std::vector<std::string> class_names;
    // How u8 pixels become the input (the run's eval transforms): v / pixel_divisor, then
    // (x − mean[c]) / std[c]; empty mean and std: none.
    float pixel_divisor = 255.0f;
    std::vector<float> mean, std;
};

// The program at its compiled batch with its current state (weights, buffers, optimizer state) as
// the initial state. A program that can train exports as a training program (forward, backward,
// optimizer). Error(invalid_argument) when it was not compiled with the reference kernels or an
// option does not fit it; Error(unsupported) past the format's 32-bit sizes.
std::vector<uint8_t> export_program(const Program& program, const ExportOptions& options);

// `symbol`.h (the program's constants as macros, SYMBOL_ARENA_BYTES …, and the array's
// declaration) and `symbol`.c (the bytes as a 16-byte aligned const array, with the schedule in a
// comment). `symbol` must be a C identifier.
struct CSource {
    std::string header, source;
};
CSource program_c_source(std::span<const uint8_t> program, const std::string& symbol);

}  // namespace kiln
