// Curves per epoch, as kiln-train and kiln-report compare draw them: three panels side by side —
// loss, accuracy and learning rate — each with a frame, ticks and tick labels, light grid lines
// at the value ticks and a legend. One run: train in blue, validation in orange (matplotlib's
// first two colours), the learning rate in purple, each epoch's value a 5×5 marker joined by
// 2-unit lines, and the best epoch a dashed green line across every panel. Several runs
// (draw_compared_curves, TensorBoard's scalars view): one colour per run, validation as above,
// train a thin lighter line of the run's colour, each run's best epoch a dashed line of its colour,
// the runs' names in a legend above the panels.
//
//   kiln::report::Curves c{.train_loss = {0.9, 0.5, 0.4}, .val_loss = {0.8, 0.6, 0.5},
//                          .train_accuracy = {0.7, 0.8, 0.85}, .val_accuracy = {0.72, 0.79, 0.82},
//                          .lr = {0.1, 0.05, 0.01}, .best_epoch = 3};
//   kiln::report::save_png("curves.png", kiln::report::draw_curves(c, {.density = 2}).canvas);
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kiln/image/draw.h"

namespace kiln::report {

inline constexpr image::Rgb train_color{31, 119, 180};
inline constexpr image::Rgb validation_color{255, 127, 14};
inline constexpr image::Rgb lr_color{148, 103, 189};
inline constexpr image::Rgb best_color{44, 160, 44};

// Value k of a vector belongs to epoch k + 1. Any vector may be empty (no validation, or no
// accuracy for a regression model) or shorter than the others; a NaN or infinite value is a gap.
struct Curves {
    std::vector<double> train_loss, val_loss;
    std::vector<double> train_accuracy, val_accuracy;
    std::vector<double> lr;  // the learning rate of each epoch
    int64_t best_epoch = 0;  // the epoch marked best (the checkpoint's); 0: none
};

struct CurvesOptions {
    int64_t width = 960, height = 360;  // units; at least 480 × 240
    int density = 1;                    // pixels a unit (image::Canvas)
};

// Where one panel's data lands, in units: epoch x_lo at column left, x_hi at right; value y_lo at
// row bottom, y_hi at top (y_lo and y_hi are the outermost value ticks).
struct Axes {
    int64_t left = 0, top = 0, right = 0, bottom = 0;
    double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
    int64_t x_pixel(double epoch) const;
    int64_t y_pixel(double value) const;
};

struct CurvesPicture {
    image::Canvas canvas;
    Axes loss, accuracy, lr;
};

// A panel without any finite value says "no values" on axes 0..1. Error(invalid_argument) for a
// canvas smaller than the options allow.
CurvesPicture draw_curves(const Curves& curves, const CurvesOptions& options = {});

struct RunCurves {
    std::string name;  // in the legend
    Curves curves;
};

// The k-th run's colour: matplotlib's ten "tab10" colours, then again.
image::Rgb run_color(size_t k);

// Every run on the same three panels; the legend above them takes a row per few runs, so the
// canvas is taller than options.height by that. Error(invalid_argument) for no runs.
CurvesPicture draw_compared_curves(std::span<const RunCurves> runs, const CurvesOptions& options = {});

}  // namespace kiln::report
