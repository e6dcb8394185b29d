// A Linux board's classifier: loads an exported program (kiln-export's NAME.kprog) at run time
// and prints the three likeliest classes of each image, a binary PGM (grey) or PPM (RGB) of the model's input
// size — a static program over the micro runtime, with no libkiln, libpng or libjpeg.
//   run-program tinyvgg.kprog boot.pgm shirt.pgm
//   run-program tinyvgg.kprog boot.pgm --expect 9      # exit 1 unless the top class is 9
// Exit status: 0 done, 1 error (or --expect not met), 2 usage mistake.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kiln/micro/micro.h"

namespace {

std::vector<uint64_t> read_file(const char* path, size_t& bytes) {  // 8-byte aligned, as the runtime asks
    std::FILE* f = std::fopen(path, "rb");
    if (!f) return {};
    std::vector<uint64_t> words;
    bytes = 0;
    uint8_t chunk[65536];
    for (size_t n; (n = std::fread(chunk, 1, sizeof chunk, f)) > 0; bytes += n) {
        words.resize((bytes + n + 7) / 8);
        std::memcpy(reinterpret_cast<uint8_t*>(words.data()) + bytes, chunk, n);
    }
    std::fclose(f);
    return words;
}

// P5 (grey) or P6 (RGB) with maxval 255: the header's numbers, then the pixels (H×W×C).
bool read_pnm(const char* path, int channels, int height, int width, std::vector<uint8_t>& pixels, std::string& why) {
    std::FILE* f = std::fopen(path, "rb");
    if (!f) return why = "cannot open", false;
    char magic[3] = {};
    int w = 0, h = 0, maxval = 0;
    const bool ok = std::fscanf(f, "%2s %d %d %d", magic, &w, &h, &maxval) == 4 && std::fgetc(f) != EOF;
    const int c = std::strcmp(magic, "P5") == 0 ? 1 : std::strcmp(magic, "P6") == 0 ? 3 : 0;
    if (!ok || c == 0 || maxval != 255) {
        std::fclose(f);
        return why = "not a binary PGM (P5) or PPM (P6) with maxval 255", false;
    }
    if (c != channels || h != height || w != width) {
        std::fclose(f);
        why = "is " + std::to_string(w) + "x" + std::to_string(h) + " with " + std::to_string(c) + " channel(s); the model takes " +
              std::to_string(width) + "x" + std::to_string(height) + " with " + std::to_string(channels);
        return false;
    }
    pixels.resize(size_t(h) * size_t(w) * size_t(c));
    const bool complete = std::fread(pixels.data(), 1, pixels.size(), f) == pixels.size();
    std::fclose(f);
    return complete || (why = "is truncated", false);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s NAME.kprog IMAGE.pgm|ppm... [--expect CLASS]\n", argv[0]);
        return 2;
    }
    int expect = -1;
    std::vector<const char*> images;
    for (int i = 2; i < argc; ++i) {
        if (std::strcmp(argv[i], "--expect") == 0 && i + 1 < argc) expect = std::atoi(argv[++i]);
        else images.push_back(argv[i]);
    }
    size_t size = 0;
    std::vector<uint64_t> program = read_file(argv[1], size);
    if (program.empty()) {
        std::fprintf(stderr, "%s: cannot read\n", argv[1]);
        return 1;
    }
    kiln_micro_info info;
    kiln_micro_status s = kiln_micro_describe(program.data(), size, &info);
    if (s != KILN_MICRO_OK || info.input_rank != 4) {
        std::fprintf(stderr, "%s: %s\n", argv[1], s ? kiln_micro_status_message(s) : "the model's input is not an image");
        return 1;
    }
    std::vector<uint64_t> arena((info.arena_bytes + 7) / 8);  // the exact arena the program asks for
    kiln_micro_model model;
    if ((s = kiln_micro_init(&model, program.data(), size, arena.data(), arena.size() * 8, nullptr, 0)) != KILN_MICRO_OK) {
        std::fprintf(stderr, "%s: %s\n", argv[1], kiln_micro_status_message(s));
        return 1;
    }
    std::printf("%s: %s, arena %u bytes\n", argv[1], info.model_name, info.arena_bytes);
    int status = 0;
    for (const char* image : images) {
        std::vector<uint8_t> pixels;
        std::string why;
        if (!read_pnm(image, info.input_dims[1], info.input_dims[2], info.input_dims[3], pixels, why)) {
            std::fprintf(stderr, "%s: %s\n", image, why.c_str());
            return 1;
        }
        kiln_micro_set_pixels(&model, 0, pixels.data());
        kiln_micro_infer(&model);
        const float* logits = kiln_micro_output(&model);
        std::vector<int> order(info.classes);
        for (uint32_t c = 0; c < info.classes; ++c) order[c] = int(c);
        std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
        double sum = 0;  // softmax, shifted by the largest logit
        for (uint32_t c = 0; c < info.classes; ++c) sum += std::exp(double(logits[c]) - double(logits[order[0]]));
        std::printf("%s:", image);
        for (size_t r = 0; r < 3 && r < order.size(); ++r)
            std::printf("  %s %.1f %%", kiln_micro_class_name(&model, uint32_t(order[r])),
                        100 * std::exp(double(logits[order[r]]) - double(logits[order[0]])) / sum);
        std::printf("\n");
        if (expect >= 0 && order[0] != expect) status = 1;
    }
    return status;
}
