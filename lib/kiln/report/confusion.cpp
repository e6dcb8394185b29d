#include "kiln/report/confusion.h"

#include <algorithm>
#include <cmath>

#include "kiln/core/error.h"

namespace kiln::report {

namespace {

constexpr image::Rgb lightest{247, 251, 255}, darkest{8, 48, 107}, cell_border{200, 200, 200};
constexpr const char* title = "confusion matrix: rows = true class, columns = predicted class";

}  // namespace

image::Rgb heat_color(int64_t count, int64_t max_count) {
    const double t = max_count > 0 ? std::clamp(double(count) / double(max_count), 0.0, 1.0) : 0.0;
    auto mix = [t](uint8_t a, uint8_t b) { return uint8_t(std::lround(a + (double(b) - a) * t)); };
    return {mix(lightest.r, darkest.r), mix(lightest.g, darkest.g), mix(lightest.b, darkest.b)};
}

image::Rgb text_color_on(image::Rgb bg) {
    return 0.299 * bg.r + 0.587 * bg.g + 0.114 * bg.b < 128 ? image::white : image::black;
}

HeatMap draw_confusion_matrix(const train::ConfusionMatrix& m, std::span<const std::string> names, int density) {
    const int32_t n = m.num_classes();
    if (names.size() != size_t(n))
        fail(Errc::invalid_argument, "draw_confusion_matrix: " + std::to_string(names.size()) + " class names for " +
                                         std::to_string(n) + " classes");
    const int64_t max_count = *std::max_element(m.counts().begin(), m.counts().end());
    int64_t name_len = 0;
    for (const std::string& s : names) name_len = std::max(name_len, image::text_width(s));
    const int64_t cell = std::max<int64_t>(36, image::text_width(std::to_string(max_count)) + 12);

    constexpr int64_t margin = 8, gap = 6;
    const int64_t text_h = image::text_height();
    const int64_t predicted_y = margin + text_h + gap, names_top = predicted_y + text_h + gap;
    const int64_t top = names_top + name_len + 4;
    const int64_t names_left = margin + text_h + gap, left = names_left + name_len + 4;
    const int64_t grid = int64_t(n) * cell;
    const int64_t width = std::max(left + grid + margin, 2 * margin + image::text_width(title));
    HeatMap map{image::Canvas(width, top + grid + margin, image::white, density), left, top, cell};
    image::Canvas& c = map.canvas;

    c.draw_text(margin, margin, title, image::black);
    c.draw_text(left + (grid - image::text_width("predicted")) / 2, predicted_y, "predicted", image::black);
    c.draw_text_up(margin, top + (grid - image::text_width("true")) / 2, "true", image::black);
    for (int32_t k = 0; k < n; ++k) {
        const std::string& name = names[size_t(k)];
        const int64_t along = int64_t(k) * cell + (cell - text_h) / 2;
        c.draw_text(left - 4 - image::text_width(name), top + along, name, image::black);  // row: true class
        c.draw_text_up(left + along, top - 4 - image::text_width(name), name, image::black);  // column
    }
    for (int32_t t = 0; t < n; ++t)
        for (int32_t p = 0; p < n; ++p) {
            const int64_t count = m.count(t, p), x = left + int64_t(p) * cell, y = top + int64_t(t) * cell;
            const image::Rgb bg = heat_color(count, max_count);
            c.fill_rect(x, y, cell, cell, bg);
            const std::string text = std::to_string(count);
            c.draw_text(x + (cell - image::text_width(text)) / 2, y + (cell - text_h) / 2, text, text_color_on(bg));
        }
    for (int32_t k = 0; k <= n; ++k) {
        const int64_t at = int64_t(k) * cell;
        c.draw_line(left + std::min(at, grid - 1), top, left + std::min(at, grid - 1), top + grid - 1, cell_border);
        c.draw_line(left, top + std::min(at, grid - 1), left + grid - 1, top + std::min(at, grid - 1), cell_border);
    }
    return map;
}

}  // namespace kiln::report
