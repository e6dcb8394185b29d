// A confusion matrix as a heat map: rows are the true classes, columns the predicted ones (the
// picture says so in its title and axis labels), class names on both axes (the columns' turned a
// quarter), each cell's count written in it, white text on dark cells and black on light ones.
//
//   kiln::report::save_png("confusion.png", kiln::report::draw_confusion_matrix(cm, dataset.class_names()));
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "kiln/image/draw.h"
#include "kiln/train/metrics.h"

namespace kiln::report {

// A cell's colour: from (247, 251, 255) for 0 to (8, 48, 107) for max_count, linear in
// count / max_count (the two ends of matplotlib's "Blues"); 0 colours when max_count is 0.
image::Rgb heat_color(int64_t count, int64_t max_count);
// Black or white, whichever reads better on `background` (ITU-R 601 luma below 128: white).
image::Rgb text_color_on(image::Rgb background);

// Where the cells are, in units: cell (true t, predicted p) covers [left + p·cell, left + (p+1)·cell) ×
// [top + t·cell, top + (t+1)·cell).
struct HeatMap {
    image::Canvas canvas;
    int64_t left = 0, top = 0, cell = 0;
};

// At `density` pixels a unit (image::Canvas). Error(invalid_argument) unless there is one name per class.
HeatMap draw_confusion_matrix(const train::ConfusionMatrix& matrix, std::span<const std::string> class_names, int density = 1);

}  // namespace kiln::report
