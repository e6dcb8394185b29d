// Images prepared for prediction through the transforms plugin: every PNG colour type and JPEG,
// any size, to f32 [1, C, H, W] in [0, 1].
#include <png.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "image/make_images.h"
#include "kiln/core/error.h"
#include "kiln/data/image_preparer.h"
#include "kiln/data/plugin_registry.h"
#include "kiln/image/codec.h"

using kiln::data::ImagePreparer;

namespace {

const kiln::data::PluginRegistry& plugins() {
    static const kiln::data::PluginRegistry r(std::vector<std::string>{KILN_TEST_PLUGIN_DIR});
    return r;
}

bool all_near(const kiln::Tensor& t, float v) {
    const std::vector<float> x = t.to_vector<float>();
    return std::all_of(x.begin(), x.end(), [v](float y) { return std::abs(y - v) < 1e-6f; });
}

bool code_is(const kiln::Error& e, kiln::Errc c) { return e.code() == c; }

}  // namespace

BOOST_AUTO_TEST_SUITE(prepare)

BOOST_AUTO_TEST_CASE(a_grey_100_by_60_png_becomes_a_batch_of_one_28_by_28) {
    TempDir dir;
    std::vector<uint16_t> grey(100 * 60);
    for (size_t i = 0; i < grey.size(); ++i) grey[i] = uint16_t(i % 251);
    write_bytes(dir / "wide.png", make_png({100, 60, PNG_COLOR_TYPE_GRAY, 8, grey}));
    const ImagePreparer prep(plugins(), {1, 28, 28});
    BOOST_TEST(prep.pipeline() == "resize=28x28;to_tensor");
    const kiln::Tensor x = prep.prepare_file(dir / "wide.png");
    BOOST_TEST((x.dtype() == kiln::DType::f32));
    BOOST_TEST(x.shape().str() == kiln::Shape({1, 1, 28, 28}).str());
    const std::vector<float> v = x.to_vector<float>();
    BOOST_TEST(*std::min_element(v.begin(), v.end()) >= 0.0f);
    BOOST_TEST(*std::max_element(v.begin(), v.end()) <= 1.0f);
}

BOOST_AUTO_TEST_CASE(an_rgba_png_becomes_rgb_64_by_64_and_constant_stays_constant) {
    TempDir dir;
    std::vector<uint16_t> rgba;
    for (int i = 0; i < 30 * 30; ++i) rgba.insert(rgba.end(), {51, 102, 204, uint16_t(i % 256)});  // alpha varies
    write_bytes(dir / "rgba.png", make_png({30, 30, PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba}));
    const ImagePreparer prep(plugins(), {3, 64, 64});
    const kiln::Tensor x = prep.prepare_file(dir / "rgba.png");
    BOOST_TEST(x.shape().str() == kiln::Shape({1, 3, 64, 64}).str());
    BOOST_TEST(all_near(x[0][0], 51 / 255.0f));  // alpha dropped, channels in order
    BOOST_TEST(all_near(x[0][1], 102 / 255.0f));
    BOOST_TEST(all_near(x[0][2], 204 / 255.0f));
}

BOOST_AUTO_TEST_CASE(colour_modes_convert_as_pil_does) {
    TempDir dir;
    // grey+alpha 9×7 of 77 → RGB repeats it; palette (one colour) → grey is its luma.
    std::vector<uint16_t> ga;
    for (int i = 0; i < 9 * 7; ++i) ga.insert(ga.end(), {77, 0});
    write_bytes(dir / "ga.png", make_png({9, 7, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga}));
    write_bytes(dir / "pal.png", make_png({5, 5, PNG_COLOR_TYPE_PALETTE, 8, std::vector<uint16_t>(25, 0), {200, 100, 50}}));
    const ImagePreparer rgb(plugins(), {3, 16, 16}), grey(plugins(), {1, 16, 16});
    const kiln::Tensor a = rgb.prepare_file(dir / "ga.png");
    BOOST_TEST(a.shape().str() == kiln::Shape({1, 3, 16, 16}).str());
    BOOST_TEST(all_near(a, 77 / 255.0f));
    const int luma = (200 * 19595 + 100 * 38470 + 50 * 7471 + 32768) >> 16;  // PIL's convert("L")
    BOOST_TEST(all_near(grey.prepare_file(dir / "pal.png"), float(luma) / 255.0f));

    // An image decoded already converts the same way.
    const kiln::image::Image decoded = kiln::image::decode_file(dir / "pal.png");  // RGB
    BOOST_TEST(decoded.channels == 3);
    BOOST_TEST(all_near(grey.prepare(decoded, "pal.png"), float(luma) / 255.0f));

    // A JPEG (quality 100, a flat colour) through the bytes form.
    kiln::image::Image flat{20, 30, 3, {}};
    for (int i = 0; i < 20 * 30; ++i) flat.pixels.insert(flat.pixels.end(), {128, 128, 128});
    const std::vector<uint8_t> jpeg = kiln::image::encode_jpeg(kiln::image::view(flat), {.quality = 100});
    const kiln::Tensor j = rgb.prepare_bytes(jpeg, "flat.jpg");
    BOOST_TEST(j.shape().str() == kiln::Shape({1, 3, 16, 16}).str());
    const std::vector<float> jv = j.to_vector<float>();
    BOOST_TEST(std::all_of(jv.begin(), jv.end(), [](float v) { return std::abs(v * 255 - 128) <= 1.0f; }));
}

BOOST_AUTO_TEST_CASE(shrinking_averages_the_pixels_under_each_output_pixel) {
    // 1×2 [0, 255] to 1×1: PIL's antialiased bilinear weighs both equally, (0 + 255) / 2 rounded up.
    const ImagePreparer prep(plugins(), {1, 1, 1});
    const kiln::image::Image two{1, 2, 1, {0, 255}};
    BOOST_TEST(prep.prepare(two, "two").item<float>() == 128 / 255.0f);
    // Enlarging a constant keeps it, and normalisation can follow to_tensor.
    const ImagePreparer norm(plugins(), {1, 5, 5}, "normalize=mean=0.5,std=0.5");
    BOOST_TEST(norm.pipeline() == "resize=5x5;to_tensor;normalize=mean=0.5,std=0.5");
    const kiln::image::Image one{1, 1, 1, {255}};
    BOOST_TEST(all_near(norm.prepare(one, "one"), 1.0f));
}

BOOST_AUTO_TEST_CASE(errors_name_the_file_or_the_shape) {
    TempDir dir;
    write_bytes(dir / "text.png", {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'});
    const ImagePreparer prep(plugins(), {1, 8, 8});
    BOOST_CHECK_EXCEPTION(prep.prepare_file(dir / "text.png"), kiln::Error, [&](const kiln::Error& e) {
        return code_is(e, kiln::Errc::format) && std::string(e.what()).rfind(dir / "text.png", 0) == 0;
    });
    BOOST_CHECK_EXCEPTION(prep.prepare_file(dir / "none.png"), kiln::Error,
                          [](const kiln::Error& e) { return code_is(e, kiln::Errc::io); });
    BOOST_CHECK_EXCEPTION(ImagePreparer(plugins(), {4, 8, 8}), kiln::Error,
                          [](const kiln::Error& e) { return code_is(e, kiln::Errc::invalid_argument); });
    BOOST_CHECK_EXCEPTION(ImagePreparer(plugins(), {3, 0, 8}), kiln::Error,
                          [](const kiln::Error& e) { return code_is(e, kiln::Errc::invalid_argument); });
}

BOOST_AUTO_TEST_SUITE_END()
