// What images look like, in numbers: one image's (ImageMeasures), a dataset's (measure_images →
// kiln::ImageStatistics, which kiln-train records in the run's model.json), and how far an image
// prepared for prediction lies from the training images (unlike_training, kiln-infer's warning).
//
//   const kiln::ImageStatistics s = kiln::data::measure_images(dataset, train_indices);
//   // Fashion-MNIST: 1000 samples, 28×28, 1 channel, mean 0.286, std 0.353, a dark border
//
// The border: an image's frame, frame_width pixels wide on every side. A product photo's frame is
// mostly its background, whichever way round (Fashion-MNIST: black; a photo on a table: light),
// so its median — robust to an object that touches an edge, as Fashion-MNIST's pullovers and bags
// do — says which polarity the image has, and its colour is what padding repeats.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kiln/core/image_statistics.h"
#include "kiln/data/dataset.h"
#include "kiln/image/codec.h"

namespace kiln::data {

// The frame's width: 1/32 of the shorter side, at least 1 pixel (1 for Fashion-MNIST's 28×28, 15
// for a 640×480 photo, thick enough that a JPEG's edge or one scratch does not decide).
int64_t frame_width(int64_t height, int64_t width);

// One image's numbers, of its values v / 255 over every pixel and channel (except border_colour).
struct ImageMeasures {
    double brightness = 0;  // the mean
    double contrast = 0;    // the standard deviation
    double border = 0;      // the frame's median
    std::vector<double> border_colour;  // the frame's median per channel, 0..255
    // How much the background varies (a table's grain, JPEG noise): the median, over the frame's
    // pixels, of their largest channel difference from border_colour, 0..255.
    double border_spread = 0;
};
// `image`: u8 H×W×C, C = 1 or 3, sides ≥ 1 (Error(invalid_argument) otherwise).
ImageMeasures measure_image(image::ImageView image);

// Measures up to `max_samples` images of `data` spread evenly over `indices` (all of `data` when
// empty) — the same images on every run. The samples must be u8 H×W×C images with C = 1 or 3, as
// the dataset stores them (before any transform); for any other kind of sample the result records
// nothing (samples = 0). A sample the plugin cannot decode is left out when the dataset's
// configuration skips bad samples (on_error=skip) and an Error otherwise, as the DataLoader does.
ImageStatistics measure_images(const Dataset& data, std::span<const int64_t> indices = {}, int64_t max_samples = 1000);

// How `input` (the measures of an image as the model gets it, before Normalize) is unlike the
// training images, a phrase per number that lies far outside their range, e.g.
//   "its background is light (border 0.82), the training images' dark (0.00)"
//   "brightness 0.71 is above the training images' 0.05–0.52"
// Empty when nothing is far, or when `training` records nothing. Far: outside the training
// images' 1st–99th percentile widened on each side by a quarter of its width, and at least by
// 0.05 (a tenth of the brightest possible contrast): a model has seen little there.
std::vector<std::string> unlike_training(const ImageMeasures& input, const ImageStatistics& training);

}  // namespace kiln::data
