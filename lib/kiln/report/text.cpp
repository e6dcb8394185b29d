#include "kiln/report/text.h"

namespace kiln::report::detail {

void draw_text_up(image::Canvas& canvas, int64_t x, int64_t y, std::string_view text, image::Rgb color, int scale) {
    const int64_t w = image::text_width(text, scale), h = image::text_height(scale);
    if (w == 0) return;
    // Drawn upright on a scratch canvas in a colour that differs from its background, then
    // copied turned: the scratch pixel (tx, ty) lands at (x + ty, y + w − 1 − tx).
    image::Canvas upright(w, h, image::white);
    upright.draw_text(0, 0, text, image::black, scale);
    for (int64_t ty = 0; ty < h; ++ty)
        for (int64_t tx = 0; tx < w; ++tx)
            if (upright.pixel(tx, ty) == image::black) canvas.set_pixel(x + ty, y + w - 1 - tx, color);
}

}  // namespace kiln::report::detail
