// imagefolder: photos in root/<class>/…/*.png|jpg|jpeg, listed as torchvision's ImageFolder lists
// them (scan.h) and decoded as PIL decodes them (kiln/image/codec.h).
//
// Configuration: <root>[,mode=rgb|grey][,on_error=stop|skip][,max_pixels=N]
//   mode        rgb (default: torchvision's loader converts to RGB) or grey (PIL's convert("L"));
//               "gray" is accepted too.
//   on_error    stop (default) or skip: what the loader does with a file that cannot be used.
//   max_pixels  a file whose width × height exceeds N is refused before decoding
//               (default 89478485, PIL's MAX_IMAGE_PIXELS).
// The root is the text before the first comma, so it cannot itself contain a comma.
//
// Files below the class folders whose extension is not .png, .jpg or .jpeg are left out (as
// torchvision does) and counted by extension in the dataset's notes, which `kiln-data info` and
// the tools print: "left out 2 files whose extension kiln does not read: .bmp (1), .txt (1) …".
//
// EXIF orientation is ignored: a photo is used as its pixels are stored, as torchvision's loader
// (PIL's Image.open + convert, without ImageOps.exif_transpose) uses it, so a model trained with
// torchvision sees the same pixels. A phone photo stored sideways with an EXIF "rotate" tag
// therefore comes out sideways; rotate such files before training if that matters.
//
// Samples are u8 H×W×C, C = 3 (rgb) or 1 (grey). H and W vary from file to file: sample_shape
// reports {0, 0, C}. When the caller's buffer is too small, get() returns KILN_ERR_CAPACITY with
// *needed = H·W·C and out's shape filled in, so the caller can grow the buffer and call again.
// *label is set as soon as the index is valid, even when the file then fails.
//
// Bad files, and the contract with the loader for on_error:
// - open() only lists the folders: decoding every file there would make opening a large folder
//   take as long as an epoch. It fails on layout problems (root missing or unreadable, no class
//   folders, a class folder without image files, an unreadable sub-folder), naming the folder.
// - get(i) fails on one file, with a message that starts with its path: KILN_ERR_FORMAT when the
//   contents are not a decodable PNG or JPEG (empty, truncated, corrupt, another format, over
//   max_pixels), KILN_ERR_IO when it cannot be read (permissions, removed since open). It does so
//   whatever on_error says: the plugin never substitutes another sample.
// - on_error belongs to the loader, which reads it from this same configuration string
//   (kiln::data::Dataset::config_skips_bad_samples; the plugin only checks its value). With stop the loader stops with get()'s message; with skip it
//   prints that message as a warning, leaves the sample out and reports how many it skipped at
//   the end. KILN_ERR_INVALID (a bad index or argument) and KILN_ERR_CAPACITY are never skipped.
#include <charconv>
#include <cstdio>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/data/plugin.h"
#include "kiln/image/codec.h"
#include "scan.h"

namespace image = kiln::image;

struct kiln_dataset {
    image::DecodeOptions decode;
    kiln::imagefolder::Folder folder;
    std::string notes;
};

