// Flips, padding, crops, resize and the affine warps against hand-worked images.
// Conventions (ops.h): images are H×W×C, row-major; "in(y, x)" is row y, column x.
#include <cmath>

#include "transforms_test_util.h"

using namespace kiln::transforms;

BOOST_AUTO_TEST_SUITE(geometry)

// 2×3 grey: 1 2 3 / 4 5 6
const ImageU8 two_by_three = image(2, 3, 1, {1, 2, 3, 4, 5, 6});

BOOST_AUTO_TEST_CASE(flips_mirror_rows_and_columns) {
    CHECK_IMAGE(apply(two_by_three, hflip), 2, 3, 1, {3, 2, 1, 6, 5, 4});
    CHECK_IMAGE(apply(two_by_three, vflip), 2, 3, 1, {4, 5, 6, 1, 2, 3});
    // RGB pixels move whole: (1,2,3) (4,5,6) → (4,5,6) (1,2,3)
    CHECK_IMAGE(apply(image(1, 2, 3, {1, 2, 3, 4, 5, 6}), hflip), 1, 2, 3, {4, 5, 6, 1, 2, 3});
}

BOOST_AUTO_TEST_CASE(pad_modes) {
    // left 2, top 1, right 1, bottom 0 around  1 2 3 / 4 5 6  → 3×6
    const Padding p{2, 1, 1, 0};
    // constant 9
    CHECK_IMAGE(apply(two_by_three, [&](auto& in, auto& out) { pad(in, p, PadMode::constant, {9}, out); }), 3, 6, 1,
                {9, 9, 9, 9, 9, 9,  //
                 9, 9, 1, 2, 3, 9,  //
                 9, 9, 4, 5, 6, 9});
    // edge: clamp every index
    CHECK_IMAGE(apply(two_by_three, [&](auto& in, auto& out) { pad(in, p, PadMode::edge, {}, out); }), 3, 6, 1,
                {1, 1, 1, 2, 3, 3,  //
                 1, 1, 1, 2, 3, 3,  //
                 4, 4, 4, 5, 6, 6});
    // reflect (edge not repeated): column −2 → 2, −1 → 1, 3 → 1; row −1 → 1
    CHECK_IMAGE(apply(two_by_three, [&](auto& in, auto& out) { pad(in, p, PadMode::reflect, {}, out); }), 3, 6, 1,
                {6, 5, 4, 5, 6, 5,  //
                 3, 2, 1, 2, 3, 2,  //
                 6, 5, 4, 5, 6, 5});
    // symmetric (edge repeated): column −2 → 1, −1 → 0, 3 → 2; row −1 → 0
    CHECK_IMAGE(apply(two_by_three, [&](auto& in, auto& out) { pad(in, p, PadMode::symmetric, {}, out); }), 3, 6, 1,
                {2, 1, 1, 2, 3, 3,  //
                 2, 1, 1, 2, 3, 3,  //
                 5, 4, 4, 5, 6, 6});
    // A per-channel constant fill on RGB.
    CHECK_IMAGE(apply(image(1, 1, 3, {1, 2, 3}),
                      [&](auto& in, auto& out) { pad(in, {1, 0, 0, 0}, PadMode::constant, {7, 8, 9}, out); }),
                1, 2, 3, {7, 8, 9, 1, 2, 3});
    // reflect needs padding < size: 2 rows cannot reflect 2 rows up.
    ImageU8 out;
    BOOST_CHECK_THROW(pad(two_by_three, {0, 2, 0, 0}, PadMode::reflect, {}, out), TransformError);
}

BOOST_AUTO_TEST_CASE(center_crop_rounds_offsets_half_to_even) {
    // torchvision: top = int(round((h − crop) / 2.0)), Python's round:
    // (5−2)/2 = 1.5 → 2, (7−2)/2 = 2.5 → 2, (9−2)/2 = 3.5 → 4, (4−2)/2 = 1.
    BOOST_TEST(center_crop_offset(5, 4, 2, 2).top == 2);
    BOOST_TEST(center_crop_offset(7, 4, 2, 2).top == 2);
    BOOST_TEST(center_crop_offset(9, 4, 2, 2).top == 4);
    BOOST_TEST(center_crop_offset(9, 4, 2, 2).left == 1);
    // A 5×1 column 0..4 cropped to 2 rows keeps rows 2 and 3 (floor would keep 1 and 2).
    CHECK_IMAGE(apply(image(5, 1, 1, {0, 1, 2, 3, 4}), [](auto& in, auto& out) { center_crop(in, 2, 1, out); }), 2, 1,
                1, {2, 3});
    // 3×4 → 1×2: top = round(1.0) = 1, left = round(1.0) = 1.
    CHECK_IMAGE(apply(image(3, 4, 1, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}),
                      [](auto& in, auto& out) { center_crop(in, 1, 2, out); }),
                1, 2, 1, {6, 7});
}

