// A small RGB canvas for pictures the tools write: image grids with labels, confusion-matrix heat
// maps, loss curves. Everything drawn is clipped to the canvas; coordinates are pixels, (0, 0) at
// the top left, x to the right, y down.
//
//   Canvas c(200, 100);                                  // white
//   c.blit(view(img), 4, 4, /*scale=*/3);               // grey or RGB, nearest-neighbour
//   c.draw_text(4, 90, "Ankle boot", black);            // 5×7 glyphs, 6 pixels apart
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

// The built-in font: printable ASCII (32..126) in 5×7 glyphs; any other byte is drawn as '?'.
// At scale s a glyph is 5s × 7s and the next one starts 6s further right.
inline constexpr int glyph_width = 5, glyph_height = 7, glyph_advance = 6;

// Width in pixels of text drawn at `scale`, from the first glyph's left edge to the last one's
// right edge (no trailing gap); 0 for empty text.
int64_t text_width(std::string_view text, int scale = 1);
inline int64_t text_height(int scale = 1) { return int64_t(glyph_height) * scale; }

class Canvas {
public:
    // Throws Error(invalid_argument) unless both sides are ≥ 1 and width × height is at most
    // default_max_pixels.
    Canvas(int64_t width, int64_t height, Rgb background = white);

    int64_t width() const { return width_; }
    int64_t height() const { return height_; }
    const std::vector<uint8_t>& pixels() const { return pixels_; }  // H×W×3, row-major
    ImageView view() const { return {pixels_.data(), height_, width_, 3}; }

    Rgb pixel(int64_t x, int64_t y) const;              // Error(invalid_argument) outside the canvas
    void set_pixel(int64_t x, int64_t y, Rgb color);    // ignored outside the canvas
    void fill_rect(int64_t x, int64_t y, int64_t w, int64_t h, Rgb color);
    void draw_line(int64_t x0, int64_t y0, int64_t x1, int64_t y1, Rgb color);  // both ends included
    // Draws `image` (1 or 3 channels) with its top-left corner at (x, y), each pixel as a
    // scale × scale square; a grey pixel v becomes (v, v, v).
    void blit(ImageView image, int64_t x, int64_t y, int scale = 1);
    // Text with its top-left corner at (x, y), on a transparent background.
    void draw_text(int64_t x, int64_t y, std::string_view text, Rgb color, int scale = 1);

    void save_png(const std::string& path) const { write_png(path, view()); }

private:
    int64_t width_, height_;
    std::vector<uint8_t> pixels_;
};

}  // namespace kiln::image
