// kiln::image::Canvas: text in Terminus Font with its descenders below the baseline, the large face
// at density 2, blits scale by whole pixels, everything clips to the canvas, density d draws d × d
// pixels a unit, and save_png writes what the canvas holds.
#define BOOST_TEST_MODULE draw
#include <boost/test/unit_test.hpp>

#include <ostream>
#include <set>
#include <sstream>
#include <string_view>
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

BOOST_AUTO_TEST_CASE(text_width_counts_characters_cells) {
    BOOST_TEST(text_width("") == 0);
    BOOST_TEST(text_width("I") == 8);
    BOOST_TEST(text_width("Bag") == 24);
    BOOST_TEST(text_width("Bag", 3) == 72);
    BOOST_TEST(text_width("caf\xc3\xa9 \xc3\x97") == 48);  // "café ×": UTF-8, one cell a character
    BOOST_TEST(text_height(2) == 32);
    BOOST_CHECK_EXCEPTION(text_width("x", 0), kiln::Error, throws_invalid_argument);
}

namespace {

// The rows [first, last] in which `text`, drawn at (0, 0), lit a pixel.
std::pair<int64_t, int64_t> rows_of(std::string_view text, int density = 1) {
    Canvas c(text_width(text), text_height(), white, density);
    c.draw_text(0, 0, text, black);
    int64_t first = -1, last = -1;
    for (int64_t y = 0; y < c.view().height; ++y)
        for (int64_t x = 0; x < c.view().width; ++x)
            if (c.pixels()[size_t((y * c.view().width + x) * 3)] == 0) {
                if (first < 0) first = y;
                last = y;
            }
    return {first, last};
}

}  // namespace

BOOST_AUTO_TEST_CASE(descenders_reach_below_the_baseline) {
    for (int density : {1, 2}) {
        const auto [a_top, a_bottom] = rows_of("a", density);
        const auto [x_top, x_bottom] = rows_of("x", density);
        BOOST_TEST(a_bottom == x_bottom, "density " << density);  // the baseline
        for (const char* letter : {"g", "p", "y", "q", "j"}) {
            const auto [top, bottom] = rows_of(letter, density);
            BOOST_TEST(bottom >= a_bottom + 2 * density, letter << " at density " << density << ": " << bottom << " vs " << a_bottom);
        }
        BOOST_TEST(rows_of("B", density).second == a_bottom);  // capitals sit on the baseline too
        BOOST_TEST(rows_of("B", density).first < a_top);       // and rise above the lower case
        BOOST_TEST(rows_of("Bag", density).second == rows_of("g", density).second);
    }
}

BOOST_AUTO_TEST_CASE(density_two_draws_the_large_face_not_a_doubled_small_one) {
    Canvas one(8, 16), two(8, 16, white, 2);
    one.draw_text(0, 0, "g", black);
    two.draw_text(0, 0, "g", black);
    BOOST_TEST(two.view().width == 16);
    BOOST_TEST(two.view().height == 32);
    // Some 2×2 block of the large glyph is not one colour: detail a doubled 8×16 glyph cannot have.
    bool finer = false;
    auto dark = [&](int64_t x, int64_t y) { return two.pixels()[size_t((y * 16 + x) * 3)] == 0; };
    for (int64_t y = 0; y < 32; y += 2)
        for (int64_t x = 0; x < 16; x += 2)
            finer |= dark(x, y) != dark(x + 1, y) || dark(x, y) != dark(x, y + 1) || dark(x, y) != dark(x + 1, y + 1);
    BOOST_TEST(finer);
    // At an odd number of pixels a unit the small face is enlarged by whole pixels.
    Canvas three(8 * 3, 16 * 3);
    three.draw_text(0, 0, "g", black, 3);
    for (int64_t y = 0; y < 48; ++y)
        for (int64_t x = 0; x < 24; ++x) BOOST_TEST(three.pixel(x, y) == one.pixel(x / 3, y / 3), "at (" << x << ", " << y << ")");
}

