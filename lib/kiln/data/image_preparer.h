// Images for prediction: any PNG or JPEG becomes the batch of one a model takes, handling the
// course's three classic mistakes for the user —
//   dtype:  u8 pixels become f32 in [0, 1] (ToTensor: v / 255);
//   shape:  the image gets the model's channels (grey, grey+alpha, RGB, RGBA and palette files
//           all decode, alpha dropped; to 1 channel with PIL's convert("L") luma, to 3 with
//           convert("RGB"), which repeats grey) and its height × width (the transforms plugin's
//           resize=HxW: PIL's antialiased bilinear, as torchvision's Resize on PIL images);
//   batch:  the result is [1, C, H, W].
//
//   kiln::data::PluginRegistry plugins;
//   kiln::data::ImagePreparer prep(plugins, {1, 28, 28});            // the model's C, H, W
//   kiln::Tensor x = prep.prepare_file("boot.jpg");                    // f32 [1, 1, 28, 28]
//   prog->write_input(input, x.data<float>(), 1);
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "kiln/data/dataset.h"
#include "kiln/data/plugin_registry.h"
#include "kiln/image/codec.h"
#include "kiln/tensor/tensor.h"

namespace kiln::data {

struct InputShape {
    int64_t channels = 0;  // 1 or 3
    int64_t height = 0, width = 0;
};

class ImagePreparer {
public:
    // The pipeline is "resize=HxW;to_tensor" followed by `after_to_tensor` (e.g. the model's
    // "normalize=mean=0.5,std=0.5"), made through `plugins` (which must offer the transforms
    // plugin). Error(invalid_argument) for channels other than 1 or 3 or sides < 1.
    ImagePreparer(const PluginRegistry& plugins, InputShape shape, std::string_view after_to_tensor = "");

    const InputShape& shape() const { return shape_; }
    std::string pipeline() const { return pipeline_.str(); }

    // f32 [1, C, H, W]. Decoding errors are the codec's (Error(io) or Error(format), naming the
    // file); a step after to_tensor that changes the shape is Error(shape_mismatch).
    Tensor prepare_file(const std::string& path) const;
    Tensor prepare_bytes(std::span<const uint8_t> bytes, const std::string& name) const;
    // An image decoded already (1 or 3 channels), converted as decoding would have.
    Tensor prepare(const image::Image& decoded, const std::string& name) const;

private:
    InputShape shape_;
    TransformPipeline pipeline_;
};

}  // namespace kiln::data
