// A small RGB canvas for pictures the tools write: image grids with labels, confusion-matrix heat
// maps, loss curves. Everything drawn is clipped to the canvas; coordinates are in units, (0, 0) at
// the top left, x to the right, y down. A canvas of density d holds d × d pixels per unit, for
// screens that show d pixels per CSS pixel (2 for high-DPI screens): the same drawing calls give
// a picture d times as wide and high, its lines d pixels thick and its text in a face drawn for
// that size (the report shows such a picture at 1/d of its pixel size).
//
//   Canvas c(200, 100);                                  // white, density 1
//   c.blit(view(img), 4, 4, /*scale=*/3);               // grey or RGB, nearest-neighbour
//   c.draw_text(4, 80, "Ankle boot", black);            // Terminus Font, 8×16 units a character
//   c.draw_line(0, 99, 199, 0, {200, 0, 0});
//   c.save_png("out.png");
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/image/codec.h"

namespace kiln::image {

struct Rgb {
    uint8_t r = 0, g = 0, b = 0;
    bool operator==(const Rgb&) const = default;
};
inline constexpr Rgb black{0, 0, 0};
inline constexpr Rgb white{255, 255, 255};

// Text is UTF-8 in Terminus Font (kiln/image/font.h: Latin, Greek, Cyrillic, box drawing and common
// symbols); a character the font lacks, a control character or a byte that is not UTF-8 is drawn
// as '?'. Every character takes a cell of glyph_width × glyph_height units at scale 1 (scale s:
// s times both), the glyph's descenders ('g', 'p', 'y') inside the cell's bottom rows.
inline constexpr int glyph_width = 8, glyph_height = 16;

// Width in units of text drawn at `scale`: its characters' cells; 0 for empty text.
int64_t text_width(std::string_view text, int scale = 1);
inline int64_t text_height(int scale = 1) { return int64_t(glyph_height) * scale; }

class Canvas {
public:
    // width × height units at `density` pixels a unit. Throws Error(invalid_argument) unless both
    // sides are ≥ 1, density is 1 to 4, and the pixels number at most default_max_pixels.
    Canvas(int64_t width, int64_t height, Rgb background = white, int density = 1);

    int64_t width() const { return width_; }  // in units
    int64_t height() const { return height_; }
    int density() const { return density_; }
    const std::vector<uint8_t>& pixels() const { return pixels_; }  // (H·d)×(W·d)×3, row-major
    ImageView view() const { return {pixels_.data(), height_ * density_, width_ * density_, 3}; }

    // The colour at unit (x, y) (its top-left pixel); Error(invalid_argument) outside the canvas.
    Rgb pixel(int64_t x, int64_t y) const;
    void set_pixel(int64_t x, int64_t y, Rgb color);  // the whole unit; ignored outside the canvas
    void fill_rect(int64_t x, int64_t y, int64_t w, int64_t h, Rgb color);
    void draw_line(int64_t x0, int64_t y0, int64_t x1, int64_t y1, Rgb color);  // both ends included
    // Draws `image` (1 or 3 channels) with its top-left corner at (x, y), each pixel as a
    // scale × scale square of units; a grey pixel v becomes (v, v, v).
    void blit(ImageView image, int64_t x, int64_t y, int scale = 1);
    // Text with its top-left corner at (x, y), on a transparent background.
    void draw_text(int64_t x, int64_t y, std::string_view text, Rgb color, int scale = 1);
    // Text turned a quarter to the left, read bottom to top (an axis label): (x, y) is the top-left
    // corner of the turned text, which is text_height(scale) wide and text_width(text, scale) high.
    void draw_text_up(int64_t x, int64_t y, std::string_view text, Rgb color, int scale = 1);

    void save_png(const std::string& path) const { write_png(path, view()); }

private:
    // Pixel coordinates, clipped.
    void fill_pixels(int64_t px, int64_t py, int64_t w, int64_t h, Rgb color);
    template <class Plot>
    void draw_glyphs(std::string_view text, int scale, Plot plot) const;

    int64_t width_, height_;
    int density_;
    std::vector<uint8_t> pixels_;
};

}  // namespace kiln::image
