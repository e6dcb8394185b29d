// Saving and restoring a compiled program's persistent state as a safetensors file, with PyTorch's
// state_dict names ("layer_1.weight", "bn.running_mean", ...), so the file loads into PyTorch with
// model.load_state_dict(safetensors.torch.load_file(path)) and back.
//
//   kiln::io::save_state(*prog, "model.safetensors");
//   auto fresh = kiln::compile(g, opt);
//   kiln::io::load_state(*fresh, "model.safetensors");
#pragma once
#include <string>

#include "kiln/runtime/program.h"
#include "kiln/io/safetensors.h"

namespace kiln::io {

struct StateOptions {
    // Also the optimizer state ("<param>.momentum_buffer", ".exp_avg", ".exp_avg_sq") and the
    // step count (metadata "kiln.step"), to resume training exactly. Off: the model alone.
    bool optimizer = false;
    // Loading: a tensor in the file that the program does not have is an error (as PyTorch's
    // strict load_state_dict). Optimizer state in the file is skipped quietly when not loaded.
    bool strict = true;
    // Saving: extra header metadata (e.g. a training run's epoch and settings), beside "format"
    // and "kiln.step", which it must not name.
    Metadata metadata;
};

// Parameters and buffers (and optimizer state, if asked), atomically; metadata "format": "pt".
void save_state(const Program& program, const std::string& path, const StateOptions& options = {});

// Checks every expected tensor is in the file with the program's dtype and shape, and that no f32
// tensor holds NaN or an infinity (an Error naming the tensor: such weights only predict NaN), and
// only then writes them into the program; on any Error the program is unchanged. Returns the
// file's metadata.
Metadata load_state(Program& program, const std::string& path, const StateOptions& options = {});

}  // namespace kiln::io
