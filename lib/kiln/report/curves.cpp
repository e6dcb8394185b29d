#include "kiln/report/curves.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "kiln/core/error.h"

namespace kiln::report {

namespace {

constexpr image::Rgb grid_grey{225, 225, 225}, frame_grey{90, 90, 90};

struct Line {
    const std::vector<double>* values;
    image::Rgb color;
    bool thin = false;  // one unit wide without markers (a compared run's training curve)
};

struct LegendEntry {
    std::string name;
    image::Rgb color;
    bool dashed = false;
};

struct BestMark {
    int64_t epoch;
    image::Rgb color;
    bool labelled;  // "best" written beside the line (one run)
};

struct Panel {
    const char* title;
    std::vector<Line> lines;  // drawn in order: later ones on top where they meet
    std::vector<LegendEntry> legend;
    std::vector<BestMark> best;
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

image::Rgb lighter(image::Rgb c) {
    auto mix = [](uint8_t v) { return uint8_t(v + (255 - v) * 11 / 20); };
    return {mix(c.r), mix(c.g), mix(c.b)};
}

// A legend's swatch, 16 units wide at (x, y) – (x + 16, y + 5): a line with a marker, or dashes.
void draw_swatch(image::Canvas& c, int64_t x, int64_t y, const LegendEntry& e) {
    if (e.dashed) {
        for (int64_t k = 0; k < 3; ++k) c.fill_rect(x + 6 * k, y + 2, 4, 1, e.color);
    } else {
        c.fill_rect(x, y + 2, 16, 2, e.color);
        c.fill_rect(x + 6, y, 5, 5, e.color);
    }
}

// Draws one panel into columns [x0, x0 + width) and rows [top, bottom) and returns where its data
// lands.
Axes draw_panel(image::Canvas& c, int64_t x0, int64_t width, int64_t top, int64_t bottom, const Panel& p) {
    const int64_t text_h = image::text_height();
    const int64_t frame_left = x0 + 64, frame_right = x0 + width - 16;
    const int64_t frame_top = top + text_h + 16, frame_bottom = bottom - 2 * text_h - 12;
    constexpr int64_t inset = 6;  // keeps markers off the frame
    Axes a{frame_left + inset, frame_top + inset, frame_right - inset, frame_bottom - inset};

    double lo = INFINITY, hi = -INFINITY;
    size_t epochs = 0;
    for (const Line& l : p.lines) {
        epochs = std::max(epochs, l.values->size());
        for (double v : *l.values)
            if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
    for (const BestMark& b : p.best) epochs = std::max(epochs, size_t(b.epoch));
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
    const double x_step = std::max(1.0, std::round(nice_step(std::max(a.x_hi - a.x_lo, 1.0), 6)));

    // Grid lines and value ticks, then the frame over them.
    const int64_t y_ticks = std::lround((a.y_hi - a.y_lo) / y_step);
    for (int64_t k = 0; k <= y_ticks; ++k) {
        const double v = a.y_lo + double(k) * y_step;
        const int64_t y = a.y_pixel(v);
        c.draw_line(frame_left + 1, y, frame_right - 1, y, grid_grey);
        c.draw_line(frame_left - 4, y, frame_left - 1, y, frame_grey);
        const std::string t = tick_text(v, y_step);
        c.draw_text(frame_left - 7 - image::text_width(t), y - text_h / 2, t, image::black);
    }
    for (double e = std::ceil(a.x_lo / x_step) * x_step; e <= a.x_hi + 1e-9; e += x_step) {
        const int64_t x = a.x_pixel(e);
        c.draw_line(x, frame_bottom + 1, x, frame_bottom + 4, frame_grey);
        const std::string t = tick_text(e, 1);
        c.draw_text(x - image::text_width(t) / 2, frame_bottom + 6, t, image::black);
    }
    c.draw_line(frame_left, frame_top, frame_right, frame_top, frame_grey);
    c.draw_line(frame_left, frame_bottom, frame_right, frame_bottom, frame_grey);
    c.draw_line(frame_left, frame_top, frame_left, frame_bottom, frame_grey);
    c.draw_line(frame_right, frame_top, frame_right, frame_bottom, frame_grey);
    c.draw_text((frame_left + frame_right - image::text_width("epoch")) / 2, bottom - text_h - 4, "epoch", image::black);
    c.draw_text(frame_left, top + 8, p.title, image::black);
    if (empty)
        c.draw_text((frame_left + frame_right - image::text_width("no values")) / 2, (frame_top + frame_bottom - text_h) / 2,
                    "no values", frame_grey);

    // The best epochs under the curves: dashed vertical lines, 4 units drawn and 3 left out.
    for (const BestMark& b : p.best) {
        if (b.epoch < 1) continue;
        const int64_t x = a.x_pixel(double(b.epoch));
        for (int64_t y = frame_top + 1; y < frame_bottom; ++y)
            if ((y - frame_top - 1) % 7 < 4) c.set_pixel(x, y, b.color);
        if (b.labelled) {
            const bool right = x + 3 + image::text_width("best") < frame_right;
            c.draw_text(right ? x + 3 : x - 2 - image::text_width("best"), frame_top + 3, "best", b.color);
        }
    }
    for (const Line& l : p.lines) {
        const std::vector<double>& v = *l.values;
        for (size_t i = 0; i < v.size(); ++i) {
            if (!std::isfinite(v[i])) continue;
            const int64_t x = a.x_pixel(double(i + 1)), y = a.y_pixel(v[i]);
            if (i + 1 < v.size() && std::isfinite(v[i + 1])) {
                const int64_t nx = a.x_pixel(double(i + 2)), ny = a.y_pixel(v[i + 1]);
                c.draw_line(x, y, nx, ny, l.color);
                if (!l.thin) c.draw_line(x, y + 1, nx, ny + 1, l.color);
            }
            if (!l.thin) c.fill_rect(x - 2, y - 2, 5, 5, l.color);
        }
    }
    // The legend right-aligned in the title row, last entry rightmost; left out where it would
    // reach the title (the colours are the other panels').
    int64_t legend_w = 0;
    for (const LegendEntry& e : p.legend) legend_w += 36 + image::text_width(e.name);
    if (frame_left + image::text_width(p.title) + 16 + legend_w > frame_right) return a;
    int64_t legend_x = frame_right;
    for (auto e = p.legend.rbegin(); e != p.legend.rend(); ++e) {
        legend_x -= image::text_width(e->name);
        c.draw_text(legend_x, top + 8, e->name, image::black);
        legend_x -= 22;
        draw_swatch(c, legend_x, top + 8 + text_h / 2 - 3, *e);
        legend_x -= 14;
    }
    return a;
}

void check_size(const CurvesOptions& o) {
    if (o.width < 480 || o.height < 240)
        fail(Errc::invalid_argument, "draw_curves: the picture must be at least 480 × 240, asked for " + std::to_string(o.width) +
                                         " × " + std::to_string(o.height));
}

// The three panels side by side in rows [top, top + height).
CurvesPicture draw_panels(image::Canvas canvas, int64_t top, const Panel (&panels)[3]) {
    const int64_t w = canvas.width(), third = w / 3, bottom = canvas.height();
    const Axes loss = draw_panel(canvas, 0, third, top, bottom, panels[0]);
    const Axes accuracy = draw_panel(canvas, third, third, top, bottom, panels[1]);
    const Axes lr = draw_panel(canvas, 2 * third, w - 2 * third, top, bottom, panels[2]);
    return {std::move(canvas), loss, accuracy, lr};
}

}  // namespace

int64_t Axes::x_pixel(double epoch) const {
    return left + std::lround((epoch - x_lo) / (x_hi - x_lo) * double(right - left));
}

int64_t Axes::y_pixel(double value) const {
    return bottom - std::lround((value - y_lo) / (y_hi - y_lo) * double(bottom - top));
}

image::Rgb run_color(size_t k) {
    static constexpr image::Rgb tab10[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                                             {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
    return tab10[k % 10];
}

CurvesPicture draw_curves(const Curves& c, const CurvesOptions& options) {
    check_size(options);
    // Validation first, so that train stays on top where they meet.
    auto pair = [&](const char* title, const std::vector<double>& train, const std::vector<double>& valid) {
        Panel p{title, {}, {}, {{c.best_epoch, best_color, true}}};
        if (any_finite(valid)) p.lines.push_back({&valid, validation_color}), p.legend.push_back({"validation", validation_color});
        if (any_finite(train)) p.lines.push_back({&train, train_color}), p.legend.insert(p.legend.begin(), LegendEntry{"train", train_color});
        return p;
    };
    Panel lr{"learning rate", {}, {}, {{c.best_epoch, best_color, true}}};
    if (any_finite(c.lr)) lr.lines.push_back({&c.lr, lr_color});
    const Panel panels[3] = {pair("loss", c.train_loss, c.val_loss), pair("accuracy", c.train_accuracy, c.val_accuracy), lr};
    return draw_panels(image::Canvas(options.width, options.height, image::white, options.density), 0, panels);
}

CurvesPicture draw_compared_curves(std::span<const RunCurves> runs, const CurvesOptions& options) {
    check_size(options);
    if (runs.empty()) fail(Errc::invalid_argument, "draw_compared_curves: no runs");
    // The legend: a key line, then the runs' swatches and names, as many to a row as fit.
    const int64_t text_h = image::text_height(), row_h = text_h + 6, margin = 16;
    const std::string key = "markers: validation   thin light lines: train   dashed: each run's best epoch";
    std::vector<std::pair<int64_t, int64_t>> at;  // each run's legend entry
    int64_t x = margin, y = margin + row_h;
    for (const RunCurves& r : runs) {
        const int64_t w = 22 + image::text_width(r.name);
        if (x > margin && x + w > options.width - margin) x = margin, y += row_h;
        at.push_back({x, y});
        x += w + 24;
    }
    const int64_t legend_h = y + row_h;
    image::Canvas canvas(options.width, options.height + legend_h, image::white, options.density);
    canvas.draw_text(margin, margin, key, frame_grey);
    for (size_t k = 0; k < runs.size(); ++k) {
        draw_swatch(canvas, at[k].first, at[k].second + text_h / 2 - 3, {runs[k].name, run_color(k)});
        canvas.draw_text(at[k].first + 22, at[k].second, runs[k].name, image::black);
    }

    Panel panels[3] = {{"loss", {}, {}, {}}, {"accuracy", {}, {}, {}}, {"learning rate", {}, {}, {}}};
    for (size_t k = 0; k < runs.size(); ++k) {  // every run's training curves under every validation curve
        const Curves& c = runs[k].curves;
        panels[0].lines.push_back({&c.train_loss, lighter(run_color(k)), true});
        panels[1].lines.push_back({&c.train_accuracy, lighter(run_color(k)), true});
    }
    for (size_t k = 0; k < runs.size(); ++k) {
        const Curves& c = runs[k].curves;
        panels[0].lines.push_back({&c.val_loss, run_color(k)});
        panels[1].lines.push_back({&c.val_accuracy, run_color(k)});
        panels[2].lines.push_back({&c.lr, run_color(k)});
        for (Panel& p : panels) p.best.push_back({c.best_epoch, run_color(k), false});
    }
    return draw_panels(std::move(canvas), legend_h, panels);
}

}  // namespace kiln::report
