// Colour operations, ToTensor and Normalize against hand-worked pixels.
// The blends are torchvision's: ratio·a + (1 − ratio)·b in f32, clamped to [0, 255], truncated.
#include "transforms_test_util.h"

using namespace kiln::transforms;

BOOST_AUTO_TEST_SUITE(color)

BOOST_AUTO_TEST_CASE(grayscale_is_pils_rounded_luma) {
    // L = (19595 R + 38470 G + 7471 B + 2^15) >> 16 = (299 R + 587 G + 114 B)/1000 rounded:
    //   (255,0,0): 76.245 → 76   (0,255,0): 149.685 → 150   (0,0,255): 29.07 → 29
    //   (100,150,200): 29.9 + 88.05 + 22.8 = 140.75 → 141   white → 255
    const ImageU8 rgb = image(1, 5, 3, {255, 0, 0, 0, 255, 0, 0, 0, 255, 100, 150, 200, 255, 255, 255});
    CHECK_IMAGE(apply(rgb, [](auto& in, auto& out) { grayscale(in, 1, out); }), 1, 5, 1, {76, 150, 29, 141, 255});
    CHECK_IMAGE(apply(image(1, 1, 3, {100, 150, 200}), [](auto& in, auto& out) { grayscale(in, 3, out); }), 1, 1, 3,
                {141, 141, 141});
    CHECK_IMAGE(apply(image(1, 2, 1, {7, 9}), [](auto& in, auto& out) { grayscale(in, 3, out); }), 1, 2, 3,
                {7, 7, 7, 9, 9, 9});
    ImageU8 out;
    BOOST_CHECK_THROW(grayscale(image(1, 1, 2, {1, 2}), 1, out), TransformError);
}

BOOST_AUTO_TEST_CASE(brightness_blends_with_black) {
    // factor 1.5: 1.5·v → 0 150 255 300→255
    CHECK_IMAGE(apply(image(1, 4, 1, {0, 100, 170, 200}), [](auto& in, auto& out) { adjust_brightness(in, 1.5, out); }),
                1, 4, 1, {0, 150, 255, 255});
    // factor 0.5: 2.5 → 2 and 127.5 → 127: truncated, not rounded
    CHECK_IMAGE(apply(image(1, 2, 1, {5, 255}), [](auto& in, auto& out) { adjust_brightness(in, 0.5, out); }), 1, 2, 1,
                {2, 127});
}

BOOST_AUTO_TEST_CASE(color_blends_with_torchvisions_grey) {
    // grey(200,100,50) = trunc(.2989·200 + .587·100 + .114·50) = trunc(124.18) = 124
    const ImageU8 px = image(1, 1, 3, {200, 100, 50});
    CHECK_IMAGE(apply(px, grey_for_blend), 1, 1, 1, {124});
    CHECK_IMAGE(apply(px, [](auto& in, auto& out) { adjust_saturation(in, 0.0, out); }), 1, 1, 3, {124, 124, 124});
    // factor 2: 2v − 124 → 276→255, 76, −24→0
    CHECK_IMAGE(apply(px, [](auto& in, auto& out) { adjust_saturation(in, 2.0, out); }), 1, 1, 3, {255, 76, 0});
    // factor 0.5: v/2 + 62 → 162, 112, 87
    CHECK_IMAGE(apply(px, [](auto& in, auto& out) { adjust_saturation(in, 0.5, out); }), 1, 1, 3, {162, 112, 87});
    // torchvision's weights sum to .9999, so its grey of white is trunc(254.97) = 254.
    CHECK_IMAGE(apply(image(1, 1, 3, {255, 255, 255}), [](auto& in, auto& out) { adjust_saturation(in, 0.0, out); }),
                1, 1, 3, {254, 254, 254});
    // A grey image has no colour to change.
    CHECK_IMAGE(apply(image(1, 2, 1, {3, 250}), [](auto& in, auto& out) { adjust_saturation(in, 0.0, out); }), 1, 2, 1,
                {3, 250});
}

