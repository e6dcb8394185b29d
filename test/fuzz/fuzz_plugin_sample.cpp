// A dataset plugin's answers as the DataLoader sees them, with the plugin's side played by the
// fuzzer: the length, classes and sample shape it reports, and for every get() the status, the
// buffer it asks for, the array it says it delivered and the label. Whatever it says, the loader
// must read only what the buffer holds, refuse labels outside the classes, and stop with an
// Error, never crash. The fake plugin itself writes only within the buffer it was given, as the
// ABI requires; what it *claims* is the fuzzer's.
#include <algorithm>

#include "fuzz.h"
#include "kiln/core/error.h"
#include "kiln/data/dataloader.h"
#include "kiln/data/plugin_registry.h"

namespace {

// The current input, read in turn by the plugin's functions (one thread: workers = 0).
kiln::fuzz::Bytes* input = nullptr;

kiln_dataset* open(const char*, char*, size_t) { return reinterpret_cast<kiln_dataset*>(input); }
void close(kiln_dataset*) {}
int64_t length(const kiln_dataset*) { return int64_t(input->byte() % 9) - 1; }            // -1..7
int32_t num_classes(const kiln_dataset*) { return int32_t(input->byte() % 6) - 1; }       // -1..4
const char* class_name(const kiln_dataset*, int32_t) { return "c"; }

void fill_array(kiln_array* a) {
    a->elem = int32_t(input->byte() % 3);  // 2 is no element type
    a->rank = int32_t(input->byte() % 7) - 1;
    for (int64_t& d : a->shape) {  // mostly small, sometimes any 64-bit value
        const uint8_t v = input->byte();
        d = v & 0x80 ? input->i64() : int64_t(v % 5);
    }
}

kiln_status sample_shape(const kiln_dataset*, kiln_array* a) {
    fill_array(a);
    return kiln_status(input->byte() % 5);
}

kiln_status get(const kiln_dataset*, int64_t, kiln_array* out, size_t capacity, size_t* needed, int64_t* label, char* err,
                size_t err_size) {
    const kiln_status s = kiln_status(input->byte() % 5);
    const uint8_t ask = input->byte();
    *needed = ask & 0x80 ? size_t(input->i64()) : ask;
    if (capacity > 0) std::memset(out->data, 0x5A, std::min<size_t>(capacity, 64));  // within the buffer, as the ABI says
    void* data = out->data;
    fill_array(out);
    out->data = data;
    const uint8_t l = input->byte();
    *label = l & 0x80 ? input->i64() : int64_t(l % 6) - 1;
    if (s != KILN_OK && err && err_size) std::snprintf(err, err_size, "fake: status %d", int(s));
    return s;
}

const kiln_dataset_api api = {open, close, length, num_classes, class_name, sample_shape, get, nullptr};
const kiln_plugin plugin = {KILN_PLUGIN_ABI_VERSION, "fake", "0", "the fuzzer's plugin", &api, 0, nullptr};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kiln;
    static const data::PluginRegistry& plugins = *[] {
        auto* r = new data::PluginRegistry(std::vector<std::string>{});
        r->add(plugin, "fuzz");
        return r;
    }();
    fuzz::Bytes in(data, size);
    input = &in;
    try {
        data::DataLoaderOptions o;
        o.batch_size = 1 + in.byte() % 3, o.workers = 0;
        o.on_bad_sample = in.byte() & 1 ? data::OnBadSample::skip : data::OnBadSample::stop;
        o.warn = [](const std::string&) {};
        data::DataLoader loader(plugins.open_dataset("fake:"), {}, o);
        const int64_t classes = loader.dataset().num_classes();
        for (int epoch = 0; epoch < 2; ++epoch) {
            loader.set_epoch(epoch);
            while (const data::Batch* b = loader.next())
                for (int64_t i = 0; i < b->size; ++i) FUZZ_EXPECT(classes == 0 || (b->labels[i] >= 0 && b->labels[i] < classes));
        }
    } catch (const Error&) {
    }
    input = nullptr;
    return 0;
}