BOOST_AUTO_TEST_CASE(center_crop_larger_than_the_image_pads_with_zeros) {
    // 1×2 [7 8] → 3×5: left (5−2)//2 = 1, right (5−2+1)//2 = 2, top (3−1)//2 = 1, bottom 1.
    CHECK_IMAGE(apply(image(1, 2, 1, {7, 8}), [](auto& in, auto& out) { center_crop(in, 3, 5, out); }), 3, 5, 1,
                {0, 0, 0, 0, 0,  //
                 0, 7, 8, 0, 0,  //
                 0, 0, 0, 0, 0});
}

BOOST_AUTO_TEST_CASE(crop_outside_the_image_is_an_error) {
    ImageU8 out;
    BOOST_CHECK_THROW(crop(two_by_three, 1, 1, 2, 2, out), TransformError);
    crop(two_by_three, 0, 1, 2, 2, out);
    CHECK_IMAGE(out, 2, 2, 1, {2, 3, 5, 6});
}

// ---- resize ----

BOOST_AUTO_TEST_CASE(resize_output_size_follows_torchvision) {
    // 30×40, size 20: the shorter side (h) → 20, the longer int(20·40/30) = int(26.67) = 26.
    BOOST_TEST((resize_output_size(30, 40, {20}, {}) == std::array<int64_t, 2>{20, 26}));
    BOOST_TEST((resize_output_size(40, 30, {20}, {}) == std::array<int64_t, 2>{26, 20}));
    // max_size 24 < 26: long → 24, short → int(24·20/26) = int(18.46) = 18.
    BOOST_TEST((resize_output_size(30, 40, {20}, 24) == std::array<int64_t, 2>{18, 24}));
    BOOST_TEST((resize_output_size(30, 40, {10, 12}, {}) == std::array<int64_t, 2>{10, 12}));
    BOOST_CHECK_THROW(resize_output_size(30, 40, {20}, 20), TransformError);
}

BOOST_AUTO_TEST_CASE(resize_upscale_2x2_to_4x4_is_bilinear_without_corner_alignment) {
    // Upscaling by 2, output index o samples input coordinate (o + 0.5)/2 − 0.5 = −0.25, 0.25,
    // 0.75, 1.25 (clamped at the edges): weights per axis [1], [.75 .25], [.25 .75], [1].
    //   0 100      rows first: 0 25 75 100  /  200 160 80 40
    // 200  40      then columns: .75·row0 + .25·row1 = 50 58.75 76.25 85 → 50 59 76 85
    //                            .25·row0 + .75·row1 = 150 126.25 78.75 55 → 150 126 79 55
    CHECK_IMAGE(apply(image(2, 2, 1, {0, 100, 200, 40}), [](auto& in, auto& out) { resize_bilinear(in, 4, 4, out); }),
                4, 4, 1,
                {0, 25, 75, 100,    //
                 50, 59, 76, 85,    //
                 150, 126, 79, 55,  //
                 200, 160, 80, 40});
}

BOOST_AUTO_TEST_CASE(resize_downscale_averages_under_a_widened_triangle) {
    // Shrinking by 2 widens the triangle filter to support 2 (antialiasing): output o is centred
    // on input 2o + 1 and weighs inputs at distance d by 1 − d/2 → inputs 2o−1..2o+2 get
    // .25 .75 .75 .25 (÷ 2); at the border the missing tap is dropped and the rest renormalised
    // (.75 .75 .25 ÷ 1.75 = 3/7 3/7 1/7).
    // 1×4 [10 20 30 40] → 1×2: (3·10 + 3·20 + 30)/7 = 17.14 → 17; (20 + 3·30 + 3·40)/7 = 32.86 → 33
    CHECK_IMAGE(apply(image(1, 4, 1, {10, 20, 30, 40}), [](auto& in, auto& out) { resize_bilinear(in, 1, 2, out); }),
                1, 2, 1, {17, 33});
    // 4×1 behaves the same down a column.
    CHECK_IMAGE(apply(image(4, 1, 1, {10, 20, 30, 40}), [](auto& in, auto& out) { resize_bilinear(in, 2, 1, out); }),
                2, 1, 1, {17, 33});
    // 1×8 [0 0 80 0 0 160 0 0] → 1×4:
    //   o0: 80·(1/7) = 11.43 → 11          o1: 80·.75/2 = 30
    //   o2: 160·.75/2 = 60                 o3: 160·.25/1.75 = 22.86 → 23
    CHECK_IMAGE(apply(image(1, 8, 1, {0, 0, 80, 0, 0, 160, 0, 0}),
                      [](auto& in, auto& out) { resize_bilinear(in, 1, 4, out); }),
                1, 4, 1, {11, 30, 60, 23});
    // A flat image stays flat, in every channel.
    CHECK_IMAGE(apply(image(3, 3, 3, std::vector<int>(27, 90)), [](auto& in, auto& out) { resize_bilinear(in, 2, 2, out); }),
                2, 2, 3, {90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90});
}