BOOST_AUTO_TEST_CASE(contrast_blends_with_the_mean_grey) {
    // grey [10 20 30 60]: mean 30. factor 2: 2v − 30 → −10→0, 10, 30, 90; factor .5: v/2 + 15.
    const ImageU8 g = image(2, 2, 1, {10, 20, 30, 60});
    CHECK_IMAGE(apply(g, [](auto& in, auto& out) { adjust_contrast(in, 2.0, out); }), 2, 2, 1, {0, 10, 30, 90});
    CHECK_IMAGE(apply(g, [](auto& in, auto& out) { adjust_contrast(in, 0.5, out); }), 2, 2, 1, {20, 25, 30, 45});
    // RGB: greys 124 and 0, mean 62; factor .5: v/2 + 31.
    CHECK_IMAGE(apply(image(1, 2, 3, {200, 100, 50, 0, 0, 0}), [](auto& in, auto& out) { adjust_contrast(in, 0.5, out); }),
                1, 2, 3, {131, 81, 56, 31, 31, 31});
}

BOOST_AUTO_TEST_CASE(sharpness_blends_with_the_3x3_blur_inside_the_border) {
    // 3×3 of 10 with 100 in the middle. Blur of the middle: (8·10 + 5·100)/13 = 44.6 → 45;
    // border pixels keep their value in the blurred image.
    const ImageU8 spot = image(3, 3, 1, {10, 10, 10, 10, 100, 10, 10, 10, 10});
    CHECK_IMAGE(apply(spot, [](auto& in, auto& out) { adjust_sharpness(in, 0.0, out); }), 3, 3, 1,
                {10, 10, 10, 10, 45, 10, 10, 10, 10});
    // factor 2: 2·100 − 45 = 155 in the middle, 2·10 − 10 = 10 around it
    CHECK_IMAGE(apply(spot, [](auto& in, auto& out) { adjust_sharpness(in, 2.0, out); }), 3, 3, 1,
                {10, 10, 10, 10, 155, 10, 10, 10, 10});
    // factor .5: 50 + 22.5 = 72.5 → 72
    CHECK_IMAGE(apply(spot, [](auto& in, auto& out) { adjust_sharpness(in, 0.5, out); }), 3, 3, 1,
                {10, 10, 10, 10, 72, 10, 10, 10, 10});
    // No interior (a side ≤ 2): unchanged.
    CHECK_IMAGE(apply(image(2, 3, 1, {1, 200, 3, 4, 5, 6}), [](auto& in, auto& out) { adjust_sharpness(in, 2.0, out); }),
                2, 3, 1, {1, 200, 3, 4, 5, 6});
}

BOOST_AUTO_TEST_CASE(posterize_keeps_the_top_bits) {
    // 3 bits: v & 0b11100000 → 255→224, 100 (0b01100100)→96, 31→0, 32→32
    const ImageU8 g = image(1, 4, 1, {255, 100, 31, 32});
    CHECK_IMAGE(apply(g, [](auto& in, auto& out) { posterize(in, 3, out); }), 1, 4, 1, {224, 96, 0, 32});
    CHECK_IMAGE(apply(g, [](auto& in, auto& out) { posterize(in, 8, out); }), 1, 4, 1, {255, 100, 31, 32});
    CHECK_IMAGE(apply(g, [](auto& in, auto& out) { posterize(in, 0, out); }), 1, 4, 1, {0, 0, 0, 0});
}

BOOST_AUTO_TEST_CASE(solarize_inverts_from_the_threshold_up) {
    const ImageU8 g = image(1, 5, 1, {0, 127, 128, 200, 255});
    CHECK_IMAGE(apply(g, [](auto& in, auto& out) { solarize(in, 128, out); }), 1, 5, 1, {0, 127, 127, 55, 0});
    CHECK_IMAGE(apply(g, [](auto& in, auto& out) { solarize(in, 127.5, out); }), 1, 5, 1, {0, 127, 127, 55, 0});
    CHECK_IMAGE(apply(g, [](auto& in, auto& out) { solarize(in, 255, out); }), 1, 5, 1, {0, 127, 128, 200, 0});
}

