// Images prepared for prediction through the transforms plugin: every PNG colour type and JPEG,
// any size, to f32 [1, C, H, W] in [0, 1]; the aspect ratio kept (the object cut out, padded or
// cropped); polarity matched to the training images'; the numbers that say how an image and a
// dataset look (image_statistics.h) and the warning drawn from them.
#include <png.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "image/make_images.h"
#include "kiln/core/error.h"
#include "kiln/data/image_preparer.h"
#include "kiln/data/image_statistics.h"
#include "kiln/data/plugin_registry.h"
#include "kiln/image/codec.h"
#include "photo_like.h"

using kiln::data::Fit;
using kiln::data::ImagePreparer;
using kiln::data::Invert;

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
    const kiln::Tensor x = prep.prepare_file(dir / "wide.png").x;
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
    const kiln::Tensor x = prep.prepare_file(dir / "rgba.png").x;
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
    const kiln::Tensor a = rgb.prepare_file(dir / "ga.png").x;
    BOOST_TEST(a.shape().str() == kiln::Shape({1, 3, 16, 16}).str());
    BOOST_TEST(all_near(a, 77 / 255.0f));
    const int luma = (200 * 19595 + 100 * 38470 + 50 * 7471 + 32768) >> 16;  // PIL's convert("L")
    BOOST_TEST(all_near(grey.prepare_file(dir / "pal.png").x, float(luma) / 255.0f));

    // An image decoded already converts the same way.
    const kiln::image::Image decoded = kiln::image::decode_file(dir / "pal.png");  // RGB
    BOOST_TEST(decoded.channels == 3);
    BOOST_TEST(all_near(grey.prepare(decoded, "pal.png").x, float(luma) / 255.0f));

    // A JPEG (quality 100, a flat colour) through the bytes form.
    kiln::image::Image flat{20, 30, 3, {}};
    for (int i = 0; i < 20 * 30; ++i) flat.pixels.insert(flat.pixels.end(), {128, 128, 128});
    const std::vector<uint8_t> jpeg = kiln::image::encode_jpeg(kiln::image::view(flat), {.quality = 100});
    const kiln::Tensor j = rgb.prepare_bytes(jpeg, "flat.jpg").x;
    BOOST_TEST(j.shape().str() == kiln::Shape({1, 3, 16, 16}).str());
    const std::vector<float> jv = j.to_vector<float>();
    BOOST_TEST(std::all_of(jv.begin(), jv.end(), [](float v) { return std::abs(v * 255 - 128) <= 1.0f; }));
}

