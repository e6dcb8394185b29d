// What the end-to-end tests of the kiln-* tools share: the real Fashion-MNIST they run on (and a
// printed reason when it is missing), reading a file back, and the shell command that starts a
// built tool — through KILN_EXE_WRAPPER (qemu) in a cross build.
#pragma once
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace kiln::testing {

inline const std::string fmnist = "/usr/share/datasets/fashion-mnist";

inline bool have_fashion_mnist() {
    namespace fs = std::filesystem;
    if (fs::exists(fmnist + "/train-images-idx3-ubyte.gz") || fs::exists(fmnist + "/train-images-idx3-ubyte")) return true;
    BOOST_TEST_MESSAGE("skipped: " << fmnist << " is missing (apt install dataset-fashion-mnist)");
    std::printf("skipped: %s is missing (apt install dataset-fashion-mnist)\n", fmnist.c_str());
    return false;
}

inline std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

inline std::string shell_quoted(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// "<wrapper> 'exe' 'arg' …" (built with +=: g++ 12 warns, a false -Wrestrict, on " " + std::string).
inline std::string tool_command(const std::string& exe, const std::vector<std::string>& args) {
    const char* wrapper = std::getenv("KILN_EXE_WRAPPER");  // qemu in a cross build, else empty
    std::string cmd = wrapper ? wrapper : "";
    cmd += ' ';
    cmd += shell_quoted(exe);
    for (const std::string& a : args) {
        cmd += ' ';
        cmd += shell_quoted(a);
    }
    return cmd;
}

}  // namespace kiln::testing
