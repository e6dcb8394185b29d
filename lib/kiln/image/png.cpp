// PNG through libpng's low-level API (the simplified png_image API would apply gamma and composite
// alpha, where kiln wants PIL's plain conversions).
//
// libpng reports an error by calling a handler that must not return: ours copies the message and
// longjmps back to the setjmp of the step that called libpng. Each step is a small function whose
// locals are plain data, so the jump never skips a destructor; buffers live in the caller.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>

#include "kiln/core/error.h"
#include "kiln/image/formats.h"

namespace kiln::image::detail {
namespace {

struct PngMessage {
    char text[256] = {};
    bool truncated = false;  // the reader ran out of bytes
};

void on_error(png_structp png, png_const_charp message) {
    auto* m = static_cast<PngMessage*>(png_get_error_ptr(png));
    std::snprintf(m->text, sizeof m->text, "%s", message);
    png_longjmp(png, 1);
}

// Warnings (a bad CRC in an ancillary chunk, an odd sRGB profile) cost no pixels: ignored, as PIL does.
void on_warning(png_structp, png_const_charp) {}

struct PngReader {
    PngMessage message;
    std::span<const uint8_t> bytes;
    size_t pos = 0;
    png_structp png = nullptr;
    png_infop info = nullptr;

    PngReader(std::span<const uint8_t> b, const std::string& name) : bytes(b) {
        png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &message, on_error, on_warning);
        if (png) info = png_create_info_struct(png);
        if (!info) {
            png_destroy_read_struct(&png, nullptr, nullptr);
            fail(Errc::format, name + ": out of memory starting the PNG decoder");
        }
        png_set_read_fn(png, this, read_bytes);
        // libpng's own limit is 1,000,000 pixels a side; DecodeOptions::max_pixels is the one that counts.
        png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    }
    ~PngReader() { png_destroy_read_struct(&png, &info, nullptr); }
    PngReader(const PngReader&) = delete;
    PngReader& operator=(const PngReader&) = delete;

    static void read_bytes(png_structp png, png_bytep out, size_t n) {
        auto* r = static_cast<PngReader*>(png_get_io_ptr(png));
        if (n > r->bytes.size() - r->pos) {
            r->message.truncated = true;
            png_error(png, "unexpected end of file");
        }
        std::memcpy(out, r->bytes.data() + r->pos, n);
        r->pos += n;
    }
};

[[noreturn]] void fail_png(const PngMessage& m, const std::string& name) {
    if (m.truncated) fail(Errc::format, name + ": PNG file is truncated (it ends before the image data is complete)");
    fail(Errc::format, name + ": not a valid PNG: " + m.text);
}

// The signature and the chunks before the image data.
bool read_header(PngReader& r) {
    if (setjmp(png_jmpbuf(r.png))) return false;
    png_read_info(r.png, r.info);
    return true;
}

// Sets the transforms that give 8-bit grey or RGB without alpha, then reads every row (all
// passes of an interlaced image). row_bytes guards the rows' size against the transforms' result.
bool read_rows(PngReader& r, bool grey_to_rgb, size_t row_bytes, png_bytepp rows) {
    if (setjmp(png_jmpbuf(r.png))) return false;
    int color_type = png_get_color_type(r.png, r.info);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(r.png);
    if (color_type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(r.png, r.info) < 8)
        png_set_expand_gray_1_2_4_to_8(r.png);
    png_set_scale_16(r.png);  // (v·255 + 32767) / 65535
    png_set_strip_alpha(r.png);
    if (grey_to_rgb) png_set_gray_to_rgb(r.png);
    png_set_interlace_handling(r.png);
    png_read_update_info(r.png, r.info);
    if (png_get_rowbytes(r.png, r.info) != row_bytes) png_error(r.png, "unexpected row size after conversion");
    png_read_image(r.png, rows);
    return true;
}

// Width and height straight from the IHDR chunk, so that an oversized image is refused before
// libpng reads (or allocates) anything more. False if the first chunk is not a complete IHDR.
bool ihdr_size(std::span<const uint8_t> b, int64_t& width, int64_t& height) {
    if (b.size() < 24 || std::memcmp(b.data() + 12, "IHDR", 4) != 0) return false;
    auto u32 = [&](size_t at) { return (int64_t(b[at]) << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]; };
    width = u32(16);
    height = u32(20);
    return true;
}

ImageInfo header(PngReader& r, const std::string& name, const DecodeOptions& options) {
    int64_t width = 0, height = 0;
    if (ihdr_size(r.bytes, width, height)) check_pixel_limit(name, width, height, options.max_pixels);
    if (!read_header(r)) fail_png(r.message, name);
    ImageInfo info;
    info.format = Format::png;
    info.width = png_get_image_width(r.png, r.info);
    info.height = png_get_image_height(r.png, r.info);
    info.channels = channels(options.mode);
    check_pixel_limit(name, info.width, info.height, options.max_pixels);
    return info;
}

struct PngWriter {
    PngMessage message;
    std::vector<uint8_t> bytes;
    bool out_of_memory = false;
    png_structp png = nullptr;
    png_infop info = nullptr;

