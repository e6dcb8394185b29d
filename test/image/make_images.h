// Test files made on the spot: PNGs of every colour type and bit depth written with libpng
// directly (so the decoder is checked against files it did not write), CMYK JPEGs written with
// libjpeg, and small ImageFolder trees like the course's pizza_steak_sushi.
#pragma once
#include <unistd.h>

#include <boost/test/detail/global_typedef.hpp>
#include <boost/test/tools/assertion_result.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "data/precondition.h"
#include "temp_dir.h"

// A PNG as libpng writes it. `samples` holds one value per sample, row-major (grey: 1 a pixel,
// grey+alpha: 2, RGB: 3, RGBA: 4, palette: the index), each < 2^bit_depth; they are packed as
// the bit depth requires. color_type and bit_depth are libpng's (PNG_COLOR_TYPE_*, 1..16).
struct PngSpec {
    int width, height, color_type, bit_depth;
    std::vector<uint16_t> samples;
    std::vector<uint8_t> palette;  // RGB triples, for PNG_COLOR_TYPE_PALETTE
    std::vector<uint8_t> trns;     // alpha of the first palette entries (tRNS chunk)
    bool interlaced = false;       // Adam7

    PngSpec(int w, int h, int type, int depth, std::vector<uint16_t> s, std::vector<uint8_t> p = {})
        : width(w), height(h), color_type(type), bit_depth(depth), samples(std::move(s)), palette(std::move(p)) {}
};
std::vector<uint8_t> make_png(const PngSpec& spec);

// A 4-component JPEG holding `cmyk` (row-major C, M, Y, K bytes, stored as given) at quality 100,
// with or without libjpeg's Adobe APP14 marker.
std::vector<uint8_t> make_cmyk_jpeg(int width, int height, const std::vector<uint8_t>& cmyk, bool adobe_marker);

// Only an IHDR chunk claiming width × height (8-bit RGB): a "decompression bomb" header.
std::vector<uint8_t> make_png_header_only(uint32_t width, uint32_t height);

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes);  // makes the folders too

// Whether chmod 000 stops this process reading a file: not as root (or with CAP_DAC_OVERRIDE).
bool chmod_blocks_reading();

// A Boost.Test precondition: tests of unreadable files are reported skipped, with the reason.
inline boost::test_tools::assertion_result chmod_works(boost::unit_test::test_unit_id id) {
    return run_if(chmod_blocks_reading(), id, "this process reads chmod 000 files anyway (root or CAP_DAC_OVERRIDE)");
}

// root/<class>/… with `per_class` images for each class: alternately PNG and JPEG, sizes that
// vary from image to image (width and height between min_side and 2·min_side), every pixel
// coloured by its class and position, the odd ones in a sub-folder. Makes root and returns the
// number of files written.
int make_image_folder(const std::string& root, const std::vector<std::string>& classes, int per_class,
                      int min_side = 16);
