// The micro runtime's checks of a program (kiln/micro/micro.h, format.h): a device loads the bytes
// of a program from flash, a file or a link, and kiln_micro_describe and kiln_micro_init must
// refuse anything that is not a whole, consistent program with a status, never read outside it.
//
// An input is one flag byte, then the program:
//   flag bit 0 (reseal): the target first clamps the header's total_bytes to the program's size and
//     recomputes its CRC-32 over [sizeof(Header), total_bytes), as kiln-export writes it. Random
//     mutation almost never gets past the checksum, so without this the fuzzer would see only the
//     header checks before it; with it, a mutated body reaches every structural check behind it.
//   flag bit 0 clear: the bytes as given (the checksum, truncation and header checks themselves).
//   The other bits are ignored. The seeds (fuzz-make-seeds) hold both kinds.
// The program is copied into its own heap block of exactly its size (malloc's 16-byte alignment
// meets the format's 8), so ASan sees a read one byte past it. When describe says OK, the target
// checks what it reports and calls kiln_micro_init with an arena (and a training program's state
// region) of exactly the size it asks for, up to 1 MiB each (a larger one is legal and skipped),
// after a refused init with one byte less. It then calls the accessors that read only what the
// checks vouched for (class names, state entries, the input, output and labels, set_pixels) and
// checks that each stays inside the program, the arena or the state region.
// It never runs a kernel (kiln_micro_infer, kiln_micro_train_step): the runtime trusts the shapes
// and attributes of a program whose checksum is right: check() bounds each tensor by its own
// shape against its region, but does not match the shapes of a step's operands against each other
// or against its op, so a resealed, mutated program can make a kernel read or write past a tensor
// by design, which is no finding.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fuzz.h"
#include "kiln/micro/format.h"
#include "kiln/micro/micro.h"

