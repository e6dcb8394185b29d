// Loss and accuracy curves per epoch, train against validation, as kiln-train draws them: two
// panels side by side (loss left, accuracy right), each with a frame, ticks and tick labels, axis
// labels, light grid lines at the value ticks and a legend; train in blue, validation in orange
// (matplotlib's first two colours), each epoch's value a 5×5 marker joined by 2-pixel lines.
//
//   kiln::report::Curves c{.train_loss = {0.9, 0.5, 0.4}, .val_loss = {0.8, 0.6, 0.5},
//                          .train_accuracy = {0.7, 0.8, 0.85}, .val_accuracy = {0.72, 0.79, 0.82}};
//   kiln::report::save_png("curves.png", kiln::report::draw_curves(c).canvas);
#pragma once
#include <cstdint>
#include <vector>

#include "kiln/image/draw.h"

namespace kiln::report {

inline constexpr image::Rgb train_color{31, 119, 180};
inline constexpr image::Rgb validation_color{255, 127, 14};

// Value k of a vector belongs to epoch k + 1. Any vector may be empty (no validation, or no
// accuracy for a regression model) or shorter than the others; a NaN or infinite value is a gap.
struct Curves {
    std::vector<double> train_loss, val_loss;
    std::vector<double> train_accuracy, val_accuracy;
};

struct CurvesOptions {
    int64_t width = 640, height = 400;  // at least 320 × 200
};

// Where one panel's data lands: epoch x_lo at pixel column left, x_hi at right; value y_lo at
// pixel row bottom, y_hi at top (y_lo and y_hi are the outermost value ticks).
struct Axes {
    int64_t left = 0, top = 0, right = 0, bottom = 0;
    double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
    int64_t x_pixel(double epoch) const;
    int64_t y_pixel(double value) const;
};

struct CurvesPicture {
    image::Canvas canvas;
    Axes loss, accuracy;
};

// A panel without any finite value says "no values" on axes 0..1. Error(invalid_argument) for a
// canvas smaller than the options allow.
CurvesPicture draw_curves(const Curves& curves, const CurvesOptions& options = {});

}  // namespace kiln::report
