// The smallest inference program: TinyVGG's weights from a safetensors file (a kiln-train run's
// best.safetensors), one 28×28 grey image as a binary PGM, the class and its probability.
// It uses only kiln-inference (`pkg-config --cflags --libs kiln-inference`: the engine, the model
// builders and safetensors) — no image codecs, datasets or training — and is linked statically
// against it, so its size is what an inference-only program of kiln costs (bench/sizes.sh).
//
//   build/examples/classify runs/main/best.safetensors boot.pgm   → "result: class=9 p=0.9720"
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <fstream>
#include <string>
#include <vector>

#include "kiln/io/checkpoint.h"
#include "kiln/nn/models.h"
#include "kiln/runtime/program.h"

namespace {

// A binary PGM ("P5 28 28 255" and 784 bytes) → [1, 1, 28, 28] floats in [0, 1], as to_tensor.
std::vector<float> read_pgm(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string magic;
    int width = 0, height = 0, maxval = 0;
    in >> magic >> width >> height >> maxval;
    in.get();  // the one whitespace byte before the pixels
    if (!in || magic != "P5" || width != 28 || height != 28 || maxval != 255)
        throw std::runtime_error(path + ": expected a binary PGM of 28x28 pixels with maxval 255");
    std::vector<unsigned char> pixels(28 * 28);
    if (!in.read(reinterpret_cast<char*>(pixels.data()), std::streamsize(pixels.size())))
        throw std::runtime_error(path + ": the pixels are cut short");
    std::vector<float> x(pixels.size());
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(pixels[i]) / 255.0f;
    return x;
}

}  // namespace

int main(int argc, char** argv) {
    const bool help = argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h");
    if (argc != 3) {
        std::fprintf(help ? stdout : stderr,
                     "usage: classify WEIGHTS.safetensors IMAGE.pgm\n"
                     "  TinyVGG's class of a 28×28 binary PGM (maxval 255) with the weights of a kiln-train run\n");
        return help ? 0 : 2;
    }
    try {
        kiln::Graph g;
        const kiln::Value x = g.input("x", {1, 1, 28, 28});
        const kiln::Value logits = kiln::nn::tinyvgg(g, x);
        kiln::CompileOptions options;
        options.outputs = {logits};
        options.backend_options.threads = 1;
        auto program = kiln::compile(g, options);
        kiln::io::load_state(*program, argv[1]);

        const std::vector<float> image = read_pgm(argv[2]);
        program->write_input(x, image.data(), 1);
        program->forward(1);
        const std::vector<float> z = program->read(logits);
        size_t best = 0;
        double sum = 0;
        for (size_t c = 0; c < z.size(); ++c) {
            if (z[c] > z[best]) best = c;
        }
        for (float v : z) sum += std::exp(double(v) - double(z[best]));
        std::printf("result: class=%zu p=%.4f\n", best, 1.0 / sum);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "classify: %s\n", e.what());
        return 1;
    }
}
