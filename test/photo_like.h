// Photo-like pictures for the prediction tests, drawn from Fashion-MNIST images: what a user
// photographs is the product itself — dark on a light table, in colour, small in a wide frame —
// where Fashion-MNIST shows it light on black, grey, filling a 28×28 square. photo_on_wood turns a
// 28×28 sample back into such a photo: the object scaled up keeping its aspect ratio, shaded as the
// product (Fashion-MNIST's intensities are the negated photo's, so a bright sample pixel is a
// dark product pixel), tinted `colour`, on a wood-like background (warm light brown, wavy darker
// grain, a little noise), the same pixels on every run.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kiln/core/rng.h"
#include "kiln/image/codec.h"
#include "kiln/image/draw.h"

namespace kiln::testing {

struct Photo {
    int64_t width = 640, height = 480;
    int64_t object = 336;                  // the sample's 28×28 square drawn this many pixels wide
    int64_t centre_x = 340, centre_y = 236;  // where its centre goes
    image::Rgb colour{200, 30, 40};        // the product's colour where it is darkest in the photo
    uint64_t seed = 1;                     // the background's noise
};

// The wood: grain lines that wander with y, each pixel's brightness between 0.8 and 1 of the base
// colour, and ±6 of noise per channel.
inline image::Rgb wood(int64_t x, int64_t y, uint64_t seed) {
    const double wave = std::sin((double(x) + 14 * std::sin(double(y) / 41.0) + 5 * std::sin(double(y) / 9.0)) / 7.0);
    const double shade = 0.8 + 0.2 * (0.5 + 0.5 * wave);
    const uint64_t h = splitmix64(seed ^ splitmix64(uint64_t(y) * 100003u + uint64_t(x)));
    const auto channel = [&](double base, int k) {
        const double noise = double((h >> (8 * k)) & 0xff) / 255.0 * 12 - 6;
        return uint8_t(std::clamp(base * shade + noise, 0.0, 255.0));
    };
    return {channel(206, 0), channel(160, 1), channel(110, 2)};
}

// `sample`: a Fashion-MNIST image, u8 28×28×1.
inline image::Image photo_on_wood(const image::Image& sample, const Photo& p = {}) {
    image::Canvas c(p.width, p.height);
    for (int64_t y = 0; y < p.height; ++y)
        for (int64_t x = 0; x < p.width; ++x) c.set_pixel(x, y, wood(x, y, p.seed));
    const double scale = double(sample.width) / double(p.object);
    const int64_t left = p.centre_x - p.object / 2, top = p.centre_y - p.object / 2;
    for (int64_t y = 0; y < p.object; ++y)
        for (int64_t x = 0; x < p.object; ++x) {
            // Bilinear between the sample's pixel centres.
            const double sx = std::clamp((double(x) + 0.5) * scale - 0.5, 0.0, double(sample.width - 1));
            const double sy = std::clamp((double(y) + 0.5) * scale - 0.5, 0.0, double(sample.height - 1));
            const int64_t x0 = int64_t(sx), y0 = int64_t(sy);
            const int64_t x1 = std::min(x0 + 1, sample.width - 1), y1 = std::min(y0 + 1, sample.height - 1);
            const double fx = sx - double(x0), fy = sy - double(y0);
            const auto at = [&](int64_t xx, int64_t yy) { return double(sample.pixels[size_t(yy * sample.width + xx)]); };
            const double v = (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) + (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
            const double alpha = std::clamp(v / 48, 0.0, 1.0);  // the sample's black is the table
            if (alpha == 0) continue;
            const double light = 1 - v / 255;  // the product's own brightness in the photo
            const image::Rgb under = c.pixel(left + x, top + y);
            const auto mix = [&](uint8_t product, uint8_t table) {
                const double shaded = std::min(255.0, product * (0.45 + 0.9 * light));
                return uint8_t(std::lround(alpha * shaded + (1 - alpha) * table));
            };
            c.set_pixel(left + x, top + y, {mix(p.colour.r, under.r), mix(p.colour.g, under.g), mix(p.colour.b, under.b)});
        }
    return {p.height, p.width, 3, c.pixels()};
}

}  // namespace kiln::testing
