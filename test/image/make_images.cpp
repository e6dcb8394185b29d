#include "make_images.h"

#include <png.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cstdio>  // before jpeglib.h
#include <jpeglib.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

#include "kiln/image/codec.h"

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw std::runtime_error("cannot write " + path);
}

bool chmod_blocks_reading() {
    TempDir dir;
    write_bytes(dir / "probe", {1});
    ::chmod((dir / "probe").c_str(), 0);
    return ::access((dir / "probe").c_str(), R_OK) != 0;
}

namespace {

int samples_per_pixel(int color_type) {
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
    case PNG_COLOR_TYPE_PALETTE: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    default: return 4;
    }
}

// One row packed as the PNG stream stores it: big-endian 16-bit, or 1/2/4-bit samples from the
// high bits of each byte down.
std::vector<uint8_t> pack_row(const uint16_t* samples, int count, int bit_depth) {
    std::vector<uint8_t> row((static_cast<size_t>(count) * bit_depth + 7) / 8, 0);
    for (int i = 0; i < count; ++i) {
        if (bit_depth == 16) {
            row[2 * i] = static_cast<uint8_t>(samples[i] >> 8);
            row[2 * i + 1] = static_cast<uint8_t>(samples[i]);
        } else if (bit_depth == 8) {
            row[i] = static_cast<uint8_t>(samples[i]);
        } else {
            int bit = i * bit_depth;
            row[bit / 8] |= static_cast<uint8_t>(samples[i] << (8 - bit_depth - bit % 8));
        }
    }
    return row;
}

void append(png_structp png, png_bytep data, size_t n) {
    auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
    out->insert(out->end(), data, data + n);
}

}  // namespace

std::vector<uint8_t> make_png(const PngSpec& s) {
    int per_row = s.width * samples_per_pixel(s.color_type);
    if (s.samples.size() != static_cast<size_t>(per_row) * s.height) throw std::logic_error("make_png: sample count");
    std::vector<std::vector<uint8_t>> rows;
    for (int y = 0; y < s.height; ++y) rows.push_back(pack_row(s.samples.data() + y * per_row, per_row, s.bit_depth));
    std::vector<png_bytep> row_pointers;
    for (auto& r : rows) row_pointers.push_back(r.data());

    std::vector<uint8_t> out;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {  // the test's own inputs are valid; this only reports a slip
        png_destroy_write_struct(&png, &info);
        throw std::logic_error("make_png: libpng rejected the spec");
    }
    png_set_write_fn(png, &out, append, nullptr);
    png_set_IHDR(png, info, s.width, s.height, s.bit_depth, s.color_type,
                 s.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    std::vector<png_color> palette;
    for (size_t i = 0; i + 2 < s.palette.size(); i += 3)
        palette.push_back({s.palette[i], s.palette[i + 1], s.palette[i + 2]});
    if (!palette.empty()) png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
    if (!s.trns.empty()) png_set_tRNS(png, info, s.trns.data(), static_cast<int>(s.trns.size()), nullptr);
    png_write_info(png, info);
    png_write_image(png, row_pointers.data());
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    return out;
}

std::vector<uint8_t> make_cmyk_jpeg(int width, int height, const std::vector<uint8_t>& cmyk, bool adobe_marker) {
    jpeg_compress_struct c;
    jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);  // the test's own inputs are valid: libjpeg's exit() is not reached
    jpeg_create_compress(&c);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&c, &buffer, &size);
    c.image_width = width;
    c.image_height = height;
    c.input_components = 4;
    c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);  // CMYK stored as is, with an Adobe marker saying "no transform"
    c.write_Adobe_marker = adobe_marker ? TRUE : FALSE;
    jpeg_set_quality(&c, 100, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = const_cast<uint8_t*>(cmyk.data() + c.next_scanline * width * 4);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    std::vector<uint8_t> out(buffer, buffer + size);
    jpeg_destroy_compress(&c);
    free(buffer);
    return out;
}

std::vector<uint8_t> make_png_header_only(uint32_t width, uint32_t height) {
    std::vector<uint8_t> b = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    for (uint32_t v : {width, height})
        for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(v >> shift));
    for (uint8_t v : {8, 2, 0, 0, 0}) b.push_back(v);  // 8-bit RGB, deflate, adaptive filter, no interlace
    uint32_t crc = static_cast<uint32_t>(crc32(0, b.data() + 12, 17));
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(crc >> shift));
    return b;
}

int make_image_folder(const std::string& root, const std::vector<std::string>& classes, int per_class,
                      int min_side) {
    int written = 0;
    for (size_t c = 0; c < classes.size(); ++c) {
        std::filesystem::create_directories(std::filesystem::path(root) / classes[c] / "more");
        for (int i = 0; i < per_class; ++i) {
            int h = min_side + (i * 7 + 3 * static_cast<int>(c)) % (min_side + 1);
            int w = min_side + (i * 5 + 11 * static_cast<int>(c)) % (min_side + 1);
            kiln::image::Image img{h, w, 3, std::vector<uint8_t>(static_cast<size_t>(h) * w * 3)};
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x) {
                    uint8_t* p = img.pixels.data() + (static_cast<size_t>(y) * w + x) * 3;
                    p[0] = static_cast<uint8_t>(80 * c + x * 4);
                    p[1] = static_cast<uint8_t>(y * 4 + i);
                    p[2] = static_cast<uint8_t>(200 - 60 * c);
                }
            std::string name = std::to_string(1000 + i) + (i % 2 ? ".jpg" : ".png");
            std::filesystem::path path = std::filesystem::path(root) / classes[c] / (i % 3 == 2 ? "more" : "") / name;
            if (i % 2)
                kiln::image::write_jpeg(path.string(), kiln::image::view(img));
            else
                kiln::image::write_png(path.string(), kiln::image::view(img));
            ++written;
        }
    }
    return written;
}
