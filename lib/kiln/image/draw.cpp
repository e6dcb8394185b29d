#include "kiln/image/draw.h"

#include <algorithm>
#include <cstdlib>

#include "kiln/core/error.h"
#include "kiln/image/font.h"

namespace kiln::image {
namespace {

// The next character of UTF-8 text at `at`, which moves past it; a byte that does not start a
// well-formed sequence (overlong, a surrogate, beyond U+10FFFF, cut short) is one '?'.
char32_t next_char(std::string_view s, size_t& at) {
    const auto byte = [&](size_t k) { return uint8_t(s[k]); };
    const uint8_t b = byte(at);
    const int n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || at + size_t(n) > s.size()) return ++at, U'?';
    char32_t c = n == 1 ? b : b & (0x7F >> n);
    for (int k = 1; k < n; ++k) {
        if ((byte(at + size_t(k)) & 0xC0) != 0x80) return ++at, U'?';
        c = c << 6 | (byte(at + size_t(k)) & 0x3F);
    }
    constexpr char32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < least[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return ++at, U'?';
    at += size_t(n);
    return c;
}

// The glyph that draws c: its own, or the question mark's.
int glyph_index(char32_t c) {
    const char32_t* end = font::code_points + font::glyph_count;
    const char32_t* found = std::lower_bound(font::code_points, end, c);
    if (found == end || *found != c) found = std::lower_bound(font::code_points, end, U'?');
    return int(found - font::code_points);
}

int64_t characters(std::string_view text) {
    int64_t n = 0;
    for (size_t at = 0; at < text.size(); ++n) next_char(text, at);
    return n;
}

void check_scale(int scale) {
    if (scale < 1) fail(Errc::invalid_argument, "drawing scale " + std::to_string(scale) + " is not ≥ 1");
}

}  // namespace

int64_t text_width(std::string_view text, int scale) {
    check_scale(scale);
    return characters(text) * glyph_width * scale;
}

Canvas::Canvas(int64_t width, int64_t height, Rgb background, int density)
    : width_(width), height_(height), density_(density) {
    const uint64_t limit = default_max_pixels;
    if (density < 1 || density > 4)
        fail(Errc::invalid_argument, "a canvas of density " + std::to_string(density) + ": 1 to 4 pixels a unit");
    if (width < 1 || height < 1 || uint64_t(width) > limit || uint64_t(height) > limit ||
        uint64_t(width) * uint64_t(height) * uint64_t(density * density) > limit)
        fail(Errc::invalid_argument, "a canvas of " + std::to_string(width) + " × " + std::to_string(height) +
                                         " units at density " + std::to_string(density) +
                                         ": each side must be ≥ 1 and the area at most " + std::to_string(limit) + " pixels");
    pixels_.resize(size_t(width * height * density * density) * 3);
    fill_rect(0, 0, width, height, background);
}

Rgb Canvas::pixel(int64_t x, int64_t y) const {
    if (x < 0 || y < 0 || x >= width_ || y >= height_)
        fail(Errc::invalid_argument, "pixel (" + std::to_string(x) + ", " + std::to_string(y) + ") is outside the " +
                                         std::to_string(width_) + " × " + std::to_string(height_) + " canvas");
    const uint8_t* p = &pixels_[size_t((y * width_ * density_ + x) * density_) * 3];
    return {p[0], p[1], p[2]};
}

void Canvas::fill_pixels(int64_t px, int64_t py, int64_t w, int64_t h, Rgb color) {
    const int64_t row = width_ * density_;
    const int64_t x0 = std::max<int64_t>(px, 0), x1 = std::min(px + w, row);
    const int64_t y0 = std::max<int64_t>(py, 0), y1 = std::min(py + h, height_ * density_);
    for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x) {
            uint8_t* p = &pixels_[size_t(y * row + x) * 3];
            p[0] = color.r, p[1] = color.g, p[2] = color.b;
        }
}

void Canvas::set_pixel(int64_t x, int64_t y, Rgb color) { fill_rect(x, y, 1, 1, color); }

