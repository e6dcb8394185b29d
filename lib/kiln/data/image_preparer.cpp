#include "kiln/data/image_preparer.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/image/color.h"

namespace kiln::data {

namespace {

// Training images share one background level when their borders' 1st–99th percentile spans at
// most this (Fashion-MNIST's: 0–0.03; photos of scenes: most of 0–1).
constexpr double flat_background = 0.1;

// A frame this flat (its spread, 0..255) is a plain surface, not an object's outline.
constexpr double flat_spread = 8;

struct Box {
    int64_t top = 0, left = 0, height = 0, width = 0;
};

// The pixels of `box` of `im`.
image::Image cut(const image::Image& im, Box box) {
    const size_t c = size_t(im.channels);
    image::Image out{box.height, box.width, im.channels, std::vector<uint8_t>(size_t(box.height * box.width) * c)};
    for (int64_t y = 0; y < box.height; ++y) {
        const uint8_t* from = &im.pixels[(size_t((box.top + y) * im.width + box.left)) * c];
        std::copy(from, from + size_t(box.width) * c, &out.pixels[size_t(y * box.width) * c]);
    }
    return out;
}

// `im` centred on a canvas of `height` × `width` (each ≥ the image's) filled with `fill`.
image::Image pad(const image::Image& im, int64_t height, int64_t width, const std::vector<uint8_t>& fill) {
    const size_t c = size_t(im.channels);
    image::Image out{height, width, im.channels, std::vector<uint8_t>(size_t(height * width) * c)};
    for (size_t p = 0; p < size_t(height * width); ++p) std::copy(fill.begin(), fill.end(), &out.pixels[p * c]);
    const int64_t top = (height - im.height) / 2, left = (width - im.width) / 2;
    for (int64_t y = 0; y < im.height; ++y)
        std::copy(&im.pixels[size_t(y * im.width) * c], &im.pixels[size_t((y + 1) * im.width) * c],
                  &out.pixels[(size_t((top + y) * width + left)) * c]);
    return out;
}

// The box of the image's object: from the first to the last row (and column) in which pixels
// differ from the border colour by more than the background's own variation does. A pixel's
// difference is its largest channel difference; the background's, three times the border's
// spread (its median difference: robust to an object that touches the frame), but at least 24 of
// 255 (Fashion-MNIST's trimming took 5 % of the range, 13; a little more for JPEG's noise). A
// row counts when more than 2 % of its pixels (and two) differ, so that a knot in the wood or a
// speck of dust does not widen the box. The whole image when there is no such row or column.
Box object_box(const image::Image& im, const ImageMeasures& own) {
    const size_t c = size_t(im.channels);
    const double texture = std::max(24.0, 3 * own.border_spread);
    std::vector<int64_t> rows(size_t(im.height)), cols(size_t(im.width));
    for (int64_t y = 0; y < im.height; ++y)
        for (int64_t x = 0; x < im.width; ++x) {
            const uint8_t* p = &im.pixels[size_t(y * im.width + x) * c];
            double d = 0;
            for (size_t k = 0; k < c; ++k) d = std::max(d, std::abs(p[k] - own.border_colour[k]));
            if (d > texture) ++rows[size_t(y)], ++cols[size_t(x)];
        }
    const auto span = [](const std::vector<int64_t>& counts, int64_t length) {
        const int64_t enough = std::max<int64_t>(2, length / 50 + 1);
        int64_t first = -1, last = -1;
        for (int64_t i = 0; i < int64_t(counts.size()); ++i)
            if (counts[size_t(i)] >= enough) last = i, first = first < 0 ? i : first;
        return std::pair{first, last};
    };
    const auto [top, bottom] = span(rows, im.width);
    const auto [left, right] = span(cols, im.height);
    if (top < 0 || left < 0) return {0, 0, im.height, im.width};
    return {top, left, bottom - top + 1, right - left + 1};
}

// Moves the image's background level to the training images' and scales the values beyond it
// along, channel by channel, in the training images' polarity. The image's level b is the border
// colour plus twice the border's spread (minus, for a light background): the top of the table's
// grain rather than its middle, so that most of the grain ends below the training images' level
// t. Dark: v → t + (v − b)·(255 − t)/(255 − b), clamped to 0..255 (b becomes t, 255 stays); light
// mirrors it.
void level(image::Image& im, const ImageMeasures& own, double training_border, bool dark) {
    const size_t c = size_t(im.channels);
    const double t = training_border * 255;
    std::vector<double> b;
    for (double v : own.border_colour)
        b.push_back(std::clamp(dark ? v + 2 * own.border_spread : v - 2 * own.border_spread, 1.0, 254.0));
    for (size_t p = 0; p < im.pixels.size(); ++p) {
        const double v = im.pixels[p], bk = b[p % c];
        const double out = dark ? t + (v - bk) * (255 - t) / (255 - bk) : t - (bk - v) * t / bk;
        im.pixels[p] = uint8_t(std::lround(std::clamp(out, 0.0, 255.0)));
    }
}

}  // namespace

ImagePreparer::ImagePreparer(const PluginRegistry& plugins, InputShape shape, std::string_view after_to_tensor,
                             PrepareOptions options)
    : shape_(shape), options_(options) {
    if ((shape.channels != 1 && shape.channels != 3) || shape.height < 1 || shape.width < 1)
        fail(Errc::invalid_argument, "ImagePreparer: the model's input must be C×H×W with C = 1 or 3 and sides ≥ 1, got " +
                                         std::to_string(shape.channels) + "×" + std::to_string(shape.height) + "×" +
                                         std::to_string(shape.width));
    resize_ = plugins.pipeline("resize=" + std::to_string(shape.height) + "x" + std::to_string(shape.width));
    std::string text = "to_tensor";
    if (!after_to_tensor.empty()) (text += ';') += after_to_tensor;
    to_tensor_ = plugins.pipeline(text);
}

std::string ImagePreparer::pipeline() const { return resize_.str() + ";" + to_tensor_.str(); }

Prepared ImagePreparer::prepare_file(const std::string& path) const {
    return prepare(image::decode_file(path, {.mode = shape_.channels == 1 ? image::ColorMode::grey : image::ColorMode::rgb}),
                   path);
}

Prepared ImagePreparer::prepare_bytes(std::span<const uint8_t> bytes, const std::string& name) const {
    return prepare(image::decode(bytes, name, {.mode = shape_.channels == 1 ? image::ColorMode::grey : image::ColorMode::rgb}),
                   name);
}

Prepared ImagePreparer::prepare(const image::Image& decoded, const std::string& name) const {
    if ((decoded.channels != 1 && decoded.channels != 3) || decoded.height < 1 || decoded.width < 1 ||
        decoded.pixels.size() != size_t(decoded.height * decoded.width * decoded.channels))
        fail(Errc::invalid_argument, name + ": a decoded image has 1 or 3 channels and H·W·C pixels, got " +
                                         std::to_string(decoded.channels) + " channels");
    Prepared out;
    // Grey ↔ RGB as PIL converts: luma for grey, a repeated value for RGB.
    image::Image img = decoded;
    if (decoded.channels != shape_.channels) {
        img = {decoded.height, decoded.width, int(shape_.channels), {}};
        const size_t n = size_t(decoded.height * decoded.width);
        img.pixels.resize(n * size_t(shape_.channels));
        for (size_t i = 0; i < n; ++i) {
            const uint8_t* p = &decoded.pixels[i * size_t(decoded.channels)];
            if (shape_.channels == 1) img.pixels[i] = image::luma(p[0], p[1], p[2]);
            else img.pixels[3 * i] = img.pixels[3 * i + 1] = img.pixels[3 * i + 2] = p[0];
        }
    }

    ImageMeasures own = measure_image(image::view(img));
    // A flat mat inside the picture — a Fashion-MNIST tile pasted on a page, a product on a sheet
    // of paper on a table — is the object's own background: when the object box's frame is
    // nearly flat and unlike the picture's border, and the box holds an object of its own (a plain
    // rectangle is the object itself), the box becomes the picture (once).
    if (options_.fit == Fit::object) {
        image::Image mat = cut(img, object_box(img, own));
        const ImageMeasures inner = measure_image(image::view(mat));
        if (inner.border_spread <= flat_spread && std::abs(inner.border - own.border) > 0.25) {
            const Box inside = object_box(mat, inner);
            if (inside.height < mat.height || inside.width < mat.width) img = std::move(mat), own = inner;
        }
    }

    // Polarity, judged from the border against the training images'.
    const ImageStatistics* training = options_.training && options_.training->recorded() ? options_.training : nullptr;
    if (options_.invert == Invert::yes) out.inverted = true;
    else if (options_.invert == Invert::automatic && training) out.inverted = (own.border < 0.5) != training->dark_background();
    else out.inversion_unknown = options_.invert == Invert::automatic;
    if (out.inverted) {
        for (uint8_t& v : img.pixels) v = uint8_t(255 - v);
        for (double& v : own.border_colour) v = 255 - v;
        own.border = 1 - own.border;
    }

    // The object, or the middle for Fit::crop, cut out at the image's own resolution.
    const double aspect = double(shape_.width) / double(shape_.height);
    if (options_.fit == Fit::object) {
        img = cut(img, object_box(img, own));
    } else if (options_.fit == Fit::crop) {
        Box box{0, 0, img.height, img.width};
        if (double(img.width) > aspect * double(img.height))
            box.width = std::clamp<int64_t>(std::llround(double(img.height) * aspect), 1, img.width);
        else
            box.height = std::clamp<int64_t>(std::llround(double(img.width) / aspect), 1, img.height);
        box.top = (img.height - box.height) / 2, box.left = (img.width - box.width) / 2;
        img = cut(img, box);
    }

    // The background's level, once the image is the training images' way round and they share one.
    if (options_.background == Background::match && training && (own.border < 0.5) == training->dark_background() &&
        training->border_range.high - training->border_range.low <= flat_background) {
        level(img, own, training->border, training->dark_background());
        // The padding's colour: the training images' level, where the border's went (or beyond).
        std::fill(own.border_colour.begin(), own.border_colour.end(), training->border * 255);
        out.levelled = true;
    }

    // Padded to the model's aspect ratio with the border's colour; resize_ scales it.
    if (options_.fit == Fit::object || options_.fit == Fit::pad) {
        std::vector<uint8_t> fill;
        for (double v : own.border_colour) fill.push_back(uint8_t(std::lround(v)));
        if (double(img.width) > aspect * double(img.height))
            img = pad(img, std::max<int64_t>(img.height, std::llround(double(img.width) / aspect)), img.width, fill);
        else
            img = pad(img, img.height, std::max<int64_t>(img.width, std::llround(double(img.height) * aspect)), fill);
    }

    PipelineScratch scratch, tensor_scratch;
    const kiln_array in{KILN_U8, 3, {img.height, img.width, img.channels, 0}, img.pixels.data()};
    const kiln_array resized = resize_.apply(in, scratch, /*seed=*/0);
    const uint8_t* pixels = static_cast<const uint8_t*>(resized.data);
    out.picture = {shape_.height, shape_.width, int(shape_.channels),
                   std::vector<uint8_t>(pixels, pixels + size_t(shape_.height * shape_.width * shape_.channels))};
    const kiln_array t = to_tensor_.apply(resized, tensor_scratch, /*seed=*/0);
    const Shape expected{shape_.channels, shape_.height, shape_.width};
    if (t.elem != KILN_F32 || array_shape(t) != expected)
        fail(Errc::shape_mismatch, name + ": the pipeline \"" + pipeline() + "\" gives " + array_description(t) +
                                       ", the model takes f32 " + expected.str());
    out.x = from_data(t.data, DType::f32, Shape{1, shape_.channels, shape_.height, shape_.width});
    out.measures = measure_image(image::view(out.picture));
    if (training) out.unlike_training = unlike_training(out.measures, *training);
    return out;
}

}  // namespace kiln::data
