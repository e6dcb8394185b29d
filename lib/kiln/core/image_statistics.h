// What a model's training images look like, as its run records them (model.json's
// "input_statistics", kiln/nn/model_file.h) and as kiln-infer compares each image it predicts
// with them (kiln/data/image_statistics.h measures both). A plain record, here at the bottom so
// that the model file (nn) and the data layer share one type without seeing each other.
// Every value is of pixels as ToTensor gives them, v / 255 in [0, 1].
#pragma once
#include <cstdint>
#include <vector>

namespace kiln {

struct ImageStatistics {
    // [low, high]: the 1st and 99th percentile of one number over the measured images.
    struct Range {
        double low = 0, high = 0;
        bool operator==(const Range&) const = default;
    };

    int64_t samples = 0;            // images measured; 0: no record
    int64_t height = 0, width = 0;  // the most common size among them
    int64_t channels = 0;           // 1 or 3: the entries of mean and std
    std::vector<double> mean, std;  // per channel, over every pixel of every image (Normalize's)
    double border = 0;              // mean over the images of their border (the median of image_statistics.h's frame)
    // Per image: brightness is its mean, contrast its standard deviation, each over every pixel
    // and channel, and border its frame's median.
    Range brightness, contrast, border_range;

    bool recorded() const { return samples > 0; }
    // Fashion-MNIST's objects are light on black: its border is dark.
    bool dark_background() const { return border < 0.5; }
    bool operator==(const ImageStatistics&) const = default;
};

}  // namespace kiln
