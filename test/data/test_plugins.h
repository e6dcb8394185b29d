// In-process plugins for the data tests, registered with PluginRegistry::add (they speak the same
// C ABI as the shared objects).
//
// dataset "pattern", config "n=<N>,h=<H>,w=<W>,c=<C>" plus optional "bad=<i>:<j>…" (those samples
// fail with KILN_ERR_FORMAT), "io=<i>" (fails with KILN_ERR_IO), "wide=<i>" (one column more),
// "classes=0" (regression: the label is the bit pattern of i / 2.0f), "on_error=skip".
// Sample i is u8 H×W×C with pixel (y, x, ch) = pattern_pixel(i, y, x, ch); its label is i % 10.
// Every sample decoded is counted in pattern_gets.
//
// transforms: "add=<k>" (each byte + k), "seed_byte" (each byte + the seed's low byte),
// "widen" (each pixel twice along x; needs a bigger buffer than its input), "fail" (always fails).
#pragma once
#include <atomic>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>

#include "kiln/data/plugin.h"

namespace test_plugins {

inline std::atomic<int64_t> pattern_gets{0};

inline uint8_t pattern_pixel(int64_t i, int64_t y, int64_t x, int64_t ch) {
    return uint8_t((i * 7 + y * 3 + x + ch * 11) & 255);
}

struct Pattern {
    int64_t n = 10, h = 4, w = 4, c = 1, io = -1, wide = -1;
    bool regression = false;
    std::set<int64_t> bad;
};

inline void put_error(char* err, size_t size, const std::string& m) {
    if (err && size) std::snprintf(err, size, "%s", m.c_str());
}

inline kiln_dataset* pattern_open(const char* config, char* err, size_t err_size) {
    auto* p = new Pattern;
    std::string s = config;
    size_t pos = 0;
    while (pos < s.size()) {
        size_t comma = std::min(s.find(',', pos), s.size());
        std::string item = s.substr(pos, comma - pos);
        pos = comma + 1;
        size_t eq = item.find('=');
        std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
        if (key == "n") p->n = std::stoll(value);
        else if (key == "h") p->h = std::stoll(value);
        else if (key == "w") p->w = std::stoll(value);
        else if (key == "c") p->c = std::stoll(value);
        else if (key == "io") p->io = std::stoll(value);
        else if (key == "wide") p->wide = std::stoll(value);
        else if (key == "classes") p->regression = value == "0";
        else if (key == "bad") {
            for (size_t b = 0; b < value.size();) {
                size_t colon = std::min(value.find(':', b), value.size());
                p->bad.insert(std::stoll(value.substr(b, colon - b)));
                b = colon + 1;
            }
        } else if (key != "on_error") {
            put_error(err, err_size, "pattern: unknown key '" + key + "'");
            delete p;
            return nullptr;
        }
    }
    return reinterpret_cast<kiln_dataset*>(p);
}

inline const Pattern& pattern(const kiln_dataset* ds) { return *reinterpret_cast<const Pattern*>(ds); }

inline const kiln_dataset_api pattern_api = {
    .open = pattern_open,
    .close = [](kiln_dataset* ds) { delete reinterpret_cast<Pattern*>(ds); },
    .length = [](const kiln_dataset* ds) { return pattern(ds).n; },
    .num_classes = [](const kiln_dataset* ds) { return pattern(ds).regression ? 0 : 10; },
    .class_name = [](const kiln_dataset*, int32_t c) -> const char* {
        static const char* const names[] = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"};
        return c >= 0 && c < 10 ? names[c] : nullptr;
    },
    .sample_shape =
        [](const kiln_dataset* ds, kiln_array* a) {
            a->elem = KILN_U8, a->rank = 3;
            // With a wider sample the width varies, as the plugin then declares.
            a->shape[0] = pattern(ds).h, a->shape[1] = pattern(ds).wide >= 0 ? 0 : pattern(ds).w, a->shape[2] = pattern(ds).c;
            return KILN_OK;
        },
    .get = [](const kiln_dataset* ds, int64_t i, kiln_array* out, size_t capacity, size_t* needed, int64_t* label,
              char* err, size_t err_size) {
        const Pattern& p = pattern(ds);
        if (p.bad.count(i)) {
            put_error(err, err_size, "pattern: /data/sample" + std::to_string(i) + ".png: corrupt data");
            return KILN_ERR_FORMAT;
        }
        if (i == p.io) {
            put_error(err, err_size, "pattern: /data/sample" + std::to_string(i) + ".png: cannot open");
            return KILN_ERR_IO;
        }
        const int64_t w = i == p.wide ? p.w + 1 : p.w;
        const size_t bytes = size_t(p.h * w * p.c);
        *needed = bytes;
        if (capacity < bytes) return KILN_ERR_CAPACITY;
        ++pattern_gets;
        out->elem = KILN_U8, out->rank = 3;
        out->shape[0] = p.h, out->shape[1] = w, out->shape[2] = p.c;
        auto* d = static_cast<uint8_t*>(out->data);
        for (int64_t y = 0; y < p.h; ++y)
            for (int64_t x = 0; x < w; ++x)
                for (int64_t ch = 0; ch < p.c; ++ch) *d++ = pattern_pixel(i, y, x, ch);
        if (p.regression) {
            float f = float(i) / 2.0f;
            uint32_t bits;
            std::memcpy(&bits, &f, 4);
            *label = bits;
        } else {
            *label = i % 10;
        }
        return KILN_OK;
    },
};

// ---- transforms ----
struct AddConfig {
    int k;
};

inline kiln_status same_shape_map(const kiln_array* src, kiln_array* dst, size_t capacity, size_t* needed, int add) {
    size_t n = 1;
    for (int i = 0; i < src->rank; ++i) n *= size_t(src->shape[i]);
    *needed = n;
    if (capacity < n) return KILN_ERR_CAPACITY;
    dst->elem = src->elem, dst->rank = src->rank;
    std::memcpy(dst->shape, src->shape, sizeof dst->shape);
    for (size_t i = 0; i < n; ++i)
        static_cast<uint8_t*>(dst->data)[i] = uint8_t(static_cast<const uint8_t*>(src->data)[i] + add);
    return KILN_OK;
}

inline const kiln_transform_api add_api = {
    .name = "add",
    .description = "each byte + k (k=1)",
    .create = [](const char* config, char* err, size_t err_size) -> kiln_transform* {
        int k = 1;
        if (config && *config && std::sscanf(config, "%d", &k) != 1) {
            put_error(err, err_size, std::string("add: '") + config + "' is not a number");
            return nullptr;
        }
        return reinterpret_cast<kiln_transform*>(new AddConfig{k});
    },
    .destroy = [](kiln_transform* t) { delete reinterpret_cast<AddConfig*>(t); },
    .apply = [](const kiln_transform* t, const kiln_array* src, kiln_array* dst, size_t capacity, size_t* needed,
                uint64_t, char*, size_t) {
        return same_shape_map(src, dst, capacity, needed, reinterpret_cast<const AddConfig*>(t)->k);
    },
};

inline kiln_transform* no_config(const char*, char*, size_t) { return reinterpret_cast<kiln_transform*>(new char); }
inline void destroy_no_config(kiln_transform* t) { delete reinterpret_cast<char*>(t); }

inline const kiln_transform_api seed_byte_api = {
    .name = "seed_byte",
    .description = "each byte + the seed's low byte",
    .create = no_config,
    .destroy = destroy_no_config,
    .apply = [](const kiln_transform*, const kiln_array* src, kiln_array* dst, size_t capacity, size_t* needed,
                uint64_t seed, char*, size_t) { return same_shape_map(src, dst, capacity, needed, int(seed & 0xFF)); },
};

inline const kiln_transform_api widen_api = {
    .name = "widen",
    .description = "each pixel twice along x",
    .create = no_config,
    .destroy = destroy_no_config,
    .apply = [](const kiln_transform*, const kiln_array* src, kiln_array* dst, size_t capacity, size_t* needed,
                uint64_t, char*, size_t) {
        const int64_t h = src->shape[0], w = src->shape[1], c = src->shape[2];
        *needed = size_t(h * w * 2 * c);
        if (capacity < *needed) return KILN_ERR_CAPACITY;
        dst->elem = KILN_U8, dst->rank = 3;
        dst->shape[0] = h, dst->shape[1] = 2 * w, dst->shape[2] = c;
        const auto* s = static_cast<const uint8_t*>(src->data);
        auto* d = static_cast<uint8_t*>(dst->data);
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < 2 * w; ++x)
                for (int64_t ch = 0; ch < c; ++ch) d[(y * 2 * w + x) * c + ch] = s[(y * w + x / 2) * c + ch];
        return KILN_OK;
    },
};

inline const kiln_transform_api fail_api = {
    .name = "fail",
    .description = "always fails",
    .create = no_config,
    .destroy = destroy_no_config,
    .apply = [](const kiln_transform*, const kiln_array*, kiln_array*, size_t, size_t*, uint64_t, char* err,
                size_t err_size) {
        put_error(err, err_size, "fail: asked to fail");
        return KILN_ERR_INVALID;
    },
};

inline const kiln_transform_api* const transforms[] = {&add_api, &seed_byte_api, &widen_api, &fail_api};

inline const kiln_plugin plugin = {
    .abi_version = KILN_PLUGIN_ABI_VERSION,
    .name = "pattern",
    .version = "0.1",
    .description = "test patterns",
    .dataset = &pattern_api,
    .n_transforms = 4,
    .transforms = transforms,
};

}  // namespace test_plugins
