// Dataset spec strings ("<plugin>:<config>") as the tools take them from the command line:
// the registry's parsing and each bundled plugin's configuration (idx, imagefolder, synthetic),
// then one batch through the DataLoader. The plugins are the built shared objects, loaded as the
// tools load them. The run happens in a sandbox folder holding a tiny IDX set and a tiny image
// folder; specs that would reach outside it ('/' or "..") are left out, so the fuzzer never scans
// or opens the machine's files, and so are numbers of more than five digits (a synthetic set of
// 50 million points is legal and only slow).
#include <filesystem>
#include <fstream>

#include "fuzz.h"
#include "kiln/core/error.h"
#include "kiln/data/dataloader.h"
#include "kiln/data/plugin_registry.h"
#include "kiln/image/codec.h"

namespace {

void write(const std::filesystem::path& p, const std::vector<uint8_t>& bytes) {
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// The sandbox: idx files for split=train (3 images of 2×2, labels 0 1 2) and a folder a/b with
// one PNG and one JPEG each, plus a file the image folder leaves out.
void make_sandbox() {
    namespace fs = std::filesystem;
    static const fs::path dir = fs::temp_directory_path() / ("kiln-fuzz-spec-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    fs::current_path(dir);
    std::atexit([] {
        std::error_code ec;
        fs::remove_all(dir, ec);
    });
    write("train-images-idx3-ubyte", {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    write("train-labels-idx1-ubyte", {0, 0, 8, 1, 0, 0, 0, 3, 0, 1, 2});
    const kiln::image::Image img{4, 3, 3, std::vector<uint8_t>(36, 90)};
    for (const char* c : {"folder/a", "folder/b"}) {
        fs::create_directories(c);
        kiln::image::write_png(std::string(c) + "/x.png", kiln::image::view(img));
        kiln::image::write_jpeg(std::string(c) + "/y.jpg", kiln::image::view(img), {90});
    }
    write("folder/a/notes.txt", {'n'});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    make_sandbox();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kiln;
    static const data::PluginRegistry plugins(std::vector<std::string>{KILN_FUZZ_PLUGIN_DIR});
    const std::string spec(reinterpret_cast<const char*>(data), size);
    if (spec.find('/') != std::string::npos || spec.find("..") != std::string::npos || spec.find('\0') != std::string::npos ||
        fuzz::has_long_number(spec, 5))
        return 0;
    try {
        const data::Dataset d = plugins.open_dataset(spec);
        data::DataLoaderOptions o;
        o.batch_size = 2, o.workers = 0;
        data::DataLoader loader(d, {}, o);
        if (const data::Batch* b = loader.next()) FUZZ_EXPECT(b->size >= 1 && b->size <= 2);
    } catch (const Error&) {
    }
    return 0;
}