BOOST_AUTO_TEST_CASE(glyphs_advance_by_eight_and_unknown_bytes_are_question_marks) {
    Canvas a(40, 16), b(40, 16);
    a.draw_text(0, 0, "a\x80\n", black);
    b.draw_text(0, 0, "a??", black);
    BOOST_TEST((a.pixels() == b.pixels()));
    Canvas one(40, 16);
    one.draw_text(8, 0, "?", black);
    Points second_glyph;
    for (auto [x, y] : drawn(b, white))
        if (x >= 8 && x < 16) second_glyph.insert({x, y});
    BOOST_TEST((drawn(one, white) == second_glyph), str(drawn(one, white)));
    Canvas e(16, 16), q(16, 16), question(16, 16);  // é is in the font; U+4E2D is not
    e.draw_text(0, 0, "\xc3\xa9", black);
    q.draw_text(0, 0, "\xe4\xb8\xad", black);
    question.draw_text(0, 0, "?", black);
    BOOST_TEST(!drawn(e, white).empty());
    BOOST_TEST((q.pixels() == question.pixels()));
}

BOOST_AUTO_TEST_CASE(text_and_rectangles_are_clipped_at_the_edges) {
    Canvas c(4, 4), whole(16, 16);
    c.draw_text(-3, -2, "W", black);  // only part of the glyph is inside
    whole.draw_text(0, 0, "W", black);
    for (int64_t y = 0; y < 4; ++y)
        for (int64_t x = 0; x < 4; ++x) BOOST_TEST(c.pixel(x, y) == whole.pixel(x + 3, y + 2));
    c.fill_rect(2, 2, 100, 100, {1, 2, 3});
    BOOST_TEST(c.pixel(3, 3) == (Rgb{1, 2, 3}));
}

BOOST_AUTO_TEST_CASE(text_turned_up_reads_bottom_to_top) {
    Canvas upright(24, 16), up(16, 24);
    upright.draw_text(0, 0, "Bag", black);
    up.draw_text_up(0, 0, "Bag", black);
    for (int64_t y = 0; y < 16; ++y)
        for (int64_t x = 0; x < 24; ++x) BOOST_TEST(up.pixel(y, 23 - x) == upright.pixel(x, y));
}

BOOST_AUTO_TEST_CASE(a_canvas_of_density_two_has_two_by_two_pixels_a_unit) {
    Canvas c(10, 5, white, 2);
    BOOST_TEST((c.width() == 10 && c.height() == 5 && c.density() == 2));
    BOOST_TEST((c.view().width == 20 && c.view().height == 10));
    c.fill_rect(1, 1, 2, 1, {9, 8, 7});
    for (int64_t y = 0; y < 10; ++y)
        for (int64_t x = 0; x < 20; ++x) {
            const bool inside = x >= 2 && x < 6 && y >= 2 && y < 4;
            BOOST_TEST(c.pixels()[size_t((y * 20 + x) * 3)] == (inside ? 9 : 255), "at (" << x << ", " << y << ")");
        }
    BOOST_TEST(c.pixel(2, 1) == (Rgb{9, 8, 7}));
    Canvas d(10, 10, white, 2);
    d.draw_line(0, 0, 9, 0, black);  // two pixels thick, the whole width
    int64_t dark = 0;
    for (size_t i = 0; i < d.pixels().size(); i += 3) dark += d.pixels()[i] == 0;
    BOOST_TEST(dark == 2 * 20);
    BOOST_CHECK_EXCEPTION(Canvas(4, 4, white, 0), kiln::Error, throws_invalid_argument);
    BOOST_CHECK_EXCEPTION(Canvas(4, 4, white, 5), kiln::Error, throws_invalid_argument);
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
    Canvas c(7, 5, {0, 128, 255}, 2);
    c.draw_text(1, -1, "k", {200, 10, 10});
    c.set_pixel(6, 4, {1, 2, 3});
    c.save_png(dir / "c.png");
    const Image back = decode_file(dir / "c.png");
    BOOST_TEST(back.width == 14);  // the pixels, not the units
    BOOST_TEST(back.height == 10);
    BOOST_TEST(back.channels == 3);
    BOOST_TEST((back.pixels == c.pixels()));
}

BOOST_AUTO_TEST_CASE(bad_canvases_and_pixels_are_errors) {
    BOOST_CHECK_EXCEPTION(Canvas(0, 5), kiln::Error, throws_invalid_argument);
    BOOST_CHECK_EXCEPTION(Canvas(100000, 100000), kiln::Error, throws_invalid_argument);
    const Canvas c(3, 3);
    BOOST_CHECK_EXCEPTION(c.pixel(3, 0), kiln::Error, throws_invalid_argument);
}
