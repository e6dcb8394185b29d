#include "kiln/nn/layers.h"

#include "kiln/core/error.h"
#include "kiln/nn/init.h"

namespace kiln::nn {

Value linear(Graph& g, const std::string& name, Value x, int64_t out_features, bool bias) {
    const Shape& in_shape = g.shape(x);
    if (in_shape.rank != 2 || in_shape[1] <= 0)
        fail(Errc::shape_mismatch, "linear '" + name + "': input must be [batch, in_features], got " + in_shape.str());
    if (out_features <= 0)
        fail(Errc::invalid_argument, "linear '" + name + "': out_features must be positive, got " + std::to_string(out_features));
    int64_t in_features = in_shape[1];
    // Same draw order as torch.nn.Linear.reset_parameters: the weight first, then the bias.
    Shape w_shape{out_features, in_features};
    Value w = g.param(name + ".weight", w_shape, kaiming_uniform(g.rng(), w_shape, fan_in(w_shape)));
    Value y = g.matmul(x, w, false, true);
    if (!bias) return y;
    Shape b_shape{out_features};
    Value b = g.param(name + ".bias", b_shape, bias_uniform(g.rng(), b_shape, in_features));
    return g.add(y, b);
}

}  // namespace kiln::nn
