// What the end-to-end tests of the kiln-* tools share: the real Fashion-MNIST they run on (and a
// printed reason when it is missing), reading a file back, the shell command that starts a built
// tool — through KILN_EXE_WRAPPER (qemu) in a cross build —, running one (run_tool: the suite
// defines KILN_TOOLS_DIR) and a tiny TinyVGG run to use the tools on.
#pragma once
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "temp_dir.h"

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

struct ToolRun {
    int status = -1;
    std::string out, err;
};

// Runs build/tools/<tool> with `args`, stdout and stderr into files, and logs the command and both.
inline ToolRun run_tool(const std::string& tool, const std::vector<std::string>& args) {
    const std::string exe = std::string(KILN_TOOLS_DIR) + "/" + tool;
    BOOST_REQUIRE_MESSAGE(std::filesystem::exists(exe), exe << " is not built");
    static TempDir logs;
    std::string cmd = tool_command(exe, args);
    BOOST_TEST_MESSAGE(cmd);
    cmd += " >" + logs / "out" + " 2>" + logs / "err";
    const int st = std::system(cmd.c_str());
    ToolRun r;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = read_text(logs / "out"), r.err = read_text(logs / "err");
    BOOST_TEST_MESSAGE("→ " << r.status << "\n" << r.out << r.err);
    return r;
}

// Two TinyVGG epochs (Adam) on `samples` Fashion-MNIST training images: a run directory made once
// per process.
inline const std::string& tiny_tinyvgg_run(int samples) {
    static TempDir dir;
    static const std::string path = dir / "run";
    if (!std::filesystem::exists(path + "/best.safetensors"))
        BOOST_REQUIRE_EQUAL(run_tool("kiln-train", {"--data", "idx:" + fmnist, "--limit", std::to_string(samples), "--model", "tinyvgg",
                                                    "--epochs", "2", "--threads", "2", "--optimizer", "adam", "--lr", "0.003", "--out", path})
                                .status,
                            0);
    return path;
}

// A TinyVGG to trust: two epochs (Adam) on all 60,000 Fashion-MNIST training images, ≈ 87 %
// accurate (about 15 s on 2 cores); a run directory made once per process.
inline const std::string& fashion_tinyvgg_run() {
    static TempDir dir;
    static const std::string path = dir / "run";
    if (!std::filesystem::exists(path + "/best.safetensors"))
        BOOST_REQUIRE_EQUAL(run_tool("kiln-train", {"--data", "idx:" + fmnist, "--model", "tinyvgg", "--epochs", "2", "--threads", "2",
                                                    "--optimizer", "adam", "--lr", "0.003", "--out", path})
                                .status,
                            0);
    return path;
}

}  // namespace kiln::testing
