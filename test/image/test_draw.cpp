// kiln::image::Canvas: glyphs land on the pixels their bitmap says, blits scale by whole pixels,
// everything clips to the canvas, and save_png writes what the canvas holds.
#define BOOST_TEST_MODULE draw
#include <boost/test/unit_test.hpp>

#include <ostream>
#include <set>
#include <sstream>
#include <utility>

#include "kiln/core/error.h"
#include "kiln/image/codec.h"
#include "kiln/image/draw.h"
#include "temp_dir.h"

using namespace kiln::image;
using Points = std::set<std::pair<int64_t, int64_t>>;  // (x, y)

namespace kiln::image {
std::ostream& operator<<(std::ostream& os, Rgb c) { return os << "rgb(" << int(c.r) << ", " << int(c.g) << ", " << int(c.b) << ")"; }
}  // namespace kiln::image

namespace {

std::string str(const Points& points) {
    std::ostringstream os;
    for (auto [x, y] : points) os << "(" << x << ", " << y << ") ";
    return os.str();
}

// The pixels of `c` that are not `background`.
Points drawn(const Canvas& c, Rgb background) {
    Points p;
    for (int64_t y = 0; y < c.height(); ++y)
        for (int64_t x = 0; x < c.width(); ++x)
            if (c.pixel(x, y) != background) p.insert({x, y});
    return p;
}

bool throws_invalid_argument(const kiln::Error& e) { return e.code() == kiln::Errc::invalid_argument; }

}  // namespace

BOOST_AUTO_TEST_CASE(text_width_counts_glyphs_and_gaps_between_them) {
    BOOST_TEST(text_width("") == 0);
    BOOST_TEST(text_width("I") == 5);
    BOOST_TEST(text_width("Bag") == 17);  // 5 + 1 + 5 + 1 + 5
    BOOST_TEST(text_width("Bag", 3) == 51);
    BOOST_TEST(text_height(2) == 14);
    BOOST_CHECK_EXCEPTION(text_width("x", 0), kiln::Error, throws_invalid_argument);
}

BOOST_AUTO_TEST_CASE(the_letter_I_is_a_bar_with_serifs) {
    Canvas c(8, 9, black);
    c.draw_text(1, 1, "I", white);
    // .###.  at x = 1..5, y = 1..7: the top and bottom rows x = 2..4, the stem x = 3
    // ..#..
    Points expected;
    for (int64_t x = 2; x <= 4; ++x) expected.insert({x, 1}), expected.insert({x, 7});
    for (int64_t y = 2; y <= 6; ++y) expected.insert({3, y});
    BOOST_TEST((drawn(c, black) == expected), str(drawn(c, black)));
    BOOST_TEST(c.pixel(3, 4) == white);
}

BOOST_AUTO_TEST_CASE(a_scaled_dash_is_one_thick_row_in_the_middle) {
    Canvas c(12, 16);
    c.draw_text(1, 0, "-", {10, 20, 30}, 2);
    Points expected;
    for (int64_t x = 1; x < 11; ++x) expected.insert({x, 6}), expected.insert({x, 7});  // glyph row 3, twice as big
    BOOST_TEST((drawn(c, white) == expected), str(drawn(c, white)));
    BOOST_TEST(c.pixel(5, 6) == (Rgb{10, 20, 30}));
}

BOOST_AUTO_TEST_CASE(glyphs_advance_by_six_and_unknown_bytes_are_question_marks) {
    Canvas a(40, 10), b(40, 10);
    a.draw_text(0, 0, "a\x80\n", black);
    b.draw_text(0, 0, "a??", black);
    BOOST_TEST((a.pixels() == b.pixels()));
    Canvas one(40, 10);
    one.draw_text(6, 0, "?", black);
    Points second_glyph;
    for (auto [x, y] : drawn(b, white))
        if (x >= 6 && x < 12) second_glyph.insert({x, y});
    BOOST_TEST((drawn(one, white) == second_glyph), str(drawn(one, white)));
}

