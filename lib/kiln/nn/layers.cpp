#include "kiln/nn/layers.h"

#include <cstring>

#include "kiln/core/error.h"
#include "kiln/core/limits.h"
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
    Value w = g.param_init(name + ".weight", w_shape, [&] { return kaiming_uniform(g.rng(), w_shape, fan_in(w_shape)); });
    Value y = g.matmul(x, w, false, true);
    if (!bias) return y;
    Shape b_shape{out_features};
    Value b = g.param_init(name + ".bias", b_shape, [&] { return bias_uniform(g.rng(), b_shape, in_features); });
    return g.add(y, b);
}

Value conv2d(Graph& g, const std::string& name, Value x, int64_t out_channels, Conv2dOptions o) {
    const Shape in_shape = g.shape(x);
    if (in_shape.rank != 4)
        fail(Errc::shape_mismatch, "conv2d '" + name + "': input must be [N, C, H, W], got " + in_shape.str());
    if (out_channels <= 0)
        fail(Errc::invalid_argument, "conv2d '" + name + "': out_channels must be positive, got " + std::to_string(out_channels));
    if (o.kernel.h < 1 || o.kernel.w < 1)
        fail(Errc::invalid_argument, "conv2d '" + name + "': the kernel must be at least 1x1");
    Conv2dAttrs a{o.stride.h, o.stride.w, o.padding.h, o.padding.w, o.dilation.h, o.dilation.w};
    if (o.padding.mode == Padding::none) a.pad_h = a.pad_w = 0;
    if (o.padding.mode == Padding::same_size) {
        if (a.stride_h != 1 || a.stride_w != 1)
            fail(Errc::invalid_argument, "conv2d '" + name + "': padding='same' is not supported for strided convolutions");
        const int64_t th = int64_t(a.dil_h) * (o.kernel.h - 1), tw = int64_t(a.dil_w) * (o.kernel.w - 1);
        if (th % 2 || tw % 2)
            fail(Errc::unsupported, "conv2d '" + name + "': padding='same' with an even kernel needs uneven padding, which kiln does not support");
        if (th / 2 > limits::dim || tw / 2 > limits::dim)
            fail(Errc::invalid_argument, "conv2d '" + name + "': padding='same' for this kernel and dilation exceeds " +
                                             limits::with_commas(limits::dim));
        a.pad_h = int(th / 2);
        a.pad_w = int(tw / 2);
    }
    // Same draw order as torch.nn.Conv2d.reset_parameters: the weight first, then the bias.
    const Shape w_shape{out_channels, in_shape[1], o.kernel.h, o.kernel.w};
    // fan_in only once the weight's shape has passed the graph's checks (a model file's sizes
    // could overflow it).
    Value w = g.param_init(name + ".weight", w_shape, [&] { return kaiming_uniform(g.rng(), w_shape, fan_in(w_shape)); });
    Value b;
    if (o.bias)
        b = g.param_init(name + ".bias", Shape{out_channels}, [&] { return bias_uniform(g.rng(), Shape{out_channels}, fan_in(w_shape)); });
    return g.conv2d(x, w, b, a);
}

namespace {
Pool2dAttrs pool_attrs(Pair kernel, const Pool2dOptions& o) {
    return {kernel.h, kernel.w, o.stride.h ? o.stride.h : kernel.h, o.stride.w ? o.stride.w : kernel.w, o.padding.h, o.padding.w,
            o.ceil_mode, o.count_include_pad};
}
}  // namespace

Value max_pool2d(Graph& g, Value x, Pair kernel, Pool2dOptions o) { return g.max_pool2d(x, pool_attrs(kernel, o)); }
Value avg_pool2d(Graph& g, Value x, Pair kernel, Pool2dOptions o) { return g.avg_pool2d(x, pool_attrs(kernel, o)); }

Value batch_norm(Graph& g, const std::string& name, Value x, BatchNormOptions o) {
    const Shape in_shape = g.shape(x);
    if (in_shape.rank < 2 || in_shape.rank > 4)
        fail(Errc::shape_mismatch, "batch_norm '" + name + "': input must be [N, C], [N, C, L] or [N, C, H, W], got " + in_shape.str());
    const Shape c{in_shape[1]};
    Value weight, bias, mean, var, count;
    if (o.affine) {
        weight = g.param_init(name + ".weight", c, [&] { return ones(c); });
        bias = g.param_init(name + ".bias", c, [&] { return zeros(c); });
    }
    if (o.track_running_stats) {
        auto bytes = [](const std::vector<float>& v) {
            std::vector<uint8_t> b(v.size() * sizeof(float));
            std::memcpy(b.data(), v.data(), b.size());
            return b;
        };
        mean = g.buffer(name + ".running_mean", c, DType::f32, {});  // zeros
        var = g.buffer_init(name + ".running_var", c, DType::f32, [&] { return bytes(ones(c)); });
        count = g.buffer(name + ".num_batches_tracked", Shape{}, DType::i64, {});
    }
    return g.batch_norm(x, weight, bias, mean, var, count, {o.eps, o.momentum, o.cumulative});
}

}  // namespace kiln::nn