// ---- affine warps ----

// 4×4 grey, in(y, x) = 10·y + x + 1:
//  1  2  3  4 / 11 12 13 14 / 21 22 23 24 / 31 32 33 34
const ImageU8 grid4 = image(4, 4, 1, {1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24, 31, 32, 33, 34});

BOOST_AUTO_TEST_CASE(integer_translation_shifts_exactly) {
    Affine a;
    a.translate = {1, 0};  // out(y, x) = in(y, x − 1)
    CHECK_IMAGE(apply(grid4, [&](auto& in, auto& out) { affine(in, a, Interpolation::nearest, {}, out); }), 4, 4, 1,
                {0, 1, 2, 3, 0, 11, 12, 13, 0, 21, 22, 23, 0, 31, 32, 33});
    a.translate = {0, -2};  // out(y, x) = in(y + 2, x); bilinear samples land on pixels too
    CHECK_IMAGE(apply(grid4, [&](auto& in, auto& out) { affine(in, a, Interpolation::bilinear, {}, out); }), 4, 4, 1,
                {21, 22, 23, 24, 31, 32, 33, 34, 0, 0, 0, 0, 0, 0, 0, 0});
    // A fill replaces what comes from outside.
    a.translate = {-1, 0};
    CHECK_IMAGE(apply(grid4, [&](auto& in, auto& out) { affine(in, a, Interpolation::nearest, {7}, out); }), 4, 4, 1,
                {2, 3, 4, 7, 12, 13, 14, 7, 22, 23, 24, 7, 32, 33, 34, 7});
}

BOOST_AUTO_TEST_CASE(rotate_by_90_is_exact) {
    // Counter-clockwise: out(y, x) = in(x, N−1−y), numpy's rot90.
    CHECK_IMAGE(apply(image(3, 3, 1, {1, 2, 3, 4, 5, 6, 7, 8, 9}),
                      [](auto& in, auto& out) { rotate(in, 90, Interpolation::nearest, false, {}, {}, out); }),
                3, 3, 1, {3, 6, 9, 2, 5, 8, 1, 4, 7});
    CHECK_IMAGE(apply(grid4, [](auto& in, auto& out) { rotate(in, -90, Interpolation::bilinear, false, {}, {}, out); }),
                4, 4, 1, {31, 21, 11, 1, 32, 22, 12, 2, 33, 23, 13, 3, 34, 24, 14, 4});
    // expand: a 2×4 image turned 90° needs a 4×2 canvas. (Corners (±2, ±1) about the centre
    // turn to (±1, ±2): x spans 2 − 1 .. 2 + 1 → 2 wide, y spans 1 − 2 .. 1 + 2 → 4 high.)
    CHECK_IMAGE(apply(image(2, 4, 1, {1, 2, 3, 4, 5, 6, 7, 8}),
                      [](auto& in, auto& out) { rotate(in, 90, Interpolation::nearest, true, {}, {}, out); }),
                4, 2, 1, {4, 8, 3, 7, 2, 6, 1, 5});
}