namespace {

namespace micro = kiln::micro;

constexpr size_t region_cap = size_t(1) << 20;  // the largest arena or state region the target gives
constexpr uint8_t fill = 0xA5;                   // what the caller's memory holds before init

// Heap memory of exactly `bytes` (at least one byte, so that it is never NULL), filled with `fill`.
struct Block {
    unsigned char* p;
    size_t bytes;
    explicit Block(size_t n) : p(static_cast<unsigned char*>(std::malloc(n ? n : 1))), bytes(n) {
        if (!p) std::abort();
        std::memset(p, fill, n ? n : 1);
    }
    ~Block() { std::free(p); }
    Block(const Block&) = delete;
    Block& operator=(const Block&) = delete;
    bool untouched() const {
        for (size_t i = 0; i < bytes; ++i)
            if (p[i] != fill) return false;
        return true;
    }
};

// [at, at + bytes) lies inside [base, base + size).
bool inside(const void* at, uint64_t bytes, const void* base, size_t size) {
    const auto a = reinterpret_cast<uintptr_t>(at), b = reinterpret_cast<uintptr_t>(base);
    return a >= b && a - b <= size && bytes <= size - (a - b);
}

// A NUL-terminated string that lies inside the program.
bool string_inside(const char* s, const Block& program) {
    if (!inside(s, 1, program.p, program.bytes)) return false;
    const size_t left = program.bytes - size_t(reinterpret_cast<const unsigned char*>(s) - program.p);
    return std::memchr(s, 0, left) != nullptr;
}

void reseal(Block& program) {
    if (program.bytes < sizeof(micro::Header)) return;
    micro::Header h;
    std::memcpy(&h, program.p, sizeof h);
    if (h.total_bytes > program.bytes) h.total_bytes = uint32_t(program.bytes);
    if (h.total_bytes >= sizeof(micro::Header))
        h.checksum = micro::crc32(program.p + sizeof h, h.total_bytes - sizeof h);
    std::memcpy(program.p, &h, sizeof h);
}

// What an initialized model offers, without running a kernel.
void read_model(kiln_micro_model& m, const kiln_micro_info& info, const Block& program, const Block& arena,
                const Block* state) {
    const micro::Header& h = *reinterpret_cast<const micro::Header*>(program.p);
    FUZZ_EXPECT(m.program == program.p && m.arena == arena.p && m.step == 0);
    // Where the named state lives: the caller's region (training) or the program's state image.
    const void* state_base = state ? static_cast<const void*>(state->p) : m.state;
    const size_t state_size = state ? state->bytes : h.state_bytes;
    if (!state) FUZZ_EXPECT(inside(m.state, h.state_bytes, program.p, program.bytes));

    // Class names: the first 64 and the last (each call walks the names before it).
    for (uint32_t c = 0; c < info.classes; ++c) {
        if (c == 64) c = info.classes - 1;
        const char* name = kiln_micro_class_name(&m, c);
        FUZZ_EXPECT(name && string_inside(name, program));
    }
    FUZZ_EXPECT(kiln_micro_class_name(&m, info.classes) == nullptr);

    const uint32_t n_state = kiln_micro_state_count(&m);
    for (uint32_t i = 0; i < n_state; ++i) {
        kiln_micro_tensor t;
        FUZZ_EXPECT(kiln_micro_state_at(&m, i, &t) == KILN_MICRO_OK);
        FUZZ_EXPECT(string_inside(t.name, program) && t.kind >= 0 && t.kind <= 2 && t.rank <= 6);
        FUZZ_EXPECT(inside(t.data, t.bytes, state_base, state_size));
    }
    kiln_micro_tensor past;
    FUZZ_EXPECT(kiln_micro_state_at(&m, n_state, &past) == KILN_MICRO_OUT_OF_RANGE);

    uint64_t input_numel = 1;
    for (uint32_t d = 0; d < info.input_rank; ++d) input_numel *= uint64_t(info.input_dims[d]);
    FUZZ_EXPECT(inside(kiln_micro_input(&m), input_numel * sizeof(float), arena.p, arena.bytes));
    FUZZ_EXPECT(inside(kiln_micro_output(&m), uint64_t(info.batch) * info.classes * sizeof(float), arena.p, arena.bytes));
    if (int64_t* labels = kiln_micro_labels(&m)) FUZZ_EXPECT(inside(labels, uint64_t(info.batch) * 8, arena.p, arena.bytes));
    else FUZZ_EXPECT(!info.trains);

    // The last sample from u8 pixels, as many as one sample of the input has (H×W×C); writes the arena.
    if (info.input_rank == 4 && info.input_dims[1] <= 4) {
        std::vector<uint8_t> pixels(size_t(input_numel / info.batch), 0x7F);
        FUZZ_EXPECT(kiln_micro_set_pixels(&m, info.batch - 1, pixels.data()) == KILN_MICRO_OK);
    }
    FUZZ_EXPECT(kiln_micro_set_pixels(&m, info.batch, nullptr) == KILN_MICRO_OUT_OF_RANGE);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t flags = data[0];
    Block program(size - 1);
    if (size > 1) std::memcpy(program.p, data + 1, size - 1);
    if (flags & 1) reseal(program);

    kiln_micro_info info;
    const kiln_micro_status s = kiln_micro_describe(program.p, program.bytes, &info);
    FUZZ_EXPECT(s >= KILN_MICRO_OK && s <= KILN_MICRO_OUT_OF_RANGE && kiln_micro_status_message(s));
    if (s != KILN_MICRO_OK) return 0;

    FUZZ_EXPECT(info.batch > 0 && info.classes > 0 && info.input_rank >= 1 && info.input_rank <= 6);
    FUZZ_EXPECT(info.input_dims[0] == int32_t(info.batch) && string_inside(info.model_name, program));
    FUZZ_EXPECT(info.trains || info.state_bytes == 0);
    if (info.arena_bytes > region_cap || info.state_bytes > region_cap) return 0;

    Block arena(info.arena_bytes);
    kiln_micro_model m;
    std::memset(&m, 0, sizeof m);
    if (info.arena_bytes > 0) {  // one byte short: refused before anything is written
        FUZZ_EXPECT(kiln_micro_init(&m, program.p, program.bytes, arena.p, info.arena_bytes - 1, nullptr, 0) ==
                    KILN_MICRO_ARENA_TOO_SMALL);
        FUZZ_EXPECT(arena.untouched() && m.program == nullptr);
    }
    if (!info.trains) {
        FUZZ_EXPECT(kiln_micro_init(&m, program.p, program.bytes, arena.p, arena.bytes, nullptr, 0) == KILN_MICRO_OK);
        read_model(m, info, program, arena, nullptr);
        return 0;
    }
    Block state(info.state_bytes);
    if (info.state_bytes > 0) {
        FUZZ_EXPECT(kiln_micro_init(&m, program.p, program.bytes, arena.p, arena.bytes, state.p, info.state_bytes - 1) ==
                    KILN_MICRO_STATE_TOO_SMALL);
        FUZZ_EXPECT(arena.untouched() && state.untouched() && m.program == nullptr);
    }
    FUZZ_EXPECT(kiln_micro_init(&m, program.p, program.bytes, arena.p, arena.bytes, state.p, state.bytes) == KILN_MICRO_OK);
    read_model(m, info, program, arena, &state);
    return 0;
}
