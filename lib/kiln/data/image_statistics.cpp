#include "kiln/data/image_statistics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <utility>

#include "kiln/core/error.h"

namespace kiln::data {

namespace {

// The value at quantile q of `v` (sorted here), the nearest rank.
double quantile(std::vector<double>& v, double q) {
    std::sort(v.begin(), v.end());
    return v[size_t(std::lround(q * double(v.size() - 1)))];
}

ImageStatistics::Range percentiles(std::vector<double> v) { return {quantile(v, 0.01), quantile(v, 0.99)}; }

std::string two(double v) {
    char s[16];
    std::snprintf(s, sizeof s, "%.2f", v);
    return s;
}

}  // namespace

int64_t frame_width(int64_t height, int64_t width) { return std::max<int64_t>(1, std::min(height, width) / 32); }

ImageMeasures measure_image(image::ImageView im) {
    if ((im.channels != 1 && im.channels != 3) || im.height < 1 || im.width < 1 || !im.pixels)
        fail(Errc::invalid_argument, "measure_image: expected a u8 H×W×C image with C = 1 or 3 and sides ≥ 1, got " +
                                         std::to_string(im.height) + "×" + std::to_string(im.width) + "×" + std::to_string(im.channels));
    const size_t c = size_t(im.channels);
    const int64_t f = frame_width(im.height, im.width);
    double sum = 0, sum2 = 0;
    std::vector<std::array<int64_t, 256>> frame(c + 1, std::array<int64_t, 256>{});  // per channel, then all of them
    for (int64_t y = 0; y < im.height; ++y) {
        const bool edge_row = y < f || y >= im.height - f;
        for (int64_t x = 0; x < im.width; ++x) {
            const uint8_t* p = im.pixels + (size_t(y * im.width + x)) * c;
            const bool in_frame = edge_row || x < f || x >= im.width - f;
            for (size_t k = 0; k < c; ++k) {
                const double v = p[k];
                sum += v, sum2 += v * v;
                if (in_frame) ++frame[k][p[k]], ++frame[c][p[k]];
            }
        }
    }
    // The median of a histogram: the lowest value with half the counts at or below it.
    const auto median = [](const std::array<int64_t, 256>& h) {
        int64_t total = 0, below = 0;
        for (int64_t n : h) total += n;
        for (size_t v = 0; v < 256; ++v)
            if ((below += h[v]) * 2 >= total) return double(v);
        return 255.0;
    };
    const double n = double(im.height * im.width) * double(c);
    ImageMeasures m;
    m.brightness = sum / n / 255;
    m.contrast = std::sqrt(std::max(0.0, sum2 / n - (sum / n) * (sum / n))) / 255;
    m.border = median(frame[c]) / 255;
    for (size_t k = 0; k < c; ++k) m.border_colour.push_back(median(frame[k]));
    std::array<int64_t, 256> spread{};
    for (int64_t y = 0; y < im.height; ++y)
        for (int64_t x = 0; x < im.width; ++x)
            if (y < f || y >= im.height - f || x < f || x >= im.width - f) {
                const uint8_t* p = im.pixels + (size_t(y * im.width + x)) * c;
                double d = 0;
                for (size_t k = 0; k < c; ++k) d = std::max(d, std::abs(p[k] - m.border_colour[k]));
                ++spread[size_t(d)];
            }
    m.border_spread = median(spread);
    return m;
}

ImageStatistics measure_images(const Dataset& data, std::span<const int64_t> indices, int64_t max_samples) {
    const int64_t pool = indices.empty() ? data.size() : int64_t(indices.size());
    const int64_t n = std::min(pool, std::max<int64_t>(0, max_samples));
    ImageStatistics s;
    std::vector<double> sum, sum2, brightness, contrast, border;
    std::map<std::pair<int64_t, int64_t>, int64_t> sizes;
    double values = 0;  // pixels measured, per channel
    SampleBuffer buf;
    char err[512];
    for (int64_t k = 0; k < n; ++k) {
        // Evenly spread: the first, then every pool/n-th (in 128 bits: k · pool may pass 2^63).
        const int64_t pick = int64_t(static_cast<unsigned __int128>(k) * uint64_t(pool) / uint64_t(n));
        const int64_t i = indices.empty() ? pick : indices[size_t(pick)];
        kiln_array a{};
        int64_t label = 0;
        const kiln_status st = data.try_get(i, buf, a, label, err, sizeof err);
        if (st == KILN_ERR_FORMAT && data.config_skips_bad_samples()) continue;
        if (st != KILN_OK) fail(errc_of(st), data.spec() + ": sample " + std::to_string(i) + ": " + err);
        const int64_t channels = a.rank == 3 ? a.shape[2] : 0;
        if (a.elem != KILN_U8 || (channels != 1 && channels != 3) || (s.channels && channels != s.channels)) return {};
        s.channels = channels;
        const image::ImageView view{static_cast<const uint8_t*>(a.data), a.shape[0], a.shape[1], int(channels)};
        const ImageMeasures m = measure_image(view);
        brightness.push_back(m.brightness), contrast.push_back(m.contrast), border.push_back(m.border);
        ++sizes[{view.height, view.width}];
        sum.resize(size_t(channels)), sum2.resize(size_t(channels));
        const size_t pixels = size_t(view.height * view.width);
        for (size_t p = 0; p < pixels; ++p)
            for (size_t ch = 0; ch < size_t(channels); ++ch) {
                const double v = view.pixels[p * size_t(channels) + ch] / 255.0;
                sum[ch] += v, sum2[ch] += v * v;
            }
        values += double(pixels);
    }
    if (brightness.empty()) return {};
    s.samples = int64_t(brightness.size());
    const auto common = std::max_element(sizes.begin(), sizes.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    s.height = common->first.first, s.width = common->first.second;
    for (size_t ch = 0; ch < sum.size(); ++ch) {
        const double mean = sum[ch] / values;
        s.mean.push_back(mean);
        s.std.push_back(std::sqrt(std::max(0.0, sum2[ch] / values - mean * mean)));
    }
    for (double b : border) s.border += b / double(border.size());
    s.brightness = percentiles(brightness), s.contrast = percentiles(contrast), s.border_range = percentiles(border);
    return s;
}

std::vector<std::string> unlike_training(const ImageMeasures& input, const ImageStatistics& training) {
    std::vector<std::string> far;
    if (!training.recorded()) return far;
    const auto outside = [&](const char* what, const char* meaning, double v, ImageStatistics::Range r) {
        const double margin = std::max(0.05, (r.high - r.low) / 4);
        if (v >= r.low - margin && v <= r.high + margin) return;
        far.push_back(std::string(what) + " " + two(v) + " (" + meaning + ") is " + (v < r.low ? "below" : "above") +
                      " the training images' " + two(r.low) + "–" + two(r.high));
    };
    const bool input_dark = input.border < 0.5;
    if (input_dark != training.dark_background())
        far.push_back(std::string("its background is ") + (input_dark ? "dark" : "light") + " (border " + two(input.border) +
                      "), the training images' " + (training.dark_background() ? "dark" : "light") + " (" + two(training.border) + ")");
    else
        outside("its background", "the border's median", input.border, training.border_range);
    outside("brightness", "the mean", input.brightness, training.brightness);
    outside("contrast", "the standard deviation", input.contrast, training.contrast);
    return far;
}

}  // namespace kiln::data
