// Atomic writes: a text file through io/atomic_file.h and a checkpoint through save_state either
// replace the old file whole or, when they fail midway, leave it as it was.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "kiln/core/error.h"
#include "kiln/runtime/program.h"
#include "kiln/io/atomic_file.h"
#include "kiln/io/checkpoint.h"
#include "kiln/nn/layers.h"
#include "io/small_program.h"
#include "temp_dir.h"

using namespace kiln;
using kiln::testing::small_program;
using kiln::testing::with_optimizer;
namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// The temporary name both atomic writers use; a directory there makes the write fail midway
// (after the target was chosen, before anything replaced it).
std::string blocker(const std::string& path) { return path + ".tmp-" + std::to_string(::getpid()); }

}  // namespace

BOOST_AUTO_TEST_SUITE(atomic_file)

BOOST_AUTO_TEST_CASE(atomic_text_write_replaces_or_leaves_the_old_file) {
    TempDir dir;
    const std::string path = dir / "history.csv";
    io::write_file_atomic(path, "first\n");
    BOOST_TEST(read_text(path) == "first\n");
    io::write_file_atomic(path, "second\n");
    BOOST_TEST(read_text(path) == "second\n");

    fs::create_directory(blocker(path));
    BOOST_CHECK_THROW(io::write_file_atomic(path, "third\n"), Error);
    BOOST_TEST(read_text(path) == "second\n");
    fs::remove(blocker(path));
    try {
        io::write_file_atomic(dir / "missing/history.csv", "x");
        BOOST_FAIL("no error");
    } catch (const Error& e) {
        BOOST_TEST(e.code() == Errc::io);
        BOOST_TEST(std::string(e.what()).find("missing/history.csv") != std::string::npos, e.what());
    }
    int leftovers = 0;
    for (const auto& entry : fs::directory_iterator(dir.path)) leftovers += entry.path().filename() != "history.csv";
    BOOST_TEST(leftovers == 0);
}

BOOST_AUTO_TEST_CASE(a_failed_checkpoint_save_keeps_the_previous_one_loadable) {
    TempDir dir;
    const std::string path = dir / "last.safetensors";
    auto prog = small_program(1);
    io::save_state(*prog, path, with_optimizer);
    const std::string before = read_text(path);
    auto other = small_program(2);
    fs::create_directory(blocker(path));
    BOOST_CHECK_THROW(io::save_state(*other, path, with_optimizer), Error);
    fs::remove(blocker(path));
    BOOST_TEST((read_text(path) == before));
    auto fresh = small_program(3);
    BOOST_CHECK_NO_THROW(io::load_state(*fresh, path, with_optimizer));
}

BOOST_AUTO_TEST_SUITE_END()