BOOST_AUTO_TEST_CASE(rotate_by_20_degrees_nearest) {
    // 5×5, in(y, x) = 5y + x + 1. Output pixel (y, x) is at (x − 2, y − 2) from the centre; it
    // samples the input at (c·x' − s·y' + 2, s·x' + c·y' + 2) with c = cos 20° = .9397,
    // s = sin 20° = .3420, rounded to the nearest pixel (0 outside). Row by row, (x, y) sampled:
    //   (0.80,−0.56)→out (1.74,−0.22)→3  (2.68,0.12)→4  (3.62,0.46)→5  (4.56,0.80)→out
    //   (0.46, 0.38)→1   (1.40, 0.72)→7  (2.34,1.06)→8  (3.28,1.40)→9  (4.22,1.74)→15
    //   (0.12, 1.32)→6   (1.06, 1.66)→12 (2.00,2.00)→13 (2.94,2.34)→14 (3.88,2.68)→20
    //   (−0.22,2.26)→11  (0.72, 2.60)→17 (1.66,2.94)→18 (2.60,3.28)→19 (3.54,3.62)→25
    //   (−0.56,3.20)→out (0.38, 3.54)→21 (1.32,3.88)→22 (2.26,4.22)→23 (3.20,4.56)→out
    std::vector<int> v(25);
    for (int i = 0; i < 25; ++i) v[size_t(i)] = i + 1;
    CHECK_IMAGE(apply(image(5, 5, 1, v), [](auto& in, auto& out) { rotate(in, 20, Interpolation::nearest, false, {}, {}, out); }),
                5, 5, 1,
                {0, 3, 4, 5, 0,       //
                 1, 7, 8, 9, 15,      //
                 6, 12, 13, 14, 20,   //
                 11, 17, 18, 19, 25,  //
                 0, 21, 22, 23, 0});
}

BOOST_AUTO_TEST_CASE(rotate_about_a_given_centre) {
    // 180° about the centre of pixel (0, 0) (coordinates (0.5, 0.5)): out(y, x) = in(−y, −x), so
    // only out(0, 0) lands inside.
    CHECK_IMAGE(apply(image(2, 2, 1, {1, 2, 3, 4}),
                      [](auto& in, auto& out) {
                          rotate(in, 180, Interpolation::nearest, false, std::array<double, 2>{0.5, 0.5}, {}, out);
                      }),
                2, 2, 1, {1, 0, 0, 0});
}

BOOST_AUTO_TEST_CASE(shear_moves_rows_by_magnitude_times_their_distance_from_the_top) {
    // ShearX by m about the top-left corner: out(y, x) samples in(y, x + m·(y + 0.5)).
    // m = 0.5 → offsets 0.25 0.75 1.25 1.75 → rows shift left by round() = 0 1 1 2.
    Affine a;
    a.center = std::array<double, 2>{0, 0};
    a.shear_deg = {std::atan(0.5) * 180 / 3.14159265358979323846, 0};
    CHECK_IMAGE(apply(grid4, [&](auto& in, auto& out) { affine(in, a, Interpolation::nearest, {}, out); }), 4, 4, 1,
                {1, 2, 3, 4, 12, 13, 14, 0, 22, 23, 24, 0, 33, 34, 0, 0});
    // ShearY by 0.5: column x moves up by round(0.5·(x + 0.5)) = 0 1 1 2.
    a.shear_deg = {0, std::atan(0.5) * 180 / 3.14159265358979323846};
    CHECK_IMAGE(apply(grid4, [&](auto& in, auto& out) { affine(in, a, Interpolation::nearest, {}, out); }), 4, 4, 1,
                {1, 12, 13, 24, 11, 22, 23, 34, 21, 32, 33, 0, 31, 0, 0, 0});
}

BOOST_AUTO_TEST_CASE(bilinear_shear_and_torchvisions_fill_blend) {
    // One row [0 40 80 100], ShearX 0.5: row 0 samples x + 0.25 → .75·in(x) + .25·in(x + 1),
    // the missing right neighbour counting as 0: 10, 50, 85, 75.
    Affine a;
    a.center = std::array<double, 2>{0, 0};
    a.shear_deg = {std::atan(0.5) * 180 / 3.14159265358979323846, 0};
    const ImageU8 row = image(1, 4, 1, {0, 40, 80, 100});
    CHECK_IMAGE(apply(row, [&](auto& in, auto& out) { affine(in, a, Interpolation::bilinear, {}, out); }), 1, 4, 1,
                {10, 50, 85, 75});
    // With fill 200 the last pixel (inside share mask = .75) becomes, as torchvision computes it,
    // sample·mask + (1 − mask)·fill = 75·.75 + .25·200 = 106.25 → 106.
    CHECK_IMAGE(apply(row, [&](auto& in, auto& out) { affine(in, a, Interpolation::bilinear, {200}, out); }), 1, 4, 1,
                {10, 50, 85, 106});
}

BOOST_AUTO_TEST_CASE(fill_must_match_the_channels) {
    ImageU8 out;
    BOOST_CHECK_THROW(rotate(image(1, 1, 3, {1, 2, 3}), 10, Interpolation::nearest, false, {}, {1, 2}, out), TransformError);
}

BOOST_AUTO_TEST_SUITE_END()
