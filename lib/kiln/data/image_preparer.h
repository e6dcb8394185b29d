// Images for prediction: any PNG or JPEG becomes the batch of one a model takes, prepared to look
// like the images the model was trained on, as the run recorded them (kiln::ImageStatistics,
// model.json's "input_statistics"). Fashion-MNIST's images are light objects on black, trimmed of
// their background, the longer side 28 pixels; a user's photo is a darker object on a light table,
// small in a wide frame. The steps, in order:
//   mode:      the model's channels (grey, grey+alpha, RGB, RGBA and palette files all decode,
//              alpha dropped; to 1 channel with PIL's convert("L") luma, to 3 with
//              convert("RGB"), which repeats grey);
//   mat:       (Fit::object) a flat surface inside the picture that holds the object — a
//              Fashion-MNIST tile pasted on a page, a product on a sheet of paper on a table — is
//              the object's own background: when the object box's frame (below) is nearly flat
//              and unlike the picture's border, the box becomes the picture;
//   polarity:  Invert::automatic inverts the image (v → 255 − v) when its background — its border,
//              image_statistics.h's frame — is light and the training images' is dark, or the
//              other way round; without a record nothing is inverted (Prepared::inversion_unknown
//              says so). Invert::yes and Invert::no decide without looking;
//   object:    Fit::object (the default) cuts the image to its object: the box of the rows and
//              columns where pixels differ from the border colour by more than the background's
//              own variation (three times the border's spread: a table's grain stays out);
//              Fit::crop cuts the middle to the model's aspect ratio (the shorter side fits, what
//              sticks out is lost: torchvision's Resize(n) + CenterCrop(n));
//   level:     Background::match (the default): when the training images share one background
//              level (their borders' 1st–99th percentile within 0.1: Fashion-MNIST's black) and
//              the image is now their way round, its background is moved to that level and the
//              values beyond it scaled along (dark: v → t + (v − b)·(255 − t)/(255 − b), clamped,
//              b the border's colour plus twice its spread), so that a light-brown table, grey
//              once inverted, becomes the black the model knows, its grain below it;
//              Background::keep leaves the values as they are;
//   pad:       (Fit::object, Fit::pad) the image, centred, padded with its border's colour (after
//              the level: the training images' background) to the model's aspect ratio: the
//              longer side fits, as in Fashion-MNIST's own recipe (trim, longer side to 28, pad
//              the shorter). Fit::pad keeps the whole frame, so a photographed object ends up
//              smaller than the training objects; Fit::stretch neither cuts nor pads (what kiln
//              did before: a 640×480 picture comes out squashed to 28×28);
//   size:      then the transforms plugin's resize=HxW (PIL's antialiased bilinear), to_tensor
//              (u8 → f32 v / 255) and the run's eval transforms after to_tensor (Normalize);
//   batch:     the result is [1, C, H, W].
// Why these defaults, measured (a TinyVGG trained 2 epochs on Fashion-MNIST, 40 photo-like
// pictures — test images of 8 classes drawn dark in colour on wood at 640×480, test/photo_like.h):
// the old preparation (stretch, no inversion) got 5 right, every one called Bag; object, inverted
// and levelled 30; pad 6 and crop 17 instead of object; object without the level 10. The samples
// themselves at 28×28 keep their 34 of 40 under every fit. Objects lighter than their table (a
// yellow T-shirt on light wood) stay wrong: inverted they are darker than the table, and the
// level hides them — the warning below says so (their contrast is far too low).
// Beside the tensor it returns the picture the model gets (u8, the model's size and channels,
// before to_tensor) and, measured on that picture, how it is unlike the training images
// (image_statistics.h's unlike_training: brightness, contrast, background) — kiln-infer's
// warning that a prediction may not be trustworthy.
//
//   kiln::data::PluginRegistry plugins;
//   kiln::data::ImagePreparer prep(plugins, {1, 28, 28}, "", {.training = &spec.input_statistics});
//   const kiln::data::Prepared p = prep.prepare_file("boot.jpg");    // p.x: f32 [1, 1, 28, 28]
//   prog->write_input(input, p.x.data<float>(), 1);
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/core/image_statistics.h"
#include "kiln/data/dataset.h"
#include "kiln/data/image_statistics.h"
#include "kiln/data/plugin_registry.h"
#include "kiln/image/codec.h"
#include "kiln/tensor/tensor.h"

namespace kiln::data {

struct InputShape {
    int64_t channels = 0;  // 1 or 3
    int64_t height = 0, width = 0;
};

enum class Fit { object, pad, crop, stretch };
enum class Invert { automatic, yes, no };
enum class Background { match, keep };

struct PrepareOptions {
    Fit fit = Fit::object;
    Invert invert = Invert::automatic;
    Background background = Background::match;
    // The training images' record (model.json's "input_statistics"); null or not recorded():
    // Invert::automatic inverts nothing and no image is compared. Must outlive the preparer.
    const ImageStatistics* training = nullptr;
};

struct Prepared {
    Tensor x;               // f32 [1, C, H, W]
    image::Image picture;   // what the model gets: u8 H×W×C, before to_tensor
    bool inverted = false;  // whether the image was inverted
    bool inversion_unknown = false;  // Invert::automatic without a training record: left as it was
    bool levelled = false;  // whether its background level was moved to the training images'
    ImageMeasures measures;              // of `picture`
    std::vector<std::string> unlike_training;  // unlike_training(measures, the record): why it may mislead
};

class ImagePreparer {
public:
    // The pipeline is "resize=HxW;to_tensor" followed by `after_to_tensor` (e.g. the model's
    // "normalize=mean=0.5,std=0.5"), made through `plugins` (which must offer the transforms
    // plugin). Error(invalid_argument) for channels other than 1 or 3 or sides < 1.
    ImagePreparer(const PluginRegistry& plugins, InputShape shape, std::string_view after_to_tensor = "",
                  PrepareOptions options = {});

    const InputShape& shape() const { return shape_; }
    std::string pipeline() const;  // "resize=28x28;to_tensor"; the steps before it are the options'

    // Decoding errors are the codec's (Error(io) or Error(format), naming the file); a step after
    // to_tensor that changes the shape is Error(shape_mismatch).
    Prepared prepare_file(const std::string& path) const;
    Prepared prepare_bytes(std::span<const uint8_t> bytes, const std::string& name) const;
    // An image decoded already (1 or 3 channels), converted as decoding would have.
    Prepared prepare(const image::Image& decoded, const std::string& name) const;

private:
    InputShape shape_;
    PrepareOptions options_;
    TransformPipeline resize_;     // u8 → u8 at the model's size
    TransformPipeline to_tensor_;  // to_tensor and what follows it
};

}  // namespace kiln::data
