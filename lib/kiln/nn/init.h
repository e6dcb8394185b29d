// Parameter initialisation with PyTorch's defaults, drawn from a seeded kiln::Generator.
// Each function returns numel values in row-major order, ready for Graph::param:
//
//   auto w = g.param("fc1.weight", {out, in}, kiln::nn::kaiming_uniform(g.rng(), {out, in}, in));
//
// torch.nn.Linear and Conv2d initialise their weight with kaiming_uniform(a = sqrt(5)), which
// works out to U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and their bias with bias_uniform — the same
// bound. The values differ from PyTorch's (another random stream); the distributions are equal.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "kiln/core/rng.h"
#include "kiln/core/shape.h"

namespace kiln::nn {

// fan_in of a weight as PyTorch computes it: shape[1] times the product of shape[2:]
// (in_features for Linear [out, in]; in_channels·kh·kw for Conv2d [out, in, kh, kw]).
int64_t fan_in(const Shape& weight);

// Bound of kaiming_uniform: gain·sqrt(3/fan_in) with gain = sqrt(2/(1+a²)) (leaky_relu's gain).
float kaiming_uniform_bound(int64_t fan_in, float a = std::sqrt(5.0f));

// U(lo, hi) for every element.
std::vector<float> uniform(Generator& rng, const Shape& shape, float lo, float hi);
// U(-bound, bound) with bound = kaiming_uniform_bound(fan_in, a).
std::vector<float> kaiming_uniform(Generator& rng, const Shape& shape, int64_t fan_in, float a = std::sqrt(5.0f));
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)): the default bias of Linear and Conv2d.
std::vector<float> bias_uniform(Generator& rng, const Shape& shape, int64_t fan_in);
std::vector<float> zeros(const Shape& shape);
std::vector<float> ones(const Shape& shape);

}  // namespace kiln::nn
