// The micro runtime (kiln/micro/micro.h) against Program: an exported program computes bit for bit
// what the Program it came from computes with the same reference kernels — inference, and training
// steps with the weights they leave; and it refuses what it must refuse before touching the
// caller's memory. On a NEON target (the aarch64 tests under qemu) an inference program's conv2d
// is the direct convolution, which sums in float where the reference sums in double: there its
// values agree to 1e-5 of max(1, |x|). Training programs run the reference kernels everywhere.
#define BOOST_TEST_MODULE micro
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "error_of.h"
#include "kiln/micro/format.h"
#include "kiln/micro/micro.h"
#include "kiln/nn/layers.h"
#include "kiln/runtime/export.h"
#include "kiln/runtime/program.h"

using namespace kiln;

namespace {

constexpr int64_t batch = 2, classes = 3;

bool same_bits(float got, float want) { return std::memcmp(&got, &want, sizeof got) == 0; }
#if defined(__ARM_NEON)
bool inference_agrees(float got, float want) { return std::fabs(got - want) <= 1e-5f * std::max(1.0f, std::fabs(want)); }
#else
bool inference_agrees(float got, float want) { return same_bits(got, want); }
#endif

// conv → batch norm → relu → max pool → linear: every kind of state (parameters, f32 and i64
// buffers) and the ops of the course's convolutional models.
struct SmallNet {
    Graph g{7};
    Value x, y, logits, loss;
    explicit SmallNet(bool train) {
        x = g.input("x", {batch, 2, 6, 6});
        Value h = nn::conv2d(g, "conv", x, 4, {.kernel = 3, .padding = 1});
        h = g.relu(nn::batch_norm(g, "bn", h));
        h = g.flatten(nn::max_pool2d(g, h, 2));
        logits = nn::linear(g, "fc", h, classes);
        if (train) {
            y = g.input("y", {batch}, DType::i64);
            loss = g.cross_entropy(logits, y);
        }
    }
    std::unique_ptr<Program> compile(bool train, float momentum = 0.9f) {
        CompileOptions o;
        o.outputs = {logits};
        o.backend_options.reference = true;
        o.backend_options.threads = 1;
        if (train) {
            o.loss = loss;
            o.optimizer = SGD{.lr = 0.05f, .momentum = momentum};
        }
        return kiln::compile(g, o);
    }
    ExportOptions export_options() const {
        ExportOptions e;
        e.input = x;
        e.output = logits;
        e.labels = y;
        e.model_name = "small";
        e.class_names = {"zero", "one", "two \"quoted\""};
        e.mean = {0.5f, 0.25f};
        e.std = {0.5f, 2.0f};
        return e;
    }
};

std::vector<float> input_values(int seed) {
    std::vector<float> v(size_t(batch * 2 * 6 * 6));
    for (size_t i = 0; i < v.size(); ++i) v[i] = float((int(i) * 37 + seed * 11) % 29) / 29.0f - 0.4f;
    return v;
}

// Memory as a device would give it: 8-byte aligned, filled with a pattern to see what is written.
struct Memory {
    std::vector<uint64_t> words;
    explicit Memory(size_t bytes) : words((bytes + 7) / 8, 0xA5A5A5A5A5A5A5A5ull) {}
    void* data() { return words.data(); }
    size_t bytes() const { return words.size() * 8; }
    bool untouched() const {
        for (uint64_t w : words)
            if (w != 0xA5A5A5A5A5A5A5A5ull) return false;
        return true;
    }
};

// The program's bytes in 8-byte aligned memory, as a firmware's const array or a loaded file.
struct ProgramBytes {
    std::vector<uint64_t> words;
    size_t size;
    explicit ProgramBytes(const std::vector<uint8_t>& b) : words((b.size() + 7) / 8), size(b.size()) {
        std::memcpy(words.data(), b.data(), b.size());
    }
    uint8_t* data() { return reinterpret_cast<uint8_t*>(words.data()); }
    micro::Header& header() { return *reinterpret_cast<micro::Header*>(words.data()); }
    // Recomputes the checksum after a test changed the body.
    void seal() { header().checksum = micro::crc32(data() + sizeof(micro::Header), header().total_bytes - sizeof(micro::Header)); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(inference_is_bit_identical_to_the_program) {
    SmallNet net(false);
    auto prog = net.compile(false);
    ProgramBytes p(export_program(*prog, net.export_options()));

    kiln_micro_info info;
    BOOST_REQUIRE_EQUAL(kiln_micro_describe(p.data(), p.size, &info), KILN_MICRO_OK);
    BOOST_TEST(info.arena_bytes == prog->arena_bytes());
    BOOST_TEST(info.lower_bound == prog->memory_plan().lower_bound);
    BOOST_TEST(info.state_bytes == 0u);  // an inference program reads its weights in place
    BOOST_TEST(info.batch == uint32_t(batch));
    BOOST_TEST(info.classes == uint32_t(classes));
    BOOST_TEST(info.input_rank == 4u);
    BOOST_TEST(info.input_dims[1] == 2);
    BOOST_TEST(std::string(info.model_name) == "small");
    BOOST_TEST(!info.trains);

    Memory arena(info.arena_bytes);
    kiln_micro_model m;
    BOOST_REQUIRE_EQUAL(kiln_micro_init(&m, p.data(), p.size, arena.data(), arena.bytes(), nullptr, 0), KILN_MICRO_OK);
    BOOST_TEST(std::string(kiln_micro_class_name(&m, 2)) == "two \"quoted\"");
    BOOST_TEST(kiln_micro_class_name(&m, 3) == nullptr);
    for (int call = 0; call < 2; ++call) {
        const std::vector<float> x = input_values(call);
        prog->write_input(net.x, x.data(), batch);
        prog->forward(batch);
        std::memcpy(kiln_micro_input(&m), x.data(), x.size() * sizeof(float));
        BOOST_REQUIRE_EQUAL(kiln_micro_infer(&m), KILN_MICRO_OK);
        const std::vector<float> want = prog->read(net.logits);
        const float* got = kiln_micro_output(&m);
        for (size_t i = 0; i < want.size(); ++i)
            BOOST_TEST(inference_agrees(got[i], want[i]), "logit " << i << ": " << got[i] << " vs " << want[i]);
    }
    BOOST_TEST(kiln_micro_train_step(&m, nullptr) == KILN_MICRO_CANNOT_TRAIN);
}

BOOST_AUTO_TEST_CASE(training_steps_leave_the_programs_weights) {
    SmallNet net(true);
    auto prog = net.compile(true);
    ProgramBytes p(export_program(*prog, net.export_options()));
    kiln_micro_info info;
    BOOST_REQUIRE_EQUAL(kiln_micro_describe(p.data(), p.size, &info), KILN_MICRO_OK);
    BOOST_TEST(info.trains);
    BOOST_TEST(info.state_bytes == prog->persistent_bytes());

    Memory arena(info.arena_bytes), state(info.state_bytes);
    kiln_micro_model m;
    BOOST_TEST(kiln_micro_init(&m, p.data(), p.size, arena.data(), arena.bytes(), nullptr, 0) == KILN_MICRO_STATE_TOO_SMALL);
    BOOST_TEST(kiln_micro_init(&m, p.data(), p.size, arena.data(), arena.bytes(), state.data(), info.state_bytes - 1) ==
               KILN_MICRO_STATE_TOO_SMALL);
    BOOST_REQUIRE_EQUAL(kiln_micro_init(&m, p.data(), p.size, arena.data(), arena.bytes(), state.data(), state.bytes()), KILN_MICRO_OK);
    BOOST_TEST(m.lr == 0.05f);

    const int64_t labels[batch] = {2, 0};
    for (int step = 0; step < 4; ++step) {
        const std::vector<float> x = input_values(step);
        prog->write_input(net.x, x.data(), batch);
        prog->write_input(net.y, labels, batch);
        const float want = prog->train_step(batch);
        std::memcpy(kiln_micro_input(&m), x.data(), x.size() * sizeof(float));
        std::memcpy(kiln_micro_labels(&m), labels, sizeof labels);
        float got = 0;
        BOOST_REQUIRE_EQUAL(kiln_micro_train_step(&m, &got), KILN_MICRO_OK);
        BOOST_TEST(same_bits(got, want), "loss of step " << step << ": " << got << " vs " << want);
    }
    BOOST_TEST(m.step == 4);

    // Every named state entry (weights, running statistics, momentum) equals the program's.
    BOOST_TEST(kiln_micro_state_count(&m) == prog->state().size());
    for (uint32_t i = 0; i < kiln_micro_state_count(&m); ++i) {
        kiln_micro_tensor t;
        BOOST_REQUIRE_EQUAL(kiln_micro_state_at(&m, i, &t), KILN_MICRO_OK);
        const StateEntry* e = prog->find_state(t.name);
        BOOST_REQUIRE_MESSAGE(e, t.name);
        BOOST_TEST(t.bytes == e->bytes);
        BOOST_TEST(t.dtype == int(e->dtype));
        BOOST_TEST(t.kind == int(e->kind));
        std::vector<uint8_t> want(e->bytes);
        prog->read_state(*e, want.data());
        BOOST_TEST(std::memcmp(t.data, want.data(), want.size()) == 0, t.name);
    }
    kiln_micro_tensor t;
    BOOST_TEST(kiln_micro_state_at(&m, kiln_micro_state_count(&m), &t) == KILN_MICRO_OUT_OF_RANGE);

    kiln_micro_labels(&m)[1] = classes;  // one past the classes: refused before any kernel runs
    BOOST_TEST(kiln_micro_train_step(&m, nullptr) == KILN_MICRO_BAD_LABEL);
    BOOST_TEST(m.step == 4);

    // Inference with the trained weights stops at the logits: the labels are not read.
    const std::vector<float> x = input_values(9);
    prog->write_input(net.x, x.data(), batch);
    prog->write_input(net.y, labels, batch);
    prog->forward(batch);
    std::memcpy(kiln_micro_input(&m), x.data(), x.size() * sizeof(float));
    BOOST_REQUIRE_EQUAL(kiln_micro_infer(&m), KILN_MICRO_OK);
    const std::vector<float> want = prog->read(net.logits);
    for (size_t i = 0; i < want.size(); ++i) BOOST_TEST(same_bits(kiln_micro_output(&m)[i], want[i]), "logit " << i);
}

BOOST_AUTO_TEST_CASE(pixels_become_the_input_as_the_eval_transforms_make_them) {
    SmallNet net(false);
    auto prog = net.compile(false);
    ProgramBytes p(export_program(*prog, net.export_options()));
    Memory arena(prog->arena_bytes());
    kiln_micro_model m;
    BOOST_REQUIRE_EQUAL(kiln_micro_init(&m, p.data(), p.size, arena.data(), arena.bytes(), nullptr, 0), KILN_MICRO_OK);
    std::vector<uint8_t> hwc(6 * 6 * 2);
    for (size_t i = 0; i < hwc.size(); ++i) hwc[i] = uint8_t(i * 7);
    BOOST_REQUIRE_EQUAL(kiln_micro_set_pixels(&m, 1, hwc.data()), KILN_MICRO_OK);
    const float* x = kiln_micro_input(&m) + 2 * 36;  // sample 1
    const float mean[2] = {0.5f, 0.25f}, stdev[2] = {0.5f, 2.0f};
    for (int c = 0; c < 2; ++c)
        for (int i = 0; i < 36; ++i) BOOST_TEST(x[c * 36 + i] == (float(hwc[size_t(i * 2 + c)]) / 255.0f - mean[c]) / stdev[c]);
    BOOST_TEST(kiln_micro_set_pixels(&m, uint32_t(batch), hwc.data()) == KILN_MICRO_OUT_OF_RANGE);
}

BOOST_AUTO_TEST_CASE(refuses_a_bad_program_or_arena_before_touching_memory) {
    SmallNet net(false);
    auto prog = net.compile(false);
    const std::vector<uint8_t> good = export_program(*prog, net.export_options());
    Memory arena(prog->arena_bytes());
    kiln_micro_model m;
    auto init = [&](ProgramBytes& p, size_t size, void* at, size_t bytes) { return kiln_micro_init(&m, p.data(), size, at, bytes, nullptr, 0); };
    auto expect = [&](kiln_micro_status want, auto change, size_t size_cut = 0, size_t arena_cut = 0) {
        ProgramBytes p(good);
        change(p);
        BOOST_TEST(init(p, p.size - size_cut, arena.data(), arena.bytes() - arena_cut) == want, kiln_micro_status_message(want));
        BOOST_TEST(arena.untouched());
    };
    auto nothing = [](ProgramBytes&) {};
    expect(KILN_MICRO_VERSION, [](ProgramBytes& p) { p.header().version = micro::format_version + 1; });
    expect(KILN_MICRO_OP_TABLE, [](ProgramBytes& p) { p.header().op_table ^= 1; });
    expect(KILN_MICRO_NOT_A_PROGRAM, [](ProgramBytes& p) { p.data()[0] = 'X'; });
    expect(KILN_MICRO_TRUNCATED, nothing, 1);
    expect(KILN_MICRO_TRUNCATED, nothing, good.size() - 20);  // not even a header
    expect(KILN_MICRO_CORRUPT, [](ProgramBytes& p) { p.data()[p.size - 1] ^= 0x40; });  // a weight's bit
    expect(KILN_MICRO_CORRUPT, [](ProgramBytes& p) {  // a step's input past the tensors, checksum intact
        auto* steps = reinterpret_cast<micro::StepRecord*>(p.data() + p.header().steps.offset);
        steps[0].in[0] = 100000;
        p.seal();
    });
    expect(KILN_MICRO_CORRUPT, [](ProgramBytes& p) {  // a tensor past the arena
        auto* tensors = reinterpret_cast<micro::TensorRecord*>(p.data() + p.header().tensors.offset);
        tensors[0].offset = p.header().arena_bytes;
        p.seal();
    });
    expect(KILN_MICRO_ARENA_TOO_SMALL, nothing, 0, 8);
    ProgramBytes p(good);
    BOOST_TEST(init(p, p.size, static_cast<char*>(arena.data()) + 4, arena.bytes() - 8) == KILN_MICRO_MISALIGNED);
    BOOST_TEST(kiln_micro_init(&m, p.data() + 8, p.size - 8, arena.data(), arena.bytes(), nullptr, 0) == KILN_MICRO_NOT_A_PROGRAM);
    BOOST_TEST(arena.untouched());
    BOOST_TEST(std::string(kiln_micro_status_message(KILN_MICRO_VERSION)) ==
               "the program was written for another kiln program format version");
}

BOOST_AUTO_TEST_CASE(c_source_holds_the_same_bytes_and_constants) {
    SmallNet net(false);
    auto prog = net.compile(false);
    const std::vector<uint8_t> bytes = export_program(*prog, net.export_options());
    const CSource c = program_c_source(bytes, "small_net");
    BOOST_TEST(c.header.find("#define SMALL_NET_ARENA_BYTES " + std::to_string(prog->arena_bytes()) + "u") != std::string::npos);
    BOOST_TEST(c.header.find("#define SMALL_NET_PROGRAM_BYTES " + std::to_string(bytes.size()) + "u") != std::string::npos);
    BOOST_TEST(c.header.find("#define SMALL_NET_CLASS_NAMES {\"zero\", \"one\", \"two \\\"quoted\\\"\"}") != std::string::npos);
    BOOST_TEST(c.header.find("#define SMALL_NET_INPUT_SHAPE {2, 2, 6, 6}") != std::string::npos);
    BOOST_TEST(c.header.find("#define SMALL_NET_OUTPUT_SHAPE {2, 3}") != std::string::npos);
    BOOST_TEST(c.header.find("#define SMALL_NET_INPUT_MEAN {0.5f, 0.25f}") != std::string::npos);
    BOOST_TEST(c.source.find("conv2d -> [2, 4, 6, 6]") != std::string::npos);
    // The array's numbers, read back, are the program.
    std::vector<uint8_t> back;
    size_t at = c.source.find("= {\n") + 4;
    while (at < c.source.size() && c.source[at] != '}') {
        if (std::isdigit(static_cast<unsigned char>(c.source[at]))) {
            size_t used = 0;
            back.push_back(uint8_t(std::stoul(c.source.substr(at, 4), &used)));
            at += used;
        } else {
            ++at;
        }
    }
    BOOST_TEST(back == bytes);
    BOOST_TEST(testing::error_of([&] { program_c_source(bytes, "2fast"); }) == "export: '2fast' is not a C identifier");
}

BOOST_AUTO_TEST_CASE(the_same_program_gives_the_same_bytes) {
    // Attribute structs have padding; the exporter writes none of it (micro::store_attrs).
    std::vector<uint8_t> first;
    for (int i = 0; i < 2; ++i) {
        SmallNet net(true);
        auto prog = net.compile(true);
        std::vector<uint8_t> bytes = export_program(*prog, net.export_options());
        if (i == 0) first = std::move(bytes);
        else BOOST_TEST(bytes == first);
    }
}

BOOST_AUTO_TEST_CASE(export_needs_the_reference_plan) {
    SmallNet net(true);
    CompileOptions o;
    o.outputs = {net.logits};
    o.loss = net.loss;
    o.optimizer = SGD{.lr = 0.05f};
    o.backend_options.threads = 1;
    auto fast = compile(net.g, o);
    // The CPU backend's weight gradient (im2col + GEMM) takes scratch the device's kernels do not have.
    BOOST_TEST(testing::error_of([&] { export_program(*fast, net.export_options()); }) ==
               "export: compile with BackendOptions::reference (the device's kernels use no scratch)");
}
