#include "kiln/data/image_preparer.h"

#include "kiln/core/error.h"
#include "kiln/image/color.h"

namespace kiln::data {

ImagePreparer::ImagePreparer(const PluginRegistry& plugins, InputShape shape, std::string_view after_to_tensor)
    : shape_(shape) {
    if ((shape.channels != 1 && shape.channels != 3) || shape.height < 1 || shape.width < 1)
        fail(Errc::invalid_argument, "ImagePreparer: the model's input must be C×H×W with C = 1 or 3 and sides ≥ 1, got " +
                                         std::to_string(shape.channels) + "×" + std::to_string(shape.height) + "×" +
                                         std::to_string(shape.width));
    std::string text = "resize=" + std::to_string(shape.height) + "x" + std::to_string(shape.width) + ";to_tensor";
    if (!after_to_tensor.empty()) (text += ';') += after_to_tensor;
    pipeline_ = plugins.pipeline(text);
}

Tensor ImagePreparer::prepare_file(const std::string& path) const {
    return prepare(image::decode_file(path, {.mode = shape_.channels == 1 ? image::ColorMode::grey : image::ColorMode::rgb}),
                   path);
}

Tensor ImagePreparer::prepare_bytes(std::span<const uint8_t> bytes, const std::string& name) const {
    return prepare(image::decode(bytes, name, {.mode = shape_.channels == 1 ? image::ColorMode::grey : image::ColorMode::rgb}),
                   name);
}

Tensor ImagePreparer::prepare(const image::Image& decoded, const std::string& name) const {
    if ((decoded.channels != 1 && decoded.channels != 3) ||
        decoded.pixels.size() != size_t(decoded.height * decoded.width * decoded.channels))
        fail(Errc::invalid_argument, name + ": a decoded image has 1 or 3 channels and H·W·C pixels, got " +
                                         std::to_string(decoded.channels) + " channels");
    // Grey ↔ RGB as PIL converts: luma for grey, a repeated value for RGB.
    const image::Image* img = &decoded;
    image::Image converted;
    if (decoded.channels != shape_.channels) {
        converted = {decoded.height, decoded.width, int(shape_.channels), {}};
        const size_t n = size_t(decoded.height * decoded.width);
        converted.pixels.resize(n * size_t(shape_.channels));
        for (size_t i = 0; i < n; ++i) {
            const uint8_t* p = &decoded.pixels[i * size_t(decoded.channels)];
            if (shape_.channels == 1) converted.pixels[i] = image::luma(p[0], p[1], p[2]);
            else converted.pixels[3 * i] = converted.pixels[3 * i + 1] = converted.pixels[3 * i + 2] = p[0];
        }
        img = &converted;
    }
    const kiln_array in{KILN_U8, 3, {img->height, img->width, img->channels, 0}, const_cast<uint8_t*>(img->pixels.data())};
    PipelineScratch scratch;
    const kiln_array out = pipeline_.apply(in, scratch, /*seed=*/0);
    const Shape expected{shape_.channels, shape_.height, shape_.width};
    if (out.elem != KILN_F32 || array_shape(out) != expected)
        fail(Errc::shape_mismatch, name + ": the pipeline \"" + pipeline_.str() + "\" gives " +
                                       array_description(out) + ", the model takes f32 " + expected.str());
    return from_data(out.data, DType::f32, Shape{1, shape_.channels, shape_.height, shape_.width});
}

}  // namespace kiln::data
