// Runs kernel_check.h on the build machine and writes what the board must reproduce, as a header
// of hex floats (exact): kernel_check_expected DEST.h
#include <cstdio>

#include "kernel_check.h"

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    static kernel_check::Buffers m;
    kernel_check::run(m);
    FILE* f = std::fopen(argv[1], "w");
    if (!f) return 1;
    std::fprintf(f, "// Made by kernel_check_expected on the build machine.\n#pragma once\nconstexpr float expected_probs[] = {");
    for (float p : m.probs) std::fprintf(f, "%a, ", double(p));
    std::fprintf(f, "};\n");
    return std::fclose(f) == 0 ? 0 : 1;
}
