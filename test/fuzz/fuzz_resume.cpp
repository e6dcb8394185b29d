// kiln-train --resume's reading of last.safetensors: the file into a compiled program with its
// optimizer state (shapes, dtypes, non-finite values, kiln.step), then the fit loop's state from
// the metadata (kiln.train_state: every counter bounded and consistent). A refused file must
// leave the program as it was.
#include <cstring>

#include "fuzz.h"
#include "kiln/core/error.h"
#include "kiln/io/checkpoint.h"
#include "kiln/train/run_files.h"
#include "resume_program.h"

namespace {

std::vector<uint8_t> all_state(const kiln::Program& p) {
    std::vector<uint8_t> bytes;
    for (const kiln::StateEntry& e : p.state()) {
        const size_t at = bytes.size();
        bytes.resize(at + e.bytes);
        p.read_state(e, bytes.data() + at);
    }
    return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kiln;
    static fuzz::MemFile file("last.safetensors");
    static const std::unique_ptr<Program> program = fuzz::resume_program();
    static const std::vector<uint8_t> initial = all_state(*program);
    const std::string& path = file.hold(data, size);
    io::StateOptions with_optimizer;
    with_optimizer.optimizer = true;
    io::Metadata meta;
    try {
        meta = io::load_state(*program, path, with_optimizer);
        FUZZ_EXPECT(program->step_count() >= 0);
    } catch (const Error&) {
        FUZZ_EXPECT(program->step_count() == 0 && all_state(*program) == initial);
        return 0;
    }
    try {
        train::TrainState state;
        train::restore_state(meta, path, state);
        FUZZ_EXPECT(state.correct <= state.seen && state.best_epoch <= state.epoch);
    } catch (const Error&) {
    }
    // Back to the initial state for the next input (write_state takes exactly its entry's bytes).
    size_t at = 0;
    for (const StateEntry& e : program->state()) program->write_state(e, initial.data() + at), at += e.bytes;
    program->set_step_count(0);
    return 0;
}