BOOST_AUTO_TEST_CASE(shrinking_averages_the_pixels_under_each_output_pixel) {
    // 1×2 [0, 255] stretched to 1×1: PIL's antialiased bilinear weighs both equally, (0 + 255) / 2
    // rounded up.
    const ImagePreparer prep(plugins(), {1, 1, 1}, "", {.fit = Fit::stretch});
    const kiln::image::Image two{1, 2, 1, {0, 255}};
    BOOST_TEST(prep.prepare(two, "two").x.item<float>() == 128 / 255.0f);
    // Enlarging a constant keeps it, and normalisation can follow to_tensor.
    const ImagePreparer norm(plugins(), {1, 5, 5}, "normalize=mean=0.5,std=0.5");
    BOOST_TEST(norm.pipeline() == "resize=5x5;to_tensor;normalize=mean=0.5,std=0.5");
    const kiln::image::Image one{1, 1, 1, {255}};
    BOOST_TEST(all_near(norm.prepare(one, "one").x, 1.0f));
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

// ---- aspect ratio, polarity and the training images' numbers ----

namespace {

// Fashion-MNIST's record, as kiln-train writes it for its training images (rounded).
const kiln::ImageStatistics fashion{.samples = 1000, .height = 28, .width = 28, .channels = 1, .mean = {0.286}, .std = {0.353},
                                    .border = 0.002, .brightness = {0.06, 0.58}, .contrast = {0.13, 0.46}, .border_range = {0, 0.03}};

// W×H grey, `background` everywhere but a w×h rectangle of `object` centred at (cx, cy).
kiln::image::Image rectangle(int64_t width, int64_t height, uint8_t background, int64_t w, int64_t h, uint8_t object,
                             int64_t cx, int64_t cy) {
    kiln::image::Image im{height, width, 1, std::vector<uint8_t>(size_t(width * height), background)};
    for (int64_t y = cy - h / 2; y < cy - h / 2 + h; ++y)
        for (int64_t x = cx - w / 2; x < cx - w / 2 + w; ++x) im.pixels[size_t(y * width + x)] = object;
    return im;
}

// The picture's pixels brighter than 128: how many columns and rows hold any.
std::pair<int64_t, int64_t> bright_extent(const kiln::image::Image& p) {
    std::vector<bool> cols(size_t(p.width)), rows(size_t(p.height));
    for (int64_t y = 0; y < p.height; ++y)
        for (int64_t x = 0; x < p.width; ++x)
            if (p.pixels[size_t((y * p.width + x) * p.channels)] > 128) cols[size_t(x)] = rows[size_t(y)] = true;
    return {std::count(cols.begin(), cols.end(), true), std::count(rows.begin(), rows.end(), true)};
}

uint8_t at(const kiln::image::Image& p, int64_t x, int64_t y) { return p.pixels[size_t((y * p.width + x) * p.channels)]; }

}  // namespace

BOOST_AUTO_TEST_CASE(an_image_in_numbers) {
    BOOST_TEST(kiln::data::frame_width(28, 28) == 1);
    BOOST_TEST(kiln::data::frame_width(480, 640) == 15);
    BOOST_TEST(kiln::data::frame_width(10, 1000) == 1);
    // 4×4: a frame of 12 white pixels around 2×2 black ones.
    const kiln::image::Image im = rectangle(4, 4, 255, 2, 2, 0, 2, 2);
    const kiln::data::ImageMeasures m = kiln::data::measure_image(kiln::image::view(im));
    BOOST_TEST(m.border == 1.0);
    BOOST_TEST(m.brightness == 0.75);
    BOOST_TEST(m.contrast == std::sqrt(0.75 * 0.25), boost::test_tools::tolerance(1e-12));
    BOOST_TEST((m.border_colour == std::vector<double>{255}));
    BOOST_CHECK_THROW(kiln::data::measure_image({im.pixels.data(), 4, 4, 2}), kiln::Error);
}

BOOST_AUTO_TEST_CASE(fashion_mnist_in_numbers) {
    const std::string dir = "/usr/share/datasets/fashion-mnist";
    if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz")) {
        BOOST_TEST_MESSAGE("skipped: " << dir << " is missing");
        return;
    }
    const kiln::data::Dataset train = plugins().open_dataset("idx:" + dir);
    const kiln::ImageStatistics s = kiln::data::measure_images(train);
    BOOST_TEST(s.samples == 1000);
    BOOST_TEST(s.height == 28);
    BOOST_TEST(s.width == 28);
    BOOST_TEST(s.channels == 1);
    // The whole training set's figures, known from torchvision tutorials: mean 0.2860, std 0.3530.
    BOOST_TEST(s.mean[0] == 0.2860, boost::test_tools::tolerance(0.03));
    BOOST_TEST(s.std[0] == 0.3530, boost::test_tools::tolerance(0.03));
    BOOST_TEST(s.dark_background());
    BOOST_TEST(s.border_range.high < 0.1);
    BOOST_TEST(s.brightness.low < s.brightness.high);
    BOOST_TEST((kiln::data::measure_images(train) == s));  // the same samples every time
    const std::vector<int64_t> some = {5, 17, 400, 59999};
    const kiln::ImageStatistics few = kiln::data::measure_images(train, some, 3);  // 5, 17 and 400
    BOOST_TEST(few.samples == 3);
    BOOST_TEST(few.mean[0] != s.mean[0]);
    // Samples that are not images: nothing recorded.
    BOOST_TEST(!kiln::data::measure_images(plugins().open_dataset("synthetic:circles,n=100")).recorded());
}

