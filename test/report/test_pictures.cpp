// The report's pictures, read back from the PNGs they were saved as: curve points where their
// axes say, the learning rate and the best epoch marked, several runs overlaid, heat-map cells in
// their count's colour with readable text, grids and filters with the pixels their inputs give.
#define BOOST_TEST_MODULE report
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "image/make_images.h"
#include "kiln/core/error.h"
#include "kiln/image/codec.h"
#include "kiln/report/confusion.h"
#include "kiln/report/curves.h"
#include "kiln/report/grid.h"
#include "kiln/report/save.h"

namespace report = kiln::report;
using kiln::image::Image;
using kiln::image::Rgb;

namespace kiln::image {
std::ostream& operator<<(std::ostream& os, Rgb c) { return os << "rgb(" << int(c.r) << ", " << int(c.g) << ", " << int(c.b) << ")"; }
}  // namespace kiln::image

namespace {

Rgb at(const Image& img, int64_t x, int64_t y) {
    const uint8_t* p = &img.pixels[size_t((y * img.width + x) * 3)];
    return {p[0], p[1], p[2]};
}

// Pixels of `color` in columns [x0, x1).
int64_t count_color(const Image& img, Rgb color, int64_t x0, int64_t x1) {
    int64_t n = 0;
    for (int64_t y = 0; y < img.height; ++y)
        for (int64_t x = x0; x < x1; ++x) n += at(img, x, y) == color;
    return n;
}

// Saved through report::save_png and decoded again, as a reader of the run folder sees it.
Image saved(const kiln::image::Canvas& canvas, const TempDir& dir, const std::string& name) {
    report::save_png(dir / name, canvas);
    for (const auto& entry : std::filesystem::directory_iterator(dir.path))
        BOOST_TEST(entry.path().filename().string().find(".tmp") == std::string::npos, "left behind: " << entry.path());
    return kiln::image::decode_file(dir / name);
}

bool code_is(const kiln::Error& e, kiln::Errc c) { return e.code() == c; }

}  // namespace

BOOST_AUTO_TEST_SUITE(pictures)

