// The font of kiln's pictures: Terminus Font, a bitmap font with real ascenders and descenders,
// taken at build time from Debian's console-setup-linux (psf_font.py writes font_data.cpp from its
// PSF files). Two faces of the same design: 8×16 cells for pictures at density 1, 16×32 for
// density 2 (high-DPI screens), so that text drawn at density 2 is sharper, not just bigger.
// Internal to kiln/image (draw.cpp); not installed.
#pragma once
#include <cstdint>

namespace kiln::image::font {

// Glyph k is `height` rows of ceil(width / 8) bytes, the leftmost pixel in the top bit.
struct Face {
    int width, height;
    const uint8_t* bitmaps;
    const uint8_t* glyph(int k) const { return bitmaps + k * height * ((width + 7) / 8); }
};

extern const int glyph_count;
extern const char32_t code_points[];  // sorted; glyph k of each face draws code_points[k]
extern const Face small, large;       // 8×16 and 16×32

}  // namespace kiln::image::font
