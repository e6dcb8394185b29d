// Image grids: samples with captions under them (kiln-data grid, misclassified samples) and the
// first convolution's filters (torchvision.utils.make_grid(normalize=True)).
//
//   std::vector<kiln::report::GridCell> cells;
//   cells.push_back({kiln::report::picture_from_chw(x, 1, 28, 28), kiln::report::prediction_caption("Shirt", "T-shirt/top", 0.81)});
//   kiln::report::save_png("wrong.png", kiln::report::draw_image_grid(cells).canvas);
//   kiln::report::save_png("filters.png", kiln::report::draw_filters(weight, {10, 1, 3, 3}).canvas);
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/core/shape.h"
#include "kiln/data/plugin.h"
#include "kiln/image/draw.h"

namespace kiln::report {

// An f32 C×H×W tensor (C = 1 or 3; values.size() = C·H·W) as an 8-bit picture, min-max scaled
// over the whole tensor to 0..255 (so normalised inputs look as they did before normalisation);
// a constant tensor is mid-grey (128). Error(invalid_argument) for other shapes.
image::Image picture_from_chw(std::span<const float> values, int64_t channels, int64_t height, int64_t width);

// A sample as a dataset or pipeline gives it: u8 H×W×C (C = 1 or 3) as it is; f32 C×H×W
// (C = 1 or 3) or H×W through picture_from_chw. Anything else is Error(unsupported) starting
// with `what` (e.g. "sample 17").
image::Image to_picture(const kiln_array& sample, const std::string& what);

// "true: Shirt\npred: T-shirt/top (0.81)" — two caption lines for a prediction.
std::string prediction_caption(std::string_view truth, std::string_view predicted, double probability);

struct GridCell {
    image::Image picture;  // 1 or 3 channels
    std::string caption;   // drawn in black under the picture, centred; '\n' starts a new line
};

struct GridOptions {
    int64_t cols = 0;  // pictures per row; 0: the square root of their number, rounded up
    int scale = 0;     // each pixel drawn scale × scale units; 0: pictures about 96 units high
    int density = 1;   // pixels a unit (image::Canvas)
};

// Where one picture landed on the canvas, in units (its size after scaling).
struct Placement {
    int64_t x = 0, y = 0, width = 0, height = 0;
};

struct ImageGrid {
    image::Canvas canvas;
    std::vector<Placement> placements;  // one per picture or filter, in order
    int scale = 1;  // units a picture's pixel or a weight takes
    int64_t rows = 0, cols = 0;
};

// Cells as wide as the widest picture or caption line, as high as the tallest picture plus a
// 2-unit gap and the most caption lines (2 units apart), 6 units apart and from the edges, on
// white. Pictures are centred in their cell. Error(invalid_argument) for no cells or bad options.
ImageGrid draw_image_grid(std::span<const GridCell> cells, const GridOptions& options = {});

enum class FilterNormalize {
    per_grid,    // one min-max over every filter (make_grid's default, scale_each=False)
    per_filter,  // each filter its own min-max (scale_each=True)
};

struct FilterGridOptions {
    FilterNormalize normalize = FilterNormalize::per_grid;
    int64_t cols = 8;      // filters per row (make_grid's nrow)
    int scale = 0;         // each weight drawn scale × scale units; 0: filters about 64 units wide
    int64_t padding = 8;   // units between filters and around the grid
    int density = 1;       // pixels a unit (image::Canvas)
};

// A convolution weight [O, C, kh, kw] (weight.size() = O·C·kh·kw) as O tiles, as
// make_grid(weight, normalize=True) draws it: C = 3 as RGB, C = 1 as grey, any other C as grey
// from the mean over the input channels. Values are min-max scaled to 0..255 as the option says;
// a constant range becomes 0 (black), as make_grid's max(max − min, 1e-5) divisor gives. Unlike
// make_grid's, the grid is white: each tile framed by a grey line one unit outside it, its output
// channel's number under it, and the places of a last row without filters left white.
// Error(invalid_argument) or Error(shape_mismatch) for a bad shape or size.
ImageGrid draw_filters(std::span<const float> weight, const Shape& shape, const FilterGridOptions& options = {});

}  // namespace kiln::report