BOOST_AUTO_TEST_CASE(curves_put_each_epoch_where_the_axes_say) {
    TempDir dir;
    report::Curves c;
    c.train_loss = {1.0, 0.6, 0.2};
    c.val_loss = {0.9, 0.8};  // validation may be shorter
    c.train_accuracy = {0.5, 0.7, 0.9};  // and missing
    const report::CurvesPicture pic = report::draw_curves(c);
    const Image png = saved(pic.canvas, dir, "curves.png");
    BOOST_TEST(png.width == 960);
    BOOST_TEST(png.height == 360);

    // Loss values 0.2..1.0: ticks 0.2 apart, the outermost at the data's ends.
    BOOST_TEST(pic.loss.y_lo == 0.2, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(pic.loss.y_hi == 1.0, boost::test_tools::tolerance(1e-9));
    BOOST_TEST((pic.loss.x_lo == 1 && pic.loss.x_hi == 3));
    BOOST_TEST(pic.loss.right < pic.accuracy.left);  // side by side
    BOOST_TEST(pic.accuracy.right < pic.lr.left);
    for (size_t e = 0; e < 3; ++e)
        BOOST_TEST(at(png, pic.loss.x_pixel(double(e + 1)), pic.loss.y_pixel(c.train_loss[e])) == report::train_color,
                   "train loss, epoch " << e + 1);
    BOOST_TEST(at(png, pic.loss.x_pixel(1), pic.loss.top) == report::train_color);      // 1.0 at the top
    BOOST_TEST(at(png, pic.loss.x_pixel(3), pic.loss.bottom) == report::train_color);   // 0.2 at the bottom
    BOOST_TEST(at(png, pic.loss.x_pixel(2), pic.loss.y_pixel(0.8)) == report::validation_color);
    // Halfway between two epochs the line passes between their values.
    const int64_t mid = (pic.loss.x_pixel(1) + pic.loss.x_pixel(2)) / 2;
    bool line = false;
    for (int64_t y = pic.loss.y_pixel(0.85); y <= pic.loss.y_pixel(0.75); ++y) line |= at(png, mid, y) == report::train_color;
    BOOST_TEST(line);
    for (size_t e = 0; e < 3; ++e)
        BOOST_TEST(at(png, pic.accuracy.x_pixel(double(e + 1)), pic.accuracy.y_pixel(c.train_accuracy[e])) ==
                   report::train_color);
    // No validation accuracy: no orange in the middle panel (not even in its legend).
    BOOST_TEST(count_color(png, report::validation_color, 320, 640) == 0);
    BOOST_TEST(count_color(png, report::validation_color, 0, 320) > 20);
    // Tick labels are black text left of the frame.
    BOOST_TEST(count_color(png, kiln::image::black, pic.loss.left - 40, pic.loss.left - 10) > 50);
    // No learning rate, no best epoch: the right panel has no purple, no panel any green.
    BOOST_TEST(count_color(png, report::lr_color, 640, 960) == 0);
    BOOST_TEST(count_color(png, report::best_color, 0, 960) == 0);
}

BOOST_AUTO_TEST_CASE(curves_draw_the_learning_rate_and_mark_the_best_epoch) {
    TempDir dir;
    report::Curves c;
    c.train_loss = {1.0, 0.6, 0.4, 0.3};
    c.val_loss = {0.9, 0.7, 0.5, 0.6};
    c.lr = {0.1, 0.075, 0.025, 0.0};  // cosine
    c.best_epoch = 3;
    const report::CurvesPicture pic = report::draw_curves(c, {.density = 2});
    const Image png = saved(pic.canvas, dir, "curves.png");
    BOOST_TEST(png.width == 1920);  // 960 × 360 units at 2 pixels a unit
    BOOST_TEST(png.height == 720);
    auto px = [&](int64_t x, int64_t y) { return at(png, 2 * x, 2 * y); };  // unit → its top-left pixel
    // The learning rate from 0.1 down to 0 in the right panel.
    BOOST_TEST(pic.lr.y_lo == 0.0, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(pic.lr.y_hi == 0.1, boost::test_tools::tolerance(1e-9));
    for (size_t e = 0; e < 4; ++e)
        BOOST_TEST(px(pic.lr.x_pixel(double(e + 1)), pic.lr.y_pixel(c.lr[e])) == report::lr_color, "lr, epoch " << e + 1);
    // The best epoch: a dashed green line down each panel, under the curves' markers.
    for (const report::Axes* a : {&pic.loss, &pic.accuracy, &pic.lr}) {
        const int64_t x = a->x_pixel(3);
        int64_t green = 0, rows = 0;
        for (int64_t y = a->top; y <= a->bottom; ++y, ++rows) green += px(x, y) == report::best_color;
        BOOST_TEST(green > rows / 3, green << " of " << rows << " rows");
        BOOST_TEST(green < rows * 3 / 4);  // dashed
        BOOST_TEST(px(a->x_pixel(2), (a->top + a->bottom) / 2) != report::best_color);
    }
    BOOST_TEST(px(pic.loss.x_pixel(3), pic.loss.y_pixel(0.5)) == report::validation_color);
}

BOOST_AUTO_TEST_CASE(compared_runs_share_the_axes_one_colour_each) {
    TempDir dir;
    std::vector<report::RunCurves> runs(2);
    runs[0].name = "runs/sgd", runs[1].name = "runs/adam";
    runs[0].curves.train_loss = {1.0, 0.8}, runs[0].curves.val_loss = {0.9, 0.85}, runs[0].curves.lr = {0.1, 0.1};
    runs[1].curves.train_loss = {0.7, 0.4, 0.3}, runs[1].curves.val_loss = {0.6, 0.5, 0.55}, runs[1].curves.lr = {0.001, 0.001, 0.001};
    runs[0].curves.best_epoch = runs[1].curves.best_epoch = 2;
    const report::CurvesPicture pic = report::draw_compared_curves(runs, {.density = 2});
    const Image png = saved(pic.canvas, dir, "compare.png");
    BOOST_TEST(png.width == 1920);
    BOOST_TEST(png.height > 720);  // the legend above the panels
    auto px = [&](int64_t x, int64_t y) { return at(png, 2 * x, 2 * y); };
    BOOST_TEST((pic.loss.x_lo == 1 && pic.loss.x_hi == 3));  // the longest run
    BOOST_TEST((pic.loss.y_lo <= 0.3 && pic.loss.y_hi >= 1.0));  // every run's values
    for (size_t k = 0; k < 2; ++k)
        for (size_t e = 0; e < runs[k].curves.val_loss.size(); ++e)
            BOOST_TEST(px(pic.loss.x_pixel(double(e + 1)), pic.loss.y_pixel(runs[k].curves.val_loss[e])) == report::run_color(k),
                       "run " << k << ", epoch " << e + 1);
    BOOST_TEST(px(pic.lr.x_pixel(1), pic.lr.y_pixel(0.1)) == report::run_color(0));
    BOOST_TEST(report::run_color(0) != report::run_color(1));
    BOOST_TEST(report::run_color(10) == report::run_color(0));
    BOOST_CHECK_EXCEPTION(report::draw_compared_curves({}), kiln::Error,
                          [](const kiln::Error& e) { return code_is(e, kiln::Errc::invalid_argument); });
}

BOOST_AUTO_TEST_CASE(one_epoch_sits_in_the_middle_and_empty_panels_say_so) {
    report::Curves c;
    c.train_loss = {0.7};
    const report::CurvesPicture pic = report::draw_curves(c, {.width = 600, .height = 300});
    BOOST_TEST(pic.canvas.width() == 600);
    BOOST_TEST(pic.loss.x_pixel(1) == (pic.loss.left + pic.loss.right) / 2);
    BOOST_TEST((pic.loss.y_lo < 0.7 && pic.loss.y_hi > 0.7));
    BOOST_TEST(pic.canvas.pixel(pic.loss.x_pixel(1), pic.loss.y_pixel(0.7)) == report::train_color);
    int64_t blue_right = 0;
    for (int64_t y = 0; y < 300; ++y)
        for (int64_t x = 200; x < 600; ++x) blue_right += pic.canvas.pixel(x, y) == report::train_color;
    BOOST_TEST(blue_right == 0);
    BOOST_CHECK_EXCEPTION(report::draw_curves(c, {.width = 100, .height = 100}), kiln::Error,
                          [](const kiln::Error& e) { return code_is(e, kiln::Errc::invalid_argument); });
}

BOOST_AUTO_TEST_CASE(a_nan_epoch_is_a_gap_in_its_line) {
    report::Curves c;
    c.train_loss = {1.0, NAN, 0.2};
    const report::CurvesPicture pic = report::draw_curves(c);
    BOOST_TEST(pic.loss.y_lo == 0.2, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(pic.loss.y_hi == 1.0, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(pic.canvas.pixel(pic.loss.x_pixel(1), pic.loss.y_pixel(1.0)) == report::train_color);
    BOOST_TEST(pic.canvas.pixel(pic.loss.x_pixel(3), pic.loss.y_pixel(0.2)) == report::train_color);
    int64_t blue = 0;  // nothing drawn over epoch 2, where a line from 1 to 3 would pass
    for (int64_t y = pic.loss.top; y <= pic.loss.bottom; ++y) blue += pic.canvas.pixel(pic.loss.x_pixel(2), y) == report::train_color;
    BOOST_TEST(blue == 0);
}

BOOST_AUTO_TEST_CASE(the_heat_map_colours_cells_by_count_with_readable_text) {
    TempDir dir;
    kiln::train::ConfusionMatrix cm(3);
    // counts: [[5, 0, 1], [2, 3, 0], [0, 0, 4]]
    std::vector<int64_t> t, p;
    const int64_t counts[3][3] = {{5, 0, 1}, {2, 3, 0}, {0, 0, 4}};
    for (int64_t a = 0; a < 3; ++a)
        for (int64_t b = 0; b < 3; ++b)
            for (int64_t k = 0; k < counts[a][b]; ++k) t.push_back(a), p.push_back(b);
    cm.add(t, p);
    const std::vector<std::string> names{"T-shirt/top", "Trouser", "Ankle boot"};
    const report::HeatMap map = report::draw_confusion_matrix(cm, names);
    const Image png = saved(map.canvas, dir, "confusion.png");
    BOOST_TEST(png.width == map.canvas.width());

    for (int64_t a = 0; a < 3; ++a)
        for (int64_t b = 0; b < 3; ++b) {
            const int64_t x = map.left + b * map.cell, y = map.top + a * map.cell;
            const Rgb bg = report::heat_color(counts[a][b], 5);
            BOOST_TEST(at(png, x + 3, y + 3) == bg, "cell " << a << ", " << b);
            // The count is drawn in the text colour for that background, in the cell's middle.
            const Rgb text = report::text_color_on(bg);
            int64_t lit = 0;
            for (int64_t yy = y + 4; yy < y + map.cell - 4; ++yy)
                for (int64_t xx = x + 4; xx < x + map.cell - 4; ++xx) lit += at(png, xx, yy) == text;
            BOOST_TEST(lit >= 7, "cell " << a << ", " << b);  // "1" has 10 pixels, "0" 16
        }
    BOOST_TEST(report::heat_color(5, 5) == (Rgb{8, 48, 107}));
    BOOST_TEST(report::heat_color(0, 5) == (Rgb{247, 251, 255}));
    BOOST_TEST(report::text_color_on(report::heat_color(5, 5)) == kiln::image::white);
    BOOST_TEST(report::text_color_on(report::heat_color(1, 5)) == kiln::image::black);

    // Row names left of the grid, column names (turned) above it, in each class's band.
    for (int64_t k = 0; k < 3; ++k) {
        int64_t row = 0, col = 0;
        for (int64_t d = 0; d < map.cell; ++d)
            for (int64_t o = 1; o < 60; ++o) {
                row += at(png, map.left - o, map.top + k * map.cell + d) == kiln::image::black;
                col += at(png, map.left + k * map.cell + d, map.top - o) == kiln::image::black;
            }
        BOOST_TEST(row > 20, "row name " << k);
        BOOST_TEST(col > 20, "column name " << k);
    }
    BOOST_CHECK_EXCEPTION(report::draw_confusion_matrix(cm, std::vector<std::string>{"a"}), kiln::Error,
                          [](const kiln::Error& e) { return code_is(e, kiln::Errc::invalid_argument); });
}

BOOST_AUTO_TEST_CASE(tensors_become_pictures_min_max_scaled) {
    const Image img = report::picture_from_chw(std::vector<float>{-1, 0, 1, 3, 0, 0}, 3, 1, 2);  // C=3, H=1, W=2
    BOOST_TEST(img.channels == 3);
    BOOST_TEST((img.pixels == std::vector<uint8_t>{0, 128, 64, 64, 255, 64}), boost::test_tools::per_element());
    const Image flat = report::picture_from_chw(std::vector<float>(4, 2.5f), 1, 2, 2);
    BOOST_TEST((flat.pixels == std::vector<uint8_t>(4, 128)));
    BOOST_CHECK_EXCEPTION(report::picture_from_chw(std::vector<float>(8), 2, 2, 2), kiln::Error,
                          [](const kiln::Error& e) { return code_is(e, kiln::Errc::invalid_argument); });
    float data[4] = {0, 1, 2, 3};
    const kiln_array hw{KILN_F32, 2, {2, 2, 0, 0}, data};
    BOOST_TEST((report::to_picture(hw, "x").pixels == std::vector<uint8_t>{0, 85, 170, 255}));
    uint8_t grey[4] = {0};
    const kiln_array bad{KILN_U8, 2, {2, 2, 0, 0}, grey};  // u8 images are H×W×C
    BOOST_CHECK_EXCEPTION(report::to_picture(bad, "sample 3"), kiln::Error, [](const kiln::Error& e) {
        return code_is(e, kiln::Errc::unsupported) && std::string(e.what()).rfind("sample 3 is ", 0) == 0;
    });
}

BOOST_AUTO_TEST_CASE(the_image_grid_puts_captions_under_pictures) {
    TempDir dir;
    std::vector<report::GridCell> cells;
    for (int k = 0; k < 3; ++k) {
        std::vector<float> v(4 * 5);
        for (size_t i = 0; i < v.size(); ++i) v[i] = float(i) * float(k + 1);
        cells.push_back({report::picture_from_chw(v, 1, 4, 5), report::prediction_caption("Shirt", "T-shirt/top", 0.81)});
    }
    BOOST_TEST(cells[0].caption == "true: Shirt\npred: T-shirt/top (0.81)");
    const report::ImageGrid grid = report::draw_image_grid(cells, {.cols = 2, .scale = 3});
    const Image png = saved(grid.canvas, dir, "wrong.png");
    // Cells as wide as the longer caption line, 6 apart; two text lines 2 apart under the image.
    const int64_t cell_w = kiln::image::text_width("pred: T-shirt/top (0.81)"), cell_h = 4 * 3 + 2 + 16 + 2 + 16;
    BOOST_TEST(png.width == 2 * (cell_w + 6) + 6);
    BOOST_TEST(png.height == 2 * (cell_h + 6) + 6);
    BOOST_TEST((grid.rows == 2 && grid.cols == 2 && grid.scale == 3));
    BOOST_TEST_REQUIRE(grid.placements.size() == 3u);
    for (size_t k = 0; k < 3; ++k) {
        const report::Placement& p = grid.placements[k];
        BOOST_TEST((p.width == 15 && p.height == 12));
        BOOST_TEST(p.x == 6 + int64_t(k % 2) * (cell_w + 6) + (cell_w - 15) / 2);
        BOOST_TEST(p.y == 6 + int64_t(k / 2) * (cell_h + 6));
        for (int64_t y = 0; y < 4; ++y)
            for (int64_t x = 0; x < 5; ++x) {
                const uint8_t v = cells[k].picture.pixels[size_t(y * 5 + x)];
                BOOST_TEST(at(png, p.x + 3 * x + 2, p.y + 3 * y + 1) == (Rgb{v, v, v}));
            }
        // Both caption lines are drawn: black pixels in each text row band.
        for (int line = 0; line < 2; ++line) {
            int64_t dark = 0;
            const int64_t cell_x = 6 + int64_t(k % 2) * (cell_w + 6), top = p.y + 12 + 2 + line * 18;
            for (int64_t y = top; y < top + 16; ++y)
                for (int64_t x = cell_x; x < cell_x + cell_w; ++x) dark += at(png, x, y) == kiln::image::black;
            BOOST_TEST(dark > 40, "cell " << k << " line " << line);
        }
    }
    BOOST_CHECK_EXCEPTION(report::draw_image_grid({}), kiln::Error,
                          [](const kiln::Error& e) { return code_is(e, kiln::Errc::invalid_argument); });
}

BOOST_AUTO_TEST_CASE(filters_are_normalised_like_make_grid) {
    TempDir dir;
    std::vector<float> w(2 * 9);  // [2, 1, 3, 3]: 0..17
    for (size_t i = 0; i < w.size(); ++i) w[i] = float(i);
    const report::ImageGrid grid = report::draw_filters(w, {2, 1, 3, 3});
    const Image png = saved(grid.canvas, dir, "filters.png");
    BOOST_TEST(grid.scale == 21);  // 3×3 filters drawn 63 units wide
    // Cells as wide as a tile, as high as a tile, a 4-unit gap and a number; 8 units apart and from the edges.
    BOOST_TEST(png.width == 2 * (63 + 8) + 8);
    BOOST_TEST(png.height == 63 + 4 + 16 + 2 * 8);
    BOOST_TEST(at(png, 0, 0) == kiln::image::white);  // the grid is white, not make_grid's black
    auto grey = [](double v) { const auto u = uint8_t(std::lround(v * 255)); return Rgb{u, u, u}; };
    // Per grid: 0 is black, 17 white, 9 (filter 1's first weight) 9/17.
    const report::Placement& f0 = grid.placements[0];
    const report::Placement& f1 = grid.placements[1];
    BOOST_TEST((f0.x == 8 && f0.y == 8 && f1.x == 8 + 71 && f0.width == 63));
    BOOST_TEST(at(png, f0.x + 5, f0.y + 5) == grey(0));
    BOOST_TEST(at(png, f0.x + 50, f0.y + 50) == grey(8.0 / 17));
    BOOST_TEST(at(png, f1.x + 5, f1.y + 5) == grey(9.0 / 17));
    BOOST_TEST(at(png, f1.x + 62, f1.y + 62) == grey(1));
    // A grey frame one unit outside each tile keeps a white filter's edge on the white grid.
    BOOST_TEST(at(png, f1.x - 1, f1.y + 30) == (Rgb{160, 160, 160}));
    BOOST_TEST(at(png, f1.x + 63, f1.y + 30) == (Rgb{160, 160, 160}));
    // Each filter's number under it, in black.
    for (const report::Placement& f : grid.placements) {
        int64_t dark = 0;
        for (int64_t y = f.y + f.height + 4; y < f.y + f.height + 20; ++y)
            for (int64_t x = f.x; x < f.x + f.width; ++x) dark += at(png, x, y) == kiln::image::black;
        BOOST_TEST(dark > 10);
    }
    // Per filter: each filter spans black to white.
    const report::ImageGrid each = report::draw_filters(w, {2, 1, 3, 3}, {.normalize = report::FilterNormalize::per_filter});
    BOOST_TEST(each.canvas.pixel(f1.x + 5, f1.y + 5) == grey(0));
    BOOST_TEST(each.canvas.pixel(f1.x + 50, f1.y + 30) == grey(5.0 / 8));  // weight 14 of 9..17

    // C = 3: RGB from the three input channels; C = 2: grey from their mean; a constant is black.
    const report::ImageGrid rgb = report::draw_filters(std::vector<float>{0, 1, 2, 2, 1, 0}, {2, 3, 1, 1}, {.scale = 4});
    BOOST_TEST(rgb.canvas.pixel(rgb.placements[0].x, rgb.placements[0].y) == (Rgb{0, 128, 255}));
    BOOST_TEST(rgb.canvas.pixel(rgb.placements[1].x + 3, rgb.placements[1].y + 3) == (Rgb{255, 128, 0}));
    const report::ImageGrid mean = report::draw_filters(std::vector<float>{0, 2, 4, 4}, {2, 2, 1, 1}, {.scale = 4});
    BOOST_TEST(mean.canvas.pixel(mean.placements[0].x, mean.placements[0].y) == grey(0));  // mean 1 of 1..4
    BOOST_TEST(mean.canvas.pixel(mean.placements[1].x, mean.placements[1].y) == grey(1));  // mean 4
    const report::ImageGrid flat = report::draw_filters(std::vector<float>(9, 0.3f), {1, 1, 3, 3});
    BOOST_TEST(flat.canvas.pixel(flat.placements[0].x + 4, flat.placements[0].y + 4) == kiln::image::black);

    // Rows of `cols` filters, make_grid's nrow; the second row's empty places stay white.
    const report::ImageGrid rows = report::draw_filters(std::vector<float>(10 * 9), {10, 1, 3, 3}, {.density = 2});
    BOOST_TEST((rows.rows == 2 && rows.cols == 8));
    BOOST_TEST(rows.placements[8].x == 8);
    BOOST_TEST(rows.placements[8].y == 8 + 83 + 8);
    BOOST_TEST(rows.canvas.view().width == 2 * rows.canvas.width());
    const report::Placement& last = rows.placements[9];
    for (int64_t x = last.x + last.width + 2; x < rows.canvas.width(); ++x)
        BOOST_TEST(rows.canvas.pixel(x, last.y + 30) == kiln::image::white, "at x = " << x);
    BOOST_CHECK_EXCEPTION(report::draw_filters(w, {2, 1, 3, 4}), kiln::Error,
                          [](const kiln::Error& e) { return code_is(e, kiln::Errc::shape_mismatch); });
    BOOST_CHECK_EXCEPTION(report::draw_filters(w, {2, 9}), kiln::Error,
                          [](const kiln::Error& e) { return code_is(e, kiln::Errc::invalid_argument); });
}

BOOST_AUTO_TEST_SUITE_END()
