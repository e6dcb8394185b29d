#include "kiln/report/grid.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "kiln/core/error.h"
#include "kiln/data/dataset.h"

namespace kiln::report {

namespace {

std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> lines;
    for (size_t start = 0;;) {
        const size_t end = text.find('\n', start);
        lines.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos) return lines;
        start = end + 1;
    }
}

int64_t cols_or_square_root(int64_t cols, int64_t n) {
    return cols > 0 ? cols : int64_t(std::ceil(std::sqrt(double(n))));
}

constexpr int64_t line_gap = 2;  // between caption lines, and between a picture and its caption
constexpr int64_t number_gap = 4;  // between a filter and its number
constexpr image::Rgb frame_grey{160, 160, 160};

}  // namespace

image::Image picture_from_chw(std::span<const float> values, int64_t channels, int64_t height, int64_t width) {
    if ((channels != 1 && channels != 3) || height < 0 || width < 0 || values.size() != size_t(channels * height * width))
        fail(Errc::invalid_argument, "picture_from_chw: " + std::to_string(values.size()) + " values for C×H×W = " +
                                         std::to_string(channels) + "×" + std::to_string(height) + "×" +
                                         std::to_string(width) + " (C must be 1 or 3)");
    image::Image img{height, width, int(channels), std::vector<uint8_t>(values.size())};
    if (values.empty()) return img;
    const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
    const size_t plane = size_t(height * width), c = size_t(channels);
    for (size_t k = 0; k < c; ++k)
        for (size_t i = 0; i < plane; ++i) {
            const float x = *hi > *lo ? (values[k * plane + i] - *lo) / (*hi - *lo) : 0.5f;
            img.pixels[i * c + k] = uint8_t(std::lround(x * 255.0f));
        }
    return img;
}

image::Image to_picture(const kiln_array& s, const std::string& what) {
    if (s.elem == KILN_U8 && s.rank == 3 && (s.shape[2] == 1 || s.shape[2] == 3)) {
        const auto* p = static_cast<const uint8_t*>(s.data);
        return {s.shape[0], s.shape[1], int(s.shape[2]), std::vector<uint8_t>(p, p + data::array_bytes(s))};
    }
    const bool chw = s.rank == 3 && (s.shape[0] == 1 || s.shape[0] == 3);
    if (s.elem != KILN_F32 || !(chw || s.rank == 2))
        fail(Errc::unsupported, what + " is " + data::array_description(s) +
                                    ": a picture is a u8 H×W×C image (C = 1 or 3) or an f32 C×H×W or H×W tensor");
    const int64_t c = chw ? s.shape[0] : 1, h = s.shape[s.rank - 2], w = s.shape[s.rank - 1];
    return picture_from_chw({static_cast<const float*>(s.data), size_t(c * h * w)}, c, h, w);
}

std::string prediction_caption(std::string_view truth, std::string_view predicted, double probability) {
    char p[32];
    std::snprintf(p, sizeof p, " (%.2f)", probability);
    return "true: " + std::string(truth) + "\npred: " + std::string(predicted) + p;
}

ImageGrid draw_image_grid(std::span<const GridCell> cells, const GridOptions& options) {
    if (cells.empty()) fail(Errc::invalid_argument, "draw_image_grid: no pictures");
    if (options.cols < 0 || options.scale < 0)
        fail(Errc::invalid_argument, "draw_image_grid: cols and scale must be ≥ 0 (0: automatic)");
    const int64_t n = int64_t(cells.size());
    const int64_t cols = cols_or_square_root(options.cols, n);
    int64_t max_h = 0, max_w = 0, max_lines = 0;
    for (const GridCell& c : cells) {
        max_h = std::max(max_h, c.picture.height), max_w = std::max(max_w, c.picture.width);
        max_lines = std::max(max_lines, int64_t(lines_of(c.caption).size()));
    }
    const int scale = options.scale > 0 ? options.scale : int(std::max<int64_t>(1, 96 / std::max({int64_t(1), max_h, max_w})));

    constexpr int64_t pad = 6;
    int64_t cell_w = max_w * scale;
    for (const GridCell& c : cells)
        for (std::string_view line : lines_of(c.caption)) cell_w = std::max(cell_w, image::text_width(line));
    const int64_t caption_h = max_lines * image::text_height() + (max_lines - 1) * line_gap;
    const int64_t cell_h = max_h * scale + line_gap + caption_h;
    const int64_t rows = (n + cols - 1) / cols, used_cols = std::min(cols, n);
    ImageGrid grid{image::Canvas(used_cols * (cell_w + pad) + pad, rows * (cell_h + pad) + pad, image::white, options.density),
                   {}, scale, rows, used_cols};
    for (int64_t k = 0; k < n; ++k) {
        const GridCell& c = cells[size_t(k)];
        const int64_t x = pad + k % cols * (cell_w + pad), y = pad + k / cols * (cell_h + pad);
        const Placement at{x + (cell_w - c.picture.width * scale) / 2, y, c.picture.width * scale, c.picture.height * scale};
        grid.canvas.blit(image::view(c.picture), at.x, at.y, scale);
        int64_t line_y = y + max_h * scale + line_gap;
        for (std::string_view line : lines_of(c.caption)) {
            grid.canvas.draw_text(x + (cell_w - image::text_width(line)) / 2, line_y, line, image::black);
            line_y += image::text_height() + line_gap;
        }
        grid.placements.push_back(at);
    }
    return grid;
}