namespace {

void set_error(char* err, size_t err_size, const char* message) {
    if (err && err_size) std::snprintf(err, err_size, "%s", message);
}

kiln_status status_of(kiln::Errc code) {
    switch (code) {
    case kiln::Errc::io: return KILN_ERR_IO;
    case kiln::Errc::format: return KILN_ERR_FORMAT;
    default: return KILN_ERR_INVALID;
    }
}

[[noreturn]] void bad_option(std::string_view option, const std::string& why) {
    kiln::fail(kiln::Errc::invalid_argument, "imagefolder: option '" + std::string(option) + "': " + why);
}

// Sets ds's options from the configuration; returns the root.
std::string parse_config(std::string_view text, kiln_dataset& ds) {
    size_t comma = text.find(',');
    std::string root(text.substr(0, comma));
    if (root.empty())
        kiln::fail(kiln::Errc::invalid_argument,
                   "imagefolder: no root folder given; use imagefolder:<root>[,mode=rgb|grey][,on_error=stop|skip]"
                   "[,max_pixels=N]");
    while (comma != std::string_view::npos) {
        text.remove_prefix(comma + 1);
        comma = text.find(',');
        std::string_view option = text.substr(0, comma);
        size_t eq = option.find('=');
        std::string_view key = option.substr(0, eq);
        std::string_view value = eq == std::string_view::npos ? std::string_view() : option.substr(eq + 1);
        if (key == "mode") {
            if (value == "rgb") ds.decode.mode = image::ColorMode::rgb;
            else if (value == "grey" || value == "gray") ds.decode.mode = image::ColorMode::grey;
            else bad_option(option, "mode is rgb or grey");
        } else if (key == "on_error") {
            if (value != "stop" && value != "skip") bad_option(option, "on_error is stop or skip");
        } else if (key == "max_pixels") {
            uint64_t n = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (ec != std::errc() || end != value.data() + value.size() || n == 0 || n > (uint64_t(1) << 48))
                bad_option(option, "max_pixels is a whole number from 1 to 2^48");
            ds.decode.max_pixels = n;
        } else {
            bad_option(option, "unknown; the options are mode, on_error and max_pixels");
        }
    }
    return root;
}

kiln_dataset* open_dataset(const char* config, char* err, size_t err_size) noexcept {
    try {
        auto ds = std::make_unique<kiln_dataset>();
        ds->folder = kiln::imagefolder::scan_folder(parse_config(config ? config : "", *ds));
        ds->notes = ds->folder.skipped_note();
        return ds.release();
    } catch (const std::exception& e) {
        set_error(err, err_size, e.what());
    } catch (...) {
        set_error(err, err_size, "imagefolder: unexpected error while opening");
    }
    return nullptr;
}

void close_dataset(kiln_dataset* ds) noexcept { delete ds; }

int64_t length(const kiln_dataset* ds) noexcept { return ds->folder.size(); }

int32_t num_classes(const kiln_dataset* ds) noexcept { return static_cast<int32_t>(ds->folder.classes.size()); }

const char* class_name(const kiln_dataset* ds, int32_t c) noexcept {
    if (c < 0 || c >= num_classes(ds)) return nullptr;
    return ds->folder.classes[c].c_str();
}

kiln_status sample_shape(const kiln_dataset* ds, kiln_array* shape_only) noexcept {
    if (!shape_only) return KILN_ERR_INVALID;
    *shape_only = kiln_array{KILN_U8, 3, {0, 0, image::channels(ds->decode.mode), 0}, nullptr};
    return KILN_OK;
}

kiln_status get(const kiln_dataset* ds, int64_t i, kiln_array* out, size_t capacity, size_t* needed,
                int64_t* label, char* err, size_t err_size) noexcept {
    try {
        if (!out) kiln::fail(kiln::Errc::invalid_argument, "imagefolder: get() needs an output array");
        if (i < 0 || i >= ds->folder.size())
            kiln::fail(kiln::Errc::invalid_argument, "imagefolder: sample " + std::to_string(i) + " is outside [0, " +
                                                         std::to_string(ds->folder.size()) + ")");
        if (label) *label = ds->folder.label(i);
        // The path and the file's bytes go into buffers of the calling thread (a loader's worker):
        // once they have grown to the largest file, reading a file allocates nothing.
        thread_local std::string path;
        thread_local std::vector<uint8_t> bytes;
        path.assign(ds->folder.path(i));
        image::read_file(path, image::max_file_bytes(ds->decode.max_pixels), bytes);
        image::ImageInfo info = image::probe(bytes, path, ds->decode);
        *out = kiln_array{KILN_U8, 3, {info.height, info.width, info.channels, 0}, out->data};
        if (needed) *needed = info.bytes();
        if (capacity < info.bytes() || !out->data) {
            set_error(err, err_size,
                      (path + ": needs " + std::to_string(info.bytes()) + " bytes, the buffer holds " +
                       std::to_string(out->data ? capacity : 0))
                          .c_str());
            return KILN_ERR_CAPACITY;
        }
        image::decode_into(bytes, path, ds->decode, {static_cast<uint8_t*>(out->data), capacity});
        return KILN_OK;
    } catch (const kiln::Error& e) {
        set_error(err, err_size, e.what());
        return status_of(e.code());
    } catch (const std::bad_alloc&) {
        bool known = i >= 0 && i < ds->folder.size();
        if (err && err_size)
            std::snprintf(err, err_size, "%s: out of memory while decoding", known ? ds->folder.path(i) : "imagefolder");
    } catch (...) {
        set_error(err, err_size, "imagefolder: unexpected error in get()");
    }
    return KILN_ERR_INVALID;
}

const char* notes(const kiln_dataset* ds) noexcept { return ds->notes.c_str(); }

const kiln_dataset_api dataset_api = {open_dataset, close_dataset, length, num_classes, class_name, sample_shape, get, notes};

const kiln_plugin plugin = {
    KILN_PLUGIN_ABI_VERSION,
    "imagefolder",
    "1.0.0",
    "PNG/JPEG photos in <root>/<class>/… as torchvision's ImageFolder: "
    "<root>[,mode=rgb|grey][,on_error=stop|skip][,max_pixels=N]",
    &dataset_api,
    0,
    nullptr,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const kiln_plugin* kiln_plugin_entry(void) { return &plugin; }
