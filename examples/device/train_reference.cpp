// The host's side of the on-device training check (train_check.cpp): the same SGD steps on the
// same images with kiln's Program on the build machine, written as the header the firmware
// compares itself with — the loss of every step and every state entry after the last.
//   train_reference RUN_DIR SAMPLES_DIR STEPS BATCH LR MOMENTUM OUT.h
// SAMPLES_DIR holds embed.py's samples.u8 and labels.u8; step k trains on images
// [k·BATCH, (k+1)·BATCH) modulo their count, converted as ToTensor does (v / 255). The program is
// compiled as kiln-export --train compiles it (cross entropy, SGD, the reference kernels).
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "kiln/io/checkpoint.h"
#include "kiln/nn/model_file.h"
#include "kiln/runtime/program.h"
#include "kiln/train/run_files.h"

namespace {

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) kiln::fail(kiln::Errc::io, path + ": cannot open");
    return {std::istreambuf_iterator<char>(f), {}};
}

}  // namespace

int main(int argc, char** argv) try {
    if (argc != 8) {
        std::fprintf(stderr, "usage: %s RUN_DIR SAMPLES_DIR STEPS BATCH LR MOMENTUM OUT.h\n", argv[0]);
        return 2;
    }
    const kiln::train::RunDir run(argv[1]);
    const std::vector<uint8_t> pixels = read_bytes(std::string(argv[2]) + "/samples.u8");
    const std::vector<uint8_t> labels = read_bytes(std::string(argv[2]) + "/labels.u8");
    const int steps = std::stoi(argv[3]), batch = std::stoi(argv[4]);
    const float lr = std::stof(argv[5]), momentum = std::stof(argv[6]);

    const kiln::nn::ModelSpec spec = kiln::nn::read_model_file(run.model_json());
    if (spec.eval_transforms.find("normalize") != std::string::npos)
        kiln::fail(kiln::Errc::unsupported, run.model_json() + ": the check converts pixels as to_tensor alone does");
    kiln::Graph g(0);
    kiln::Shape xs{batch};
    for (int64_t d : spec.input_shape) xs.push_back(d);
    const kiln::Value x = g.input("x", xs), y = g.input("y", {batch}, kiln::DType::i64);
    const kiln::Value logits = kiln::nn::build_model(g, spec, x, int64_t(spec.class_names.size()));
    kiln::CompileOptions opt;
    opt.loss = g.cross_entropy(logits, y);
    opt.optimizer = kiln::SGD{.lr = lr, .momentum = momentum};
    opt.outputs = {logits};
    opt.backend_options.reference = true;
    opt.backend_options.threads = 1;
    auto program = kiln::compile(g, opt);
    kiln::io::load_state(*program, run.best_safetensors());

    const size_t sample = size_t(xs.numel() / batch), count = labels.size();
    if (count == 0 || pixels.size() != count * sample) kiln::fail(kiln::Errc::format, std::string(argv[2]) + ": samples and labels disagree");
    std::vector<float> xb(size_t(batch) * sample);
    std::vector<int64_t> yb(static_cast<size_t>(batch));
    std::vector<float> losses;
    for (int k = 0; k < steps; ++k) {
        for (int b = 0; b < batch; ++b) {
            const size_t i = (size_t(k) * size_t(batch) + size_t(b)) % count;
            for (size_t j = 0; j < sample; ++j) xb[size_t(b) * sample + j] = float(pixels[i * sample + j]) / 255.0f;
            yb[size_t(b)] = labels[i];
        }
        program->write_input(x, xb.data(), batch);
        program->write_input(y, yb.data(), batch);
        losses.push_back(program->train_step(batch));
    }

    FILE* f = std::fopen(argv[7], "w");
    if (!f) kiln::fail(kiln::Errc::io, std::string(argv[7]) + ": cannot write");
    std::fprintf(f, "// The host's result of %d SGD steps (lr %g, momentum %g, batch %d) from %s, made by train_reference.\n",
                 steps, double(lr), double(momentum), batch, argv[1]);
    std::fprintf(f, "#pragma once\n#define TRAIN_STEPS %d\n#define TRAIN_BATCH %d\nstatic const float expected_losses[] = {", steps, batch);
    for (float l : losses) std::fprintf(f, "%a, ", double(l));
    std::fprintf(f, "};\n");
    std::vector<std::string> entries;
    int n = 0;
    for (const kiln::StateEntry& e : program->state()) {
        if (e.dtype != kiln::DType::f32) continue;
        std::vector<float> v(e.bytes / sizeof(float));
        program->read_state(e, v.data());
        std::fprintf(f, "static const float expected_state_%d[] = {", n);
        for (float w : v) std::fprintf(f, "%a,", double(w));
        std::fprintf(f, "};\n");
        entries.push_back("{\"" + e.name + "\", expected_state_" + std::to_string(n++) + ", " + std::to_string(v.size()) + "}");
    }
    std::fprintf(f, "struct ExpectedTensor {\n    const char* name;\n    const float* data;\n    unsigned count;\n};\n");
    std::fprintf(f, "static const ExpectedTensor expected_state[] = {\n");
    for (const std::string& e : entries) std::fprintf(f, "    %s,\n", e.c_str());
    std::fprintf(f, "};\n");
    return std::fclose(f) == 0 ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "train_reference: %s\n", e.what());
    return 1;
}