ImageGrid draw_filters(std::span<const float> weight, const Shape& shape, const FilterGridOptions& options) {
    if (shape.rank != 4 || shape.numel() == 0)
        fail(Errc::invalid_argument, "draw_filters: a convolution weight is [out, in, kh, kw] with no zero sizes, got " +
                                         shape.str());
    if (weight.size() != size_t(shape.numel()))
        fail(Errc::shape_mismatch, "draw_filters: " + std::to_string(weight.size()) + " values for a weight of shape " +
                                       shape.str());
    if (options.cols < 1 || options.scale < 0 || options.padding < 0)
        fail(Errc::invalid_argument, "draw_filters: cols must be ≥ 1, scale and padding ≥ 0");
    const int64_t filters = shape[0], in = shape[1], kh = shape[2], kw = shape[3], plane = kh * kw;
    const int channels = in == 3 ? 3 : 1;

    // Each filter's planes as displayed: the three RGB planes, the one grey plane, or their mean.
    std::vector<float> shown(size_t(filters * channels * plane));
    for (int64_t f = 0; f < filters; ++f)
        for (int64_t i = 0; i < plane; ++i) {
            const float* w = weight.data() + f * in * plane + i;
            float* out = shown.data() + f * channels * plane + i;
            if (channels == 3) {
                for (int c = 0; c < 3; ++c) out[c * plane] = w[c * plane];
            } else {
                double sum = 0;
                for (int64_t c = 0; c < in; ++c) sum += w[c * plane];
                out[0] = float(sum / double(in));
            }
        }

    const int scale = options.scale > 0 ? options.scale : int(std::max<int64_t>(1, 64 / std::max(kh, kw)));
    const int64_t pad = options.padding, cols = std::min(options.cols, filters), rows = (filters + cols - 1) / cols;
    const int64_t tile_w = kw * scale, tile_h = kh * scale;
    // Each column as wide as a tile or its number; each row a tile, a gap and the number.
    const int64_t cell_w = std::max(tile_w, image::text_width(std::to_string(filters - 1)));
    const int64_t cell_h = tile_h + number_gap + image::text_height();
    ImageGrid grid{image::Canvas(cols * (cell_w + pad) + pad, rows * (cell_h + pad) + pad, image::white, options.density), {},
                   scale, rows, cols};
    const size_t per_filter = size_t(channels * plane);
    auto range = [&](size_t from, size_t count) { return std::minmax_element(shown.begin() + from, shown.begin() + from + count); };
    auto [grid_lo, grid_hi] = range(0, shown.size());
    image::Image tile{kh, kw, channels, std::vector<uint8_t>(per_filter)};
    for (int64_t f = 0; f < filters; ++f) {
        const size_t from = size_t(f) * per_filter;
        float lo = *grid_lo, hi = *grid_hi;
        if (options.normalize == FilterNormalize::per_filter) {
            const auto [l, h] = range(from, per_filter);
            lo = *l, hi = *h;
        }
        const float span = std::max(hi - lo, 1e-5f);
        for (int c = 0; c < channels; ++c)
            for (int64_t i = 0; i < plane; ++i) {
                const float x = std::clamp((shown[from + size_t(c * plane + i)] - lo) / span, 0.0f, 1.0f);
                tile.pixels[size_t(i * channels + c)] = uint8_t(std::lround(x * 255.0f));
            }
        const int64_t x = pad + f % cols * (cell_w + pad), y = pad + f / cols * (cell_h + pad);
        const Placement at{x + (cell_w - tile_w) / 2, y, tile_w, tile_h};
        // The frame first, one unit outside the tile, so that light filters keep their edges on white.
        grid.canvas.fill_rect(at.x - 1, at.y - 1, tile_w + 2, tile_h + 2, frame_grey);
        grid.canvas.blit(image::view(tile), at.x, at.y, scale);
        const std::string number = std::to_string(f);
        grid.canvas.draw_text(x + (cell_w - image::text_width(number)) / 2, y + tile_h + number_gap, number, image::black);
        grid.placements.push_back(at);
    }
    return grid;
}

}  // namespace kiln::report