BOOST_AUTO_TEST_CASE(the_warning_says_what_differs) {
    kiln::data::ImageMeasures m{.brightness = 0.3, .contrast = 0.3, .border = 0.01, .border_colour = {2}};
    BOOST_TEST(kiln::data::unlike_training(m, fashion).empty());
    BOOST_TEST(kiln::data::unlike_training({.brightness = 0.9, .contrast = 0.3, .border = 0.01, .border_colour = {2}}, {}).empty());  // no record
    m.border = 0.85, m.brightness = 0.75;
    const std::vector<std::string> light = kiln::data::unlike_training(m, fashion);
    BOOST_REQUIRE_EQUAL(light.size(), 2u);
    BOOST_TEST(light[0] == "its background is light (border 0.85), the training images' dark (0.00)");
    BOOST_TEST(light[1] == "brightness 0.75 (the mean) is above the training images' 0.06–0.58");
    m = {.brightness = 0.4, .contrast = 0.03, .border = 0.3, .border_colour = {77}};
    const std::vector<std::string> grey = kiln::data::unlike_training(m, fashion);
    BOOST_REQUIRE_EQUAL(grey.size(), 2u);
    BOOST_TEST(grey[0] == "its background 0.30 (the border's median) is above the training images' 0.00–0.03");
    BOOST_TEST(grey[1] == "contrast 0.03 (the standard deviation) is below the training images' 0.13–0.46");
    // Just outside the range is not far: a quarter of its width (here 0.13) each side.
    m = {.brightness = 0.58 + 0.12, .contrast = 0.3, .border = 0.01, .border_colour = {2}};
    BOOST_TEST(kiln::data::unlike_training(m, fashion).empty());
}

BOOST_AUTO_TEST_CASE(each_fit_keeps_or_loses_the_aspect_ratio) {
    // 640×480, light, a dark 300×100 bar in the middle: prepared for a Fashion-MNIST model.
    const kiln::image::Image bar = rectangle(640, 480, 230, 300, 100, 20, 320, 240);
    const auto picture = [&](Fit fit) {
        const kiln::data::Prepared p = ImagePreparer(plugins(), {1, 28, 28}, "", {.fit = fit, .training = &fashion}).prepare(bar, "bar");
        BOOST_TEST(p.inverted);  // a light background for a dark-background run
        BOOST_TEST(p.x.shape().str() == kiln::Shape({1, 1, 28, 28}).str());
        const std::vector<float> x = p.x.to_vector<float>();  // the picture is what the model gets
        float worst = 0;
        for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - float(p.picture.pixels[i]) / 255));
        BOOST_TEST(worst < 1e-6f);
        return p.picture;
    };
    // Columns and rows of the bar, each within one of what the geometry says (a side may end
    // in the middle of a pixel).
    const auto extent_is = [](const kiln::image::Image& p, double cols, double rows) {
        const auto [c, r] = bright_extent(p);
        BOOST_TEST(std::abs(double(c) - cols) <= 1, c << " columns, expected " << cols);
        BOOST_TEST(std::abs(double(r) - rows) <= 1, r << " rows, expected " << rows);
    };
    // object: the bar is cut out and fills the width, 3:1 as it was, on its padded background.
    kiln::image::Image p = picture(Fit::object);
    extent_is(p, 28, 28 / 3.0);
    BOOST_TEST(bright_extent(p).first == 28);
    BOOST_TEST(at(p, 14, 0) < 40);
    // pad: the whole image, its longer side 28: the bar 300/640 of 28 wide, 100/640 high.
    extent_is(picture(Fit::pad), 13.1, 4.4);
    // crop: the middle 480×480, its side 28: 300/480 of 28 by 100/480.
    extent_is(picture(Fit::crop), 17.5, 5.8);
    // stretch: 640 and 480 both become 28: 300/640 of 28 wide but 100/480 high — squashed.
    extent_is(picture(Fit::stretch), 13.1, 5.8);
}

