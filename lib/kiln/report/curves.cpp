#include "kiln/report/curves.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "kiln/core/error.h"
#include "kiln/report/text.h"

namespace kiln::report {

namespace {

constexpr image::Rgb grid_grey{225, 225, 225}, frame_grey{90, 90, 90};

struct Series {
    const std::vector<double>* values;
    const char* name;
    image::Rgb color;
};

bool any_finite(const std::vector<double>& v) {
    return std::any_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

// 1, 2 or 5 times a power of ten, near range / target.
double nice_step(double range, int target) {
    const double raw = range / target, magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double f = raw / magnitude;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * magnitude;
}

std::string tick_text(double value, double step) {
    const int decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, std::abs(value) < step * 1e-6 ? 0.0 : value);
    return buf;
}

// Draws one panel into columns [x0, x0 + width) and returns where its data lands.
Axes draw_panel(image::Canvas& c, int64_t x0, int64_t width, const char* title, const Series (&series)[2]) {
    const int64_t frame_left = x0 + 58, frame_right = x0 + width - 14, frame_top = 34, frame_bottom = c.height() - 40;
    constexpr int64_t inset = 6;  // keeps markers off the frame
    Axes a{frame_left + inset, frame_top + inset, frame_right - inset, frame_bottom - inset};

    double lo = INFINITY, hi = -INFINITY;
    size_t epochs = 0;
    for (const Series& s : series) {
        epochs = std::max(epochs, s.values->size());
        for (double v : *s.values)
            if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
    const bool empty = lo > hi;
    if (empty) lo = 0, hi = 1;
    if (hi - lo < 1e-12) {
        const double half = std::max(std::abs(lo) * 0.1, 0.05);
        lo -= half, hi += half;
    }
    const double y_step = nice_step(hi - lo, 5);
    a.y_lo = std::floor(lo / y_step + 1e-9) * y_step;
    a.y_hi = std::ceil(hi / y_step - 1e-9) * y_step;
    if (epochs <= 1) a.x_lo = 0.5, a.x_hi = 1.5;  // one epoch sits in the middle
    else a.x_lo = 1, a.x_hi = double(epochs);
    const double x_step = std::max(1.0, std::round(nice_step(std::max(a.x_hi - a.x_lo, 1.0), 8)));

    // Grid lines and value ticks, then the frame over them.
    const int64_t y_ticks = std::lround((a.y_hi - a.y_lo) / y_step);
    for (int64_t k = 0; k <= y_ticks; ++k) {
        const double v = a.y_lo + double(k) * y_step;
        const int64_t y = a.y_pixel(v);
        c.draw_line(frame_left + 1, y, frame_right - 1, y, grid_grey);
        c.draw_line(frame_left - 4, y, frame_left - 1, y, frame_grey);
        const std::string t = tick_text(v, y_step);
        c.draw_text(frame_left - 7 - image::text_width(t), y - image::text_height() / 2, t, image::black);
    }
    for (double e = std::ceil(a.x_lo / x_step) * x_step; e <= a.x_hi + 1e-9; e += x_step) {
        const int64_t x = a.x_pixel(e);
        c.draw_line(x, frame_bottom + 1, x, frame_bottom + 4, frame_grey);
        const std::string t = tick_text(e, 1);
        c.draw_text(x - image::text_width(t) / 2, frame_bottom + 7, t, image::black);
    }
    c.draw_line(frame_left, frame_top, frame_right, frame_top, frame_grey);
    c.draw_line(frame_left, frame_bottom, frame_right, frame_bottom, frame_grey);
    c.draw_line(frame_left, frame_top, frame_left, frame_bottom, frame_grey);
    c.draw_line(frame_right, frame_top, frame_right, frame_bottom, frame_grey);

    // Axis labels and the title.
    c.draw_text((frame_left + frame_right - image::text_width("epoch")) / 2, c.height() - 16, "epoch", image::black);
    detail::draw_text_up(c, x0 + 8, (frame_top + frame_bottom - image::text_width(title)) / 2, title, image::black);
    c.draw_text(frame_left, 10, title, image::black, 2);
    if (empty)
        c.draw_text((frame_left + frame_right - image::text_width("no values")) / 2, (frame_top + frame_bottom) / 2,
                    "no values", frame_grey);

    // Validation first, so that train stays on top where they meet; each legend entry is a line
    // with a marker, then the name, right-aligned in the title row.
    int64_t legend_x = frame_right;
    for (int k = 1; k >= 0; --k) {
        const Series& s = series[k];
        if (!any_finite(*s.values)) continue;
        const std::vector<double>& v = *s.values;
        for (size_t i = 0; i < v.size(); ++i) {
            if (!std::isfinite(v[i])) continue;
            const int64_t x = a.x_pixel(double(i + 1)), y = a.y_pixel(v[i]);
            if (i + 1 < v.size() && std::isfinite(v[i + 1])) {
                const int64_t nx = a.x_pixel(double(i + 2)), ny = a.y_pixel(v[i + 1]);
                c.draw_line(x, y, nx, ny, s.color);
                c.draw_line(x, y + 1, nx, ny + 1, s.color);
            }
            c.fill_rect(x - 2, y - 2, 5, 5, s.color);
        }
        legend_x -= image::text_width(s.name);
        c.draw_text(legend_x, 14, s.name, image::black);
        legend_x -= 22;
        c.fill_rect(legend_x, 17, 16, 2, s.color);
        c.fill_rect(legend_x + 6, 15, 5, 5, s.color);
        legend_x -= 12;
    }
    return a;
}

}  // namespace

int64_t Axes::x_pixel(double epoch) const {
    return left + std::lround((epoch - x_lo) / (x_hi - x_lo) * double(right - left));
}

int64_t Axes::y_pixel(double value) const {
    return bottom - std::lround((value - y_lo) / (y_hi - y_lo) * double(bottom - top));
}

CurvesPicture draw_curves(const Curves& curves, const CurvesOptions& options) {
    if (options.width < 320 || options.height < 200)
        fail(Errc::invalid_argument, "draw_curves: the picture must be at least 320 × 200, asked for " +
                                         std::to_string(options.width) + " × " + std::to_string(options.height));
    image::Canvas canvas(options.width, options.height);
    const int64_t half = options.width / 2;
    const Series loss[2] = {{&curves.train_loss, "train", train_color}, {&curves.val_loss, "validation", validation_color}};
    const Series accuracy[2] = {{&curves.train_accuracy, "train", train_color},
                                {&curves.val_accuracy, "validation", validation_color}};
    const Axes loss_axes = draw_panel(canvas, 0, half, "loss", loss);
    const Axes accuracy_axes = draw_panel(canvas, half, options.width - half, "accuracy", accuracy);
    return {std::move(canvas), loss_axes, accuracy_axes};
}

}  // namespace kiln::report
