// Dataset plugins that break their side of the ABI, for the tests that check kiln never trusts
// what a plugin reports. Built twice (see meson.build):
//   kiln-misbehaving.so   dataset "misbehaving", one misbehaviour chosen by its config:
//     lie         delivers 16 bytes but says the sample is u8 [1000, 1000, 1]
//     shape       declares u8 [4, 4, 1] and delivers u8 [4, 5, 1] (within the buffer)
//     greedy      asks for a buffer of 2^62 bytes
//     rank        delivers an array of rank 7
//     classes=N   reports N classes (default 10);  length=N  reports N samples (default 8)
//     label=L     labels every sample L (default: i % 10)
//   kiln-incomplete.so    (KILN_TEST_INCOMPLETE) the same plugin with no get() function
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kiln/data/plugin.h"

namespace {

struct Behaviour {
    std::string mode;
    int32_t classes = 10;
    int64_t length = 8, label = INT64_MIN;  // INT64_MIN: i % 10
};

kiln_dataset* open(const char* config, char*, size_t) {
    auto* b = new Behaviour;
    std::string s = config ? config : "";
    for (size_t pos = 0; pos <= s.size();) {
        const size_t comma = std::min(s.find(',', pos), s.size());
        const std::string item = s.substr(pos, comma - pos);
        pos = comma + 1;
        const size_t eq = item.find('=');
        const std::string key = item.substr(0, eq);
        const long long value = eq == std::string::npos ? 0 : std::atoll(item.c_str() + eq + 1);
        if (key == "classes") b->classes = int32_t(value);
        else if (key == "length") b->length = value;
        else if (key == "label") b->label = value;
        else b->mode = key;
    }
    return reinterpret_cast<kiln_dataset*>(b);
}

const Behaviour& of(const kiln_dataset* ds) { return *reinterpret_cast<const Behaviour*>(ds); }

kiln_status sample_shape(const kiln_dataset*, kiln_array* a) {
    *a = kiln_array{KILN_U8, 3, {4, 4, 1, 0}, nullptr};
    return KILN_OK;
}

kiln_status get(const kiln_dataset* ds, int64_t i, kiln_array* out, size_t capacity, size_t* needed, int64_t* label,
                char*, size_t) {
    const Behaviour& b = of(ds);
    *label = b.label != INT64_MIN ? b.label : i % 10;
    const bool wide = b.mode == "shape";
    *needed = b.mode == "greedy" ? size_t(1) << 62 : wide ? 20 : 16;
    if (capacity < *needed) return KILN_ERR_CAPACITY;
    std::memset(out->data, int(i), *needed);
    *out = kiln_array{KILN_U8, 3, {4, wide ? 5 : 4, 1, 0}, out->data};
    if (b.mode == "lie") out->shape[0] = out->shape[1] = 1000;
    if (b.mode == "rank") out->rank = 7;
    return KILN_OK;
}

const kiln_dataset_api api = {
    .open = open,
    .close = [](kiln_dataset* ds) { delete reinterpret_cast<Behaviour*>(ds); },
    .length = [](const kiln_dataset* ds) { return of(ds).length; },
    .num_classes = [](const kiln_dataset* ds) { return of(ds).classes; },
    .class_name = [](const kiln_dataset*, int32_t) -> const char* { return "c"; },
    .sample_shape = sample_shape,
#ifdef KILN_TEST_INCOMPLETE
    .get = nullptr,
#else
    .get = get,
#endif
    .notes = nullptr,
};

const kiln_plugin plugin = {
    .abi_version = KILN_PLUGIN_ABI_VERSION,
#ifdef KILN_TEST_INCOMPLETE
    .name = "incomplete",
#else
    .name = "misbehaving",
#endif
    .version = "0.0.1",
    .description = "breaks its side of the plugin ABI on purpose",
    .dataset = &api,
    .n_transforms = 0,
    .transforms = nullptr,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const kiln_plugin* kiln_plugin_entry(void) { return &plugin; }