BOOST_AUTO_TEST_CASE(polarity_is_judged_from_the_border) {
    const kiln::image::Image light = rectangle(60, 40, 220, 20, 20, 40, 30, 20), dark = rectangle(60, 40, 10, 20, 20, 200, 30, 20);
    // Fit::pad: the square stays small on its background, as Fashion-MNIST's objects are not.
    const auto prepared = [&](const kiln::image::Image& im, Invert invert, const kiln::ImageStatistics* training) {
        return ImagePreparer(plugins(), {1, 28, 28}, "", {.fit = Fit::pad, .invert = invert, .training = training}).prepare(im, "im");
    };
    kiln::data::Prepared p = prepared(light, Invert::automatic, &fashion);
    BOOST_TEST(p.inverted);
    BOOST_TEST(at(p.picture, 14, 14) > 200);  // the object, light now
    BOOST_TEST(p.unlike_training.empty());
    BOOST_TEST(!prepared(dark, Invert::automatic, &fashion).inverted);
    kiln::ImageStatistics light_run = fashion;  // products photographed on white
    light_run.border = 0.95, light_run.border_range = {0.9, 1};
    BOOST_TEST(prepared(dark, Invert::automatic, &light_run).inverted);
    BOOST_TEST(!prepared(light, Invert::automatic, &light_run).inverted);
    BOOST_TEST(prepared(dark, Invert::yes, &fashion).inverted);
    // Without a record automatic leaves the image as it is and says it could not judge.
    p = prepared(light, Invert::automatic, nullptr);
    BOOST_TEST(!p.inverted);
    BOOST_TEST(p.inversion_unknown);
    BOOST_TEST(p.unlike_training.empty());  // nothing to compare with
    // Told not to invert a light image for a dark run: the warning says why it may mislead.
    p = prepared(light, Invert::no, &fashion);
    BOOST_TEST(!p.inverted);
    BOOST_TEST(!p.inversion_unknown);
    BOOST_REQUIRE(!p.unlike_training.empty());
    BOOST_TEST(p.unlike_training[0].rfind("its background is light", 0) == 0u, p.unlike_training[0]);
}

BOOST_AUTO_TEST_CASE(the_object_is_found_on_a_textured_table) {
    // A Fashion-MNIST-like sample — a bright 28-wide, 12-high band — drawn as a red product on wood,
    // 336 pixels wide in a 640×480 photo: the wood's grain does not widen the box.
    kiln::image::Image sample{28, 28, 1, std::vector<uint8_t>(784, 0)};
    for (int64_t y = 8; y < 20; ++y)
        for (int64_t x = 0; x < 28; ++x) sample.pixels[size_t(y * 28 + x)] = 200;
    const kiln::image::Image photo = kiln::testing::photo_on_wood(sample);
    BOOST_TEST(photo.width == 640);
    const kiln::data::Prepared p = ImagePreparer(plugins(), {1, 28, 28}, "", {.training = &fashion}).prepare(photo, "photo");
    BOOST_TEST(p.inverted);
    const auto [cols, rows] = bright_extent(p.picture);
    BOOST_TEST(cols == 28);                // the band fills the width again
    BOOST_TEST(std::abs(rows - 12) <= 1);  // at its own height
    // Above it, the wood — inverted, about 107 of 255 — is levelled to Fashion-MNIST's black.
    BOOST_TEST(p.levelled);
    BOOST_TEST(at(p.picture, 14, 1) < 40);
    BOOST_TEST(p.unlike_training.empty());
}

BOOST_AUTO_TEST_CASE(a_tile_on_a_page_is_the_objects_own_background) {
    // A Fashion-MNIST-like tile pasted as it is on a light page: a black 336×336 square holding a
    // light 200×100 bar. The tile, not the page, is the bar's background: nothing is inverted.
    kiln::image::Image page = rectangle(640, 480, 235, 336, 336, 0, 320, 240);
    for (int64_t y = 190; y < 290; ++y)
        for (int64_t x = 220; x < 420; ++x) page.pixels[size_t(y * 640 + x)] = 220;
    const kiln::data::Prepared p = ImagePreparer(plugins(), {1, 28, 28}, "", {.training = &fashion}).prepare(page, "page");
    BOOST_TEST(!p.inverted);
    const auto [cols, rows] = bright_extent(p.picture);
    BOOST_TEST(cols == 28);
    BOOST_TEST(std::abs(rows - 14) <= 1);
    BOOST_TEST(at(p.picture, 14, 1) < 10);
    BOOST_TEST(p.unlike_training.empty());
    // A plain dark rectangle on the page is the object itself, inverted as in each_fit_keeps_or_loses_the_aspect_ratio.
    const kiln::data::Prepared plain =
        ImagePreparer(plugins(), {1, 28, 28}, "", {.training = &fashion}).prepare(rectangle(640, 480, 235, 336, 336, 0, 320, 240), "plain");
    BOOST_TEST(plain.inverted);
}

BOOST_AUTO_TEST_SUITE_END()
