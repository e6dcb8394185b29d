// Text helpers the report pictures share (internal to kiln/report, not installed).
#pragma once
#include <cstdint>
#include <string_view>

#include "kiln/image/draw.h"

namespace kiln::report::detail {

// Text turned a quarter to the left, read bottom to top: its glyphs' tops face left. (x, y) is
// the top-left corner of the turned text, which is text_height(scale) wide and
// text_width(text, scale) high.
void draw_text_up(image::Canvas& canvas, int64_t x, int64_t y, std::string_view text, image::Rgb color, int scale = 1);

}  // namespace kiln::report::detail