void Canvas::fill_rect(int64_t x, int64_t y, int64_t w, int64_t h, Rgb color) {
    // Clipped in units first, so that far-away coordinates cannot overflow when multiplied.
    const int64_t x0 = std::max<int64_t>(x, 0), x1 = std::min(x + w, width_);
    const int64_t y0 = std::max<int64_t>(y, 0), y1 = std::min(y + h, height_);
    if (x0 < x1 && y0 < y1) fill_pixels(x0 * density_, y0 * density_, (x1 - x0) * density_, (y1 - y0) * density_, color);
}

// Bresenham's algorithm over pixels, for every octant, a density × density square at each step:
// at density 2 a slanted line is as smooth as the pixels allow, not a doubled staircase.
void Canvas::draw_line(int64_t x0, int64_t y0, int64_t x1, int64_t y1, Rgb color) {
    int64_t px = x0 * density_, py = y0 * density_;
    const int64_t qx = x1 * density_, qy = y1 * density_;
    const int64_t dx = std::abs(qx - px), dy = -std::abs(qy - py);
    const int64_t sx = px < qx ? 1 : -1, sy = py < qy ? 1 : -1;
    for (int64_t err = dx + dy;;) {
        fill_pixels(px, py, density_, density_, color);
        if (px == qx && py == qy) return;
        const int64_t e2 = 2 * err;
        if (e2 >= dy) err += dy, px += sx;
        if (e2 <= dx) err += dx, py += sy;
    }
}

void Canvas::blit(ImageView image, int64_t x, int64_t y, int scale) {
    check_scale(scale);
    if ((image.channels != 1 && image.channels != 3) || image.height < 0 || image.width < 0 ||
        (!image.pixels && image.height * image.width > 0))
        fail(Errc::invalid_argument, "blit: an image of " + std::to_string(image.height) + " × " +
                                         std::to_string(image.width) + " × " + std::to_string(image.channels) +
                                         " (it needs 1 or 3 channels and pixels)");
    for (int64_t iy = 0; iy < image.height; ++iy)
        for (int64_t ix = 0; ix < image.width; ++ix) {
            const uint8_t* p = image.pixels + (iy * image.width + ix) * image.channels;
            const Rgb c = image.channels == 1 ? Rgb{p[0], p[0], p[0]} : Rgb{p[0], p[1], p[2]};
            fill_rect(x + ix * scale, y + iy * scale, scale, scale, c);
        }
}

// Calls plot(dx, dy, k) for every lit font pixel of the text: a k × k square of canvas pixels at
// (dx, dy) from the text's top-left corner. Text drawn at an even number of pixels per unit takes
// the large face (16×32), otherwise the small one (8×16), each enlarged by whole pixels.
template <class Plot>
void Canvas::draw_glyphs(std::string_view text, int scale, Plot plot) const {
    check_scale(scale);
    const int m = density_ * scale;
    const font::Face& face = m % 2 == 0 ? font::large : font::small;
    const int k = m % 2 == 0 ? m / 2 : m, row_bytes = (face.width + 7) / 8;
    int64_t left = 0;
    for (size_t at = 0; at < text.size(); left += int64_t(face.width) * k) {
        const char32_t c = next_char(text, at);
        const uint8_t* g = face.glyph(glyph_index(c < 0x20 || c == 0x7F ? U'?' : c));
        for (int row = 0; row < face.height; ++row)
            for (int col = 0; col < face.width; ++col)
                if (g[row * row_bytes + col / 8] & (0x80 >> (col % 8))) plot(left + col * k, int64_t(row) * k, k);
    }
}

void Canvas::draw_text(int64_t x, int64_t y, std::string_view text, Rgb color, int scale) {
    const int64_t ox = x * density_, oy = y * density_;
    draw_glyphs(text, scale, [&](int64_t dx, int64_t dy, int k) { fill_pixels(ox + dx, oy + dy, k, k, color); });
}

void Canvas::draw_text_up(int64_t x, int64_t y, std::string_view text, Rgb color, int scale) {
    // Text pixel (tx, ty) of the upright text, w pixels wide, lands at (ox + ty, oy + w − 1 − tx).
    const int64_t ox = x * density_, oy = y * density_, w = text_width(text, scale) * density_;
    draw_glyphs(text, scale, [&](int64_t dx, int64_t dy, int k) { fill_pixels(ox + dy, oy + w - dx - k, k, k, color); });
}

}  // namespace kiln::image