    PngWriter() {
        png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &message, on_error, on_warning);
        if (png) info = png_create_info_struct(png);
        if (!info) {
            png_destroy_write_struct(&png, nullptr);
            fail(Errc::invalid_argument, "encode_png: out of memory starting the PNG encoder");
        }
        png_set_write_fn(png, this, write_bytes, flush);
    }
    ~PngWriter() { png_destroy_write_struct(&png, &info); }
    PngWriter(const PngWriter&) = delete;
    PngWriter& operator=(const PngWriter&) = delete;

    static void write_bytes(png_structp png, png_bytep data, size_t n) {
        auto* w = static_cast<PngWriter*>(png_get_io_ptr(png));
        try {
            w->bytes.insert(w->bytes.end(), data, data + n);
        } catch (...) {
            w->out_of_memory = true;
        }
        if (w->out_of_memory) png_error(png, "out of memory");
    }
    static void flush(png_structp) {}
};

bool write_image(PngWriter& w, ImageView image) {
    if (setjmp(png_jmpbuf(w.png))) return false;
    png_set_IHDR(w.png, w.info, static_cast<png_uint_32>(image.width), static_cast<png_uint_32>(image.height), 8,
                 image.channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(w.png, w.info);
    size_t stride = static_cast<size_t>(image.width) * image.channels;
    for (int64_t y = 0; y < image.height; ++y) png_write_row(w.png, image.pixels + y * stride);
    png_write_end(w.png, nullptr);
    return true;
}

}  // namespace

ImageInfo png_probe(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options) {
    PngReader r(bytes, name);
    return header(r, name, options);
}

ImageInfo png_decode(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options,
                     std::span<uint8_t> out) {
    PngReader r(bytes, name);
    ImageInfo info = header(r, name, options);
    check_output_size(name, info, out);

    // Palette and colour types give RGB; grey ones give grey, which libpng widens to RGB on request.
    // An RGB file wanted in grey is read whole, then converted with PIL's luma.
    bool colour = (png_get_color_type(r.png, r.info) & PNG_COLOR_MASK_COLOR) != 0;
    bool via_rgb = colour && info.channels == 1;
    std::vector<uint8_t> rgb(via_rgb ? static_cast<size_t>(info.height * info.width * 3) : 0);
    uint8_t* target = via_rgb ? rgb.data() : out.data();
    size_t row_bytes = static_cast<size_t>(info.width) * (via_rgb ? 3 : info.channels);
    std::vector<png_bytep> rows(static_cast<size_t>(info.height));
    for (int64_t y = 0; y < info.height; ++y) rows[y] = target + y * row_bytes;

    if (!read_rows(r, !colour && info.channels == 3, row_bytes, rows.data())) fail_png(r.message, name);
    if (via_rgb)
        for (int64_t y = 0; y < info.height; ++y)
            convert_row(rows[y], Samples::rgb, out.data() + y * info.width, 1, info.width);
    return info;
}

std::vector<uint8_t> png_encode(ImageView image) {
    check_view(image, "encode_png");
    PngWriter w;
    if (!write_image(w, image)) fail(Errc::invalid_argument, std::string("encode_png: ") + w.message.text);
    return std::move(w.bytes);
}

}  // namespace kiln::image::detail
