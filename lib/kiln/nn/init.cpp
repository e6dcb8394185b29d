#include "kiln/nn/init.h"

#include <string>

#include "kiln/core/error.h"
#include "kiln/core/limits.h"

namespace kiln::nn {

namespace {

void check_fan_in(int64_t fan_in, const char* what) {
    if (fan_in <= 0)
        fail(Errc::invalid_argument, std::string(what) + ": fan_in must be positive, got " + std::to_string(fan_in));
}

void check_shape(const Shape& shape, const char* what) {
    for (int i = 0; i < shape.rank; ++i)
        if (shape[i] < 0) fail(Errc::invalid_argument, std::string(what) + ": negative dimension in shape " + shape.str());
}

}  // namespace

int64_t fan_in(const Shape& weight) {
    if (weight.rank < 2)
        fail(Errc::invalid_argument, "fan_in: a weight needs at least 2 dimensions, got " + weight.str());
    Shape per_output;  // in_channels · kh · kw, overflow-checked
    for (int i = 1; i < weight.rank; ++i) per_output.push_back(weight[i]);
    return limits::checked_numel(per_output, "fan_in of a weight " + weight.str());
}

float kaiming_uniform_bound(int64_t fan_in, float a) {
    check_fan_in(fan_in, "kaiming_uniform");
    double gain = std::sqrt(2.0 / (1.0 + double(a) * a));
    return static_cast<float>(gain * std::sqrt(3.0 / double(fan_in)));
}

std::vector<float> uniform(Generator& rng, const Shape& shape, float lo, float hi) {
    check_shape(shape, "uniform");
    if (!(lo <= hi))
        fail(Errc::invalid_argument, "uniform: lo (" + std::to_string(lo) + ") must not exceed hi (" + std::to_string(hi) + ")");
    std::vector<float> v(static_cast<size_t>(shape.numel()));
    for (float& x : v) x = rng.uniform(lo, hi);
    return v;
}

std::vector<float> kaiming_uniform(Generator& rng, const Shape& shape, int64_t fan_in, float a) {
    float bound = kaiming_uniform_bound(fan_in, a);
    return uniform(rng, shape, -bound, bound);
}

std::vector<float> bias_uniform(Generator& rng, const Shape& shape, int64_t fan_in) {
    check_fan_in(fan_in, "bias_uniform");
    float bound = static_cast<float>(1.0 / std::sqrt(double(fan_in)));
    return uniform(rng, shape, -bound, bound);
}

std::vector<float> zeros(const Shape& shape) {
    check_shape(shape, "zeros");
    return std::vector<float>(static_cast<size_t>(shape.numel()), 0.0f);
}

std::vector<float> ones(const Shape& shape) {
    check_shape(shape, "ones");
    return std::vector<float>(static_cast<size_t>(shape.numel()), 1.0f);
}

}  // namespace kiln::nn