BOOST_AUTO_TEST_CASE(text_and_rectangles_are_clipped_at_the_edges) {
    Canvas c(4, 4);
    c.draw_text(-3, -2, "W", black);  // only the glyph's lower right part is inside
    c.fill_rect(2, 2, 100, 100, {1, 2, 3});
    BOOST_TEST(c.pixel(3, 3) == (Rgb{1, 2, 3}));
    BOOST_TEST(c.pixel(1, 0) == black);  // glyph row 2, column 4 of 'W' (0x11: both edges)
    BOOST_TEST(c.pixel(0, 0) == white);  // glyph row 2, column 3
}

BOOST_AUTO_TEST_CASE(blit_scales_each_pixel_to_a_square) {
    const Image grey{2, 3, 1, {10, 20, 30, 40, 50, 60}};  // 2 rows, 3 columns
    Canvas c(12, 10);
    c.blit(view(grey), 1, 2, 3);
    for (int64_t y = 0; y < c.height(); ++y)
        for (int64_t x = 0; x < c.width(); ++x) {
            const bool inside = x >= 1 && x < 10 && y >= 2 && y < 8;
            const uint8_t v = inside ? grey.pixels[size_t((y - 2) / 3 * 3 + (x - 1) / 3)] : 255;
            BOOST_TEST(c.pixel(x, y) == (Rgb{v, v, v}), "at (" << x << ", " << y << ")");
        }

    const Image rgb{1, 2, 3, {1, 2, 3, 4, 5, 6}};
    Canvas d(3, 1);
    d.blit(view(rgb), 2, 0);  // the second pixel falls outside
    BOOST_TEST(d.pixel(2, 0) == (Rgb{1, 2, 3}));
    BOOST_TEST(d.pixel(1, 0) == white);

    const uint8_t two_channels[4] = {};
    BOOST_CHECK_EXCEPTION(c.blit({two_channels, 1, 2, 2}, 0, 0), kiln::Error, throws_invalid_argument);
    BOOST_CHECK_EXCEPTION(c.blit(view(grey), 0, 0, 0), kiln::Error, throws_invalid_argument);
}

BOOST_AUTO_TEST_CASE(lines_include_both_ends_in_every_direction) {
    Canvas c(10, 10);
    c.draw_line(1, 1, 8, 1, black);
    BOOST_TEST(drawn(c, white).size() == 8u);
    Canvas d(10, 10);
    d.draw_line(7, 9, 2, 0, black);  // steep, right to left and upwards: one pixel per row
    const Points p = drawn(d, white);
    BOOST_TEST(p.size() == 10u);
    BOOST_TEST(p.count({7, 9}) == 1u);
    BOOST_TEST(p.count({2, 0}) == 1u);
    Canvas e(5, 5);
    e.draw_line(0, 0, 4, 4, black);
    BOOST_TEST((drawn(e, white) == Points{{0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 4}}), str(drawn(e, white)));
    e.draw_line(-10, 2, 20, 2, black);  // clipped, not an error
    BOOST_TEST(e.pixel(0, 2) == black);
}

BOOST_AUTO_TEST_CASE(save_png_round_trips_through_the_decoder) {
    TempDir dir;
    Canvas c(7, 5, {0, 128, 255});
    c.draw_text(1, -1, "k", {200, 10, 10});
    c.set_pixel(6, 4, {1, 2, 3});
    c.save_png(dir / "c.png");
    const Image back = decode_file(dir / "c.png");
    BOOST_TEST(back.width == 7);
    BOOST_TEST(back.height == 5);
    BOOST_TEST(back.channels == 3);
    BOOST_TEST((back.pixels == c.pixels()));
}

BOOST_AUTO_TEST_CASE(bad_canvases_and_pixels_are_errors) {
    BOOST_CHECK_EXCEPTION(Canvas(0, 5), kiln::Error, throws_invalid_argument);
    BOOST_CHECK_EXCEPTION(Canvas(100000, 100000), kiln::Error, throws_invalid_argument);
    const Canvas c(3, 3);
    BOOST_CHECK_EXCEPTION(c.pixel(3, 0), kiln::Error, throws_invalid_argument);
}