BOOST_AUTO_TEST_CASE(autocontrast_stretches_each_channel) {
    // R 10..60 → (v − 10)·255/50: 0, 127.5→127, 255. G flat: unchanged. B already 0..255.
    CHECK_IMAGE(apply(image(1, 3, 3, {10, 77, 0, 35, 77, 128, 60, 77, 255}), autocontrast), 1, 3, 3,
                {0, 77, 0, 127, 77, 128, 255, 77, 255});
    // 0..7 → v·255/7 = 0, 36.4, 72.9, 109.3, 145.7, 182.1, 218.6, 255 (truncated)
    CHECK_IMAGE(apply(image(1, 8, 1, {0, 1, 2, 3, 4, 5, 6, 7}), autocontrast), 1, 8, 1,
                {0, 36, 72, 109, 145, 182, 218, 255});
}

BOOST_AUTO_TEST_CASE(equalize_with_a_worked_histogram) {
    // PIL: step = (pixels − count of the brightest value present) // 255; lut[v] = (pixels
    // below v + step // 2) // step, capped at 255; step 0 leaves the channel alone.
    // A tiny image: 8 pixels, brightest value 200 once → step = 7 // 255 = 0 → unchanged.
    CHECK_IMAGE(apply(image(2, 4, 1, {0, 0, 0, 0, 50, 50, 100, 200}), equalize), 2, 4, 1, {0, 0, 0, 0, 50, 50, 100, 200});
    // 32×32: 512 × 10, 256 × 20, 256 × 30 → step = (1024 − 256) // 255 = 3, step // 2 = 1:
    //   lut[10] = (0 + 1) // 3 = 0, lut[20] = (512 + 1) // 3 = 171, lut[30] = (768 + 1) // 3 = 256 → 255
    std::vector<int> v(1024, 10);
    for (int i = 512; i < 768; ++i) v[size_t(i)] = 20;
    for (int i = 768; i < 1024; ++i) v[size_t(i)] = 30;
    const ImageU8 out = apply(image(32, 32, 1, v), equalize);
    BOOST_TEST(out.at(0, 0, 0) == 0);
    BOOST_TEST(out.at(16, 0, 0) == 171);
    BOOST_TEST(out.at(31, 31, 0) == 255);
    // Channels are equalised separately: a flat second channel stays as it is.
    std::vector<int> rgb;
    for (int x : v) rgb.insert(rgb.end(), {x, 99, x});
    const ImageU8 out3 = apply(image(32, 32, 3, rgb), equalize);
    BOOST_TEST(out3.at(16, 0, 0) == 171);
    BOOST_TEST(out3.at(16, 0, 1) == 99);
    BOOST_TEST(out3.at(31, 31, 2) == 255);
}

BOOST_AUTO_TEST_CASE(to_tensor_and_normalize) {
    // 1×2 RGB (0,51,255) (255,102,0) → C×H×W planes R [0 1], G [.2 .4], B [1 0]
    TensorF32 t;
    to_tensor(image(1, 2, 3, {0, 51, 255, 255, 102, 0}), t);
    BOOST_TEST(t.c == 3);
    BOOST_TEST(t.h == 1);
    BOOST_TEST(t.w == 2);
    BOOST_TEST(t.v == (std::vector<float>{0.0f, 1.0f, 0.2f, 0.4f, 1.0f, 0.0f}), boost::test_tools::per_element());
    // (x − .5)/.5 on R and B, (x − .2)/.1 on G: R [−1 1], G [0 2], B [1 −1]
    normalize(t, {0.5f, 0.2f, 0.5f}, {0.5f, 0.1f, 0.5f});
    const std::vector<float> want{-1.0f, 1.0f, 0.0f, 2.0f, 1.0f, -1.0f};
    for (size_t i = 0; i < want.size(); ++i) BOOST_TEST(t.v[i] == want[i], boost::test_tools::tolerance(1e-6f));
    // One mean/std serves every channel; a count that is neither 1 nor C is refused, as is std 0.
    normalize(t, {1.0f}, {2.0f});
    BOOST_TEST(t.v[0] == -1.0f, boost::test_tools::tolerance(1e-6f));
    BOOST_CHECK_THROW(normalize(t, {0.0f, 0.0f}, {1.0f}), TransformError);
    BOOST_CHECK_THROW(normalize(t, {0.0f}, {0.0f}), TransformError);
}

BOOST_AUTO_TEST_SUITE_END()
