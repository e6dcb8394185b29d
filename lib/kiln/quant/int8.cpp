#include "kiln/quant/int8.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kiln/backend/reference/quantized.h"
#include "kiln/core/error.h"

namespace kiln::quant {

namespace {

std::string layer_name(const Node& weight) {
    const std::string suffix = ".weight";
    const std::string& n = weight.name;
    return n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0 ? n.substr(0, n.size() - suffix.size()) : n;
}

// The encodings of tanh's and sigmoid's outputs are fixed (TensorFlow Lite's): their ranges are known.
constexpr Params tanh_output{1.0f / 128.0f, 0};

float lookup_function(Op op, float x) {
    switch (op) {
    case Op::sigmoid: return sigmoid_of(x);
    case Op::tanh: return std::tanh(x);
    default: return x > 0.0f ? x : 0.0f;  // relu
    }
}

// The encoding of every float value the int8 program holds, by float node id, from the encoded
// layers' (by name): pooling, reshapes and a lone ReLU keep their input's; sigmoid and tanh
// have fixed ones.
std::vector<Params> node_encodings(const Graph& g, const Plan& plan, const std::map<std::string, Params>& by_name) {
    std::vector<Params> enc(size_t(g.size()));
    for (const Layer& l : plan.layers) {
        if (l.encoded()) {
            auto it = by_name.find(l.name);
            if (it == by_name.end()) fail(Errc::invalid_argument, "int8: no encoding for '" + l.name + "'");
            enc[size_t(l.out)] = it->second;
        } else if (l.kind == Layer::lookup && g.nodes()[size_t(l.op)].op != Op::relu) {
            enc[size_t(l.out)] = g.nodes()[size_t(l.op)].op == Op::sigmoid ? sigmoid_output : tanh_output;
        } else {
            enc[size_t(l.out)] = enc[size_t(l.in[0])];
        }
    }
    return enc;
}

}  // namespace

std::vector<Value> Plan::observed() const {
    std::vector<Value> v;
    for (const Layer& l : layers)
        if (l.encoded()) v.push_back(Value{l.out});
    return v;
}

Plan plan_int8(const Graph& g, Value input, Value output) {
    const std::vector<Node>& nodes = g.nodes();
    const int32_t count = int32_t(nodes.size());
    std::vector<bool> needed(nodes.size(), false);
    needed[size_t(output.id)] = true;
    for (int32_t i = output.id; i >= 0; --i)
        if (needed[size_t(i)])
            for (int k = 0; k < nodes[size_t(i)].n_in; ++k) needed[size_t(nodes[size_t(i)].in[k])] = true;
    std::vector<std::vector<int32_t>> users(nodes.size());
    for (int32_t i = 0; i < count; ++i)
        if (needed[size_t(i)])
            for (int k = 0; k < nodes[size_t(i)].n_in; ++k) users[size_t(nodes[size_t(i)].in[k])].push_back(i);

    Plan plan;
    plan.input = input.id, plan.output = output.id;
    Layer in;
    in.kind = Layer::input, in.name = "input", in.op = in.out = input.id;
    plan.layers.push_back(in);

    std::vector<bool> done(nodes.size(), false);
    std::map<std::string, int> numbers;
    auto numbered = [&](const std::string& op) { return op + "." + std::to_string(numbers[op]++); };
    auto only_user = [&](int32_t v, Op op) {
        return users[size_t(v)].size() == 1 && nodes[size_t(users[size_t(v)][0])].op == op ? users[size_t(v)][0] : -1;
    };
    auto fuse_relu = [&](Layer& l) {
        if (const int32_t r = only_user(l.out, Op::relu); r >= 0) l.relu = true, l.out = r, done[size_t(r)] = true;
    };
    auto is_param = [&](int32_t id) { return nodes[size_t(id)].op == Op::param || nodes[size_t(id)].op == Op::buffer; };
    auto unsupported = [&](const Node& n, const std::string& why) {
        fail(Errc::unsupported, std::string("int8: op ") + op_name(n.op) + " (" + n.shape.str() + ") " + why);
    };

    for (int32_t i = 0; i < count; ++i) {
        const Node& n = nodes[size_t(i)];
        if (!needed[size_t(i)] || done[size_t(i)] || n.is_leaf()) continue;
        if (n.dtype != DType::f32) unsupported(n, "is not a float op");
        Layer l;
        l.op = l.out = i;
        l.in[0] = n.in[0];
        switch (n.op) {
        case Op::conv2d: {
            if (!is_param(n.in[1])) unsupported(n, "needs its weight as a parameter");
            l.kind = Layer::conv, l.name = layer_name(nodes[size_t(n.in[1])]);
            if (n.n_in > 2) l.bias = n.in[2];
            // BatchNorm in eval mode reads the convolution's output twice: bn_stats (from the
            // running statistics) and bn_apply. Folded into the weights and bias.
            const std::vector<int32_t>& u = users[size_t(i)];
            if (u.size() == 2) {
                int32_t s = -1, a = -1;
                for (int32_t k : u) {
                    if (nodes[size_t(k)].op == Op::bn_stats && nodes[size_t(k)].n_in == 4) s = k;
                    if (nodes[size_t(k)].op == Op::bn_apply) a = k;
                }
                if (s >= 0 && a >= 0 && nodes[size_t(a)].in[1] == s && users[size_t(s)].size() == 1) {
                    l.bn_stats = s, l.bn_apply = a, l.out = a;
                    done[size_t(s)] = done[size_t(a)] = true;
                }
            }
            fuse_relu(l);
            break;
        }
        case Op::matmul: {
            const Node& w = nodes[size_t(n.in[1])];
            if (n.attrs.matmul.trans_a || !n.attrs.matmul.trans_b || !is_param(n.in[1]))
                unsupported(n, "is quantized as a Linear layer only (x · wᵀ with the weight a parameter)");
            l.kind = Layer::linear, l.name = layer_name(w);
            if (const int32_t a = only_user(i, Op::add); a >= 0) {
                const int32_t b = nodes[size_t(a)].in[0] == i ? nodes[size_t(a)].in[1] : nodes[size_t(a)].in[0];
                if (is_param(b) && nodes[size_t(b)].shape == Shape{w.shape[0]}) {
                    l.bias = b, l.out = a;
                    done[size_t(a)] = true;
                }
            }
            fuse_relu(l);
            break;
        }
        case Op::add:
            if (is_param(n.in[0]) || is_param(n.in[1]) || !(nodes[size_t(n.in[0])].shape == nodes[size_t(n.in[1])].shape))
                unsupported(n, "is quantized as a residual add only (two computed tensors of one shape)");
            l.kind = Layer::add, l.in[1] = n.in[1], l.name = numbered("add");
            fuse_relu(l);
            break;
        case Op::relu: case Op::sigmoid: case Op::tanh: l.kind = Layer::lookup, l.name = numbered(op_name(n.op)); break;
        case Op::max_pool2d: l.kind = Layer::max_pool; break;
        case Op::avg_pool2d: l.kind = Layer::avg_pool; break;
        case Op::reshape: l.kind = Layer::reshape; break;
        case Op::dropout: l.kind = Layer::identity; break;  // eval: the identity
        case Op::mean: {
            const AxisAttrs& a = n.attrs.axis;
            const int rank = nodes[size_t(n.in[0])].shape.rank;
            if (a.all || a.keepdim || (a.axis + rank) % rank != rank - 1 || rank < 2)
                unsupported(n, "is quantized as the mean over the last axis only (global average pooling)");
            l.kind = Layer::mean, l.name = numbered("mean");
            break;
        }
        default: unsupported(n, "has no int8 form in kiln");
        }
        plan.layers.push_back(l);
    }
    return plan;
}

const char* method_name(Method m) {
    switch (m) {
    case Method::minmax: return "minmax";
    case Method::percentile: return "percentile";
    case Method::mse: return "mse";
    }
    return "?";
}

Calibrator::Calibrator(const Plan& plan, CalibrationOptions options) : options_(options) {
    if (!(options.percentile > 50 && options.percentile <= 100))
        fail(Errc::invalid_argument, "calibration: the percentile must be in (50, 100]");
    for (const Layer& l : plan.layers)
        if (l.encoded()) points_.push_back({l.name, Value{l.out}});
}

void Calibrator::observe(const Program& program, int pass) {
    for (Point& p : points_) {
        values_.resize(size_t(program.shape(p.value).numel()));
        program.read(p.value, values_.data());
        if (pass == 0) {
            for (float v : values_) {
                if (!std::isfinite(v)) fail(Errc::invalid_argument, "calibration: '" + p.name + "' holds NaN or an infinity");
                p.lo = p.seen ? std::min(p.lo, v) : v, p.hi = p.seen ? std::max(p.hi, v) : v;
                p.seen = true;
            }
            continue;
        }
        p.histogram.resize(bins, 0.0);
        const double width = (double(p.hi) - double(p.lo)) / bins;
        for (float v : values_) {
            const int64_t b = width > 0 ? int64_t((double(v) - p.lo) / width) : 0;
            p.histogram[size_t(std::clamp<int64_t>(b, 0, bins - 1))] += 1;
        }
    }
}

namespace {

// The expected squared error of encoding the histogram's values with the range [lo, hi].
double encoding_error(const std::vector<double>& h, double lo0, double width, float lo, float hi) {
    const Params p = activation_params(lo, hi);
    double err = 0;
    for (size_t b = 0; b < h.size(); ++b) {
        if (h[b] == 0) continue;
        const float c = float(lo0 + (double(b) + 0.5) * width);
        const double d = double(c) - double(dequantize(quantize(c, p), p));
        err += h[b] * d * d;
    }
    return err;
}

}  // namespace

std::map<std::string, Params> Calibrator::encodings() const {
    std::map<std::string, Params> out;
    for (const Point& p : points_) {
        if (!p.seen) fail(Errc::invalid_argument, "calibration: no values observed for '" + p.name + "'");
        float lo = p.lo, hi = p.hi;
        const double width = (double(p.hi) - double(p.lo)) / bins;
        if (options_.method != Method::minmax && width > 0) {
            double total = 0;
            for (double c : p.histogram) total += c;
            if (options_.method == Method::percentile) {
                // Clip each tail to (100 − percentile) % of the values.
                const double tail = total * (100.0 - options_.percentile) / 100.0;
                int first = 0, last = bins - 1;
                for (double below = 0; first < bins - 1 && below + p.histogram[size_t(first)] <= tail; ++first) below += p.histogram[size_t(first)];
                for (double above = 0; last > first && above + p.histogram[size_t(last)] <= tail; --last) above += p.histogram[size_t(last)];
                lo = float(p.lo + first * width), hi = float(p.lo + (last + 1) * width);
            } else {
                // Shrink the range from the side with fewer values, a step at a time, keeping the
                // range of the least squared error (after PyTorch's HistogramObserver).
                int first = 0, last = bins - 1;
                double best = encoding_error(p.histogram, p.lo, width, lo, hi);
                constexpr int step = 8;
                while (last - first > bins / 8) {
                    double left = 0, right = 0;
                    for (int k = 0; k < step; ++k) left += p.histogram[size_t(first + k)], right += p.histogram[size_t(last - k)];
                    left <= right ? first += step : last -= step;
                    const float a = float(p.lo + first * width), b = float(p.lo + (last + 1) * width);
                    const double e = encoding_error(p.histogram, p.lo, width, a, b);
                    if (e < best) best = e, lo = a, hi = b;
                }
            }
        }
        out[p.name] = activation_params(lo, hi);
    }
    return out;
}

namespace {

std::vector<float> read_floats(const Program& program, const Node& leaf) {
    const StateEntry* e = program.find_state(leaf.name);
    if (!e || e->dtype != DType::f32) fail(Errc::invalid_argument, "int8: the program has no f32 state '" + leaf.name + "'");
    std::vector<float> v(size_t(e->shape.numel()));
    program.read_state(*e, v.data());
    return v;
}

template <class T> io::NamedTensor tensor(const std::string& name, DType dtype, Shape shape, const std::vector<T>& values) {
    io::NamedTensor t{name, dtype, shape, std::vector<uint8_t>(values.size() * sizeof(T))};
    std::memcpy(t.data.data(), values.data(), t.data.size());
    return t;
}

}  // namespace

std::vector<io::NamedTensor> quantize_weights(const Plan& plan, const Graph& g, const Program& weights,
                                              const std::map<std::string, Params>& encodings) {
    const std::vector<Node>& nodes = g.nodes();
    const std::vector<Params> enc = node_encodings(g, plan, encodings);
    std::vector<io::NamedTensor> out;
    for (const Layer& l : plan.layers) {
        if (l.encoded()) {
            out.push_back(tensor(l.name + ".scale", DType::f32, Shape{}, std::vector<float>{enc[size_t(l.out)].scale}));
            out.push_back(tensor(l.name + ".zero_point", DType::i32, Shape{}, std::vector<int32_t>{enc[size_t(l.out)].zero_point}));
        }
        if (l.kind == Layer::lookup) {
            const Op f = nodes[size_t(l.op)].op;
            std::vector<int8_t> table(256);
            make_table([f](float x) { return lookup_function(f, x); }, enc[size_t(l.in[0])], enc[size_t(l.out)], table.data());
            out.push_back(tensor(l.name + ".table", DType::i8, Shape{256}, table));
        }
        if (l.kind != Layer::conv && l.kind != Layer::linear) continue;
        const Node& w = nodes[size_t(nodes[size_t(l.op)].in[1])];
        const int64_t channels = w.shape[0], per_channel = w.shape.numel() / channels;
        std::vector<float> wf = read_floats(weights, w);
        std::vector<double> bias(static_cast<size_t>(channels), 0.0);
        if (l.bias >= 0) {
            const std::vector<float> b = read_floats(weights, nodes[size_t(l.bias)]);
            std::copy(b.begin(), b.end(), bias.begin());
        }
        if (l.bn_apply >= 0) {  // w·γ/√(var+ε), (b − mean)·γ/√(var+ε) + β
            const Node &s = nodes[size_t(l.bn_stats)], &a = nodes[size_t(l.bn_apply)];
            const std::vector<float> mean = read_floats(weights, nodes[size_t(s.in[1])]), var = read_floats(weights, nodes[size_t(s.in[2])]);
            std::vector<float> gamma(static_cast<size_t>(channels), 1.0f), beta(static_cast<size_t>(channels), 0.0f);
            if (a.n_in > 2) gamma = read_floats(weights, nodes[size_t(a.in[2])]);
            if (a.n_in > 3) beta = read_floats(weights, nodes[size_t(a.in[3])]);
            for (int64_t o = 0; o < channels; ++o) {
                const double k = double(gamma[size_t(o)]) / std::sqrt(double(var[size_t(o)]) + double(s.attrs.bn.eps));
                for (int64_t i = 0; i < per_channel; ++i) wf[size_t(o * per_channel + i)] = float(wf[size_t(o * per_channel + i)] * k);
                bias[size_t(o)] = (bias[size_t(o)] - mean[size_t(o)]) * k + beta[size_t(o)];
            }
        }
        const Params x = enc[size_t(l.in[0])];
        std::vector<int8_t> codes(wf.size());
        std::vector<float> scales(static_cast<size_t>(channels));
        std::vector<int32_t> biases(static_cast<size_t>(channels));
        for (int64_t o = 0; o < channels; ++o) {
            const float s = weight_scale(&wf[size_t(o * per_channel)], per_channel);
            scales[size_t(o)] = s;
            for (int64_t i = 0; i < per_channel; ++i)
                codes[size_t(o * per_channel + i)] = quantize(wf[size_t(o * per_channel + i)], {s, 0}, -127, 127);
            const double b = std::round(bias[size_t(o)] / (double(x.scale) * double(s)));
            biases[size_t(o)] = int32_t(std::clamp(b, -2147483648.0, 2147483647.0));
        }
        out.push_back(tensor(l.name + ".weight", DType::i8, w.shape, codes));
        out.push_back(tensor(l.name + ".weight_scale", DType::f32, Shape{channels}, scales));
        out.push_back(tensor(l.name + ".bias", DType::i32, Shape{channels}, biases));
    }
    return out;
}

io::Metadata int8_metadata(const std::string& calibration) {
    return {{"kiln.quantization", int8_format}, {"kiln.calibration", calibration}};
}

namespace {

// An int8 file's tensor, checked before it is used.
struct FileReader {
    const io::SafetensorsFile& file;
    const std::string& path;

    const io::NamedTensor& need(const std::string& name, DType dtype, const Shape& shape) const {
        const io::NamedTensor* t = file.find(name);
        if (!t) fail(Errc::format, path + ": no tensor '" + name + "' (the int8 model needs it)");
        if (t->dtype != dtype || !(t->shape == shape))
            fail(Errc::format, path + ": tensor '" + name + "' is " + dtype_name(t->dtype) + " " + t->shape.str() + ", expected " +
                                   dtype_name(dtype) + " " + shape.str());
        return *t;
    }
    template <class T> T scalar(const std::string& name, DType dtype) const {
        T v;
        std::memcpy(&v, need(name, dtype, Shape{}).data.data(), sizeof v);
        return v;
    }
    Params encoding(const std::string& name) const {
        const Params p{scalar<float>(name + ".scale", DType::f32), scalar<int32_t>(name + ".zero_point", DType::i32)};
        if (!(p.scale > 0) || !std::isfinite(p.scale) || p.scale < 1e-30f)
            fail(Errc::format, path + ": tensor '" + name + ".scale' must be a positive finite number");
        if (p.zero_point < -128 || p.zero_point > 127)
            fail(Errc::format, path + ": tensor '" + name + ".zero_point' must be an int8 code (−128…127), got " + std::to_string(p.zero_point));
        return p;
    }
};

}  // namespace

Int8Model build_int8(Graph& q, const Graph& g, const Plan& plan, const io::SafetensorsFile& file, const std::string& path) {
    const auto it = file.metadata.find("kiln.quantization");
    if (it == file.metadata.end() || it->second != int8_format)
        fail(Errc::format, path + ": not a kiln int8 file (its metadata has no kiln.quantization = " + int8_format + ")");
    const FileReader r{file, path};
    const std::vector<Node>& nodes = g.nodes();
    std::map<std::string, Params> by_name;
    for (const Layer& l : plan.layers)
        if (l.encoded()) by_name[l.name] = r.encoding(l.name);
    const std::vector<Params> enc = node_encodings(g, plan, by_name);
    std::vector<Value> value(nodes.size());  // the int8 value standing for each float node
    Int8Model m;
    for (const Layer& l : plan.layers) {
        const Node& n = nodes[size_t(l.op)];
        const Params x = l.kind == Layer::input ? Params{} : enc[size_t(l.in[0])], y = enc[size_t(l.out)];
        QuantAttrs a;
        a.x_zero = x.zero_point, a.y_zero = y.zero_point, a.lo = l.relu ? y.zero_point : -128;
        Value v;
        switch (l.kind) {
        case Layer::input:
            m.input = q.input("x", n.shape, DType::f32);
            v = q.quantize(m.input, y.scale, y.zero_point);
            break;
        case Layer::conv: case Layer::linear: {
            const Shape ws = nodes[size_t(n.in[1])].shape;
            const int64_t channels = ws[0];
            const io::NamedTensor& w = r.need(l.name + ".weight", DType::i8, ws);
            const io::NamedTensor& s = r.need(l.name + ".weight_scale", DType::f32, Shape{channels});
            const io::NamedTensor& b = r.need(l.name + ".bias", DType::i32, Shape{channels});
            std::vector<uint8_t> mult(static_cast<size_t>(channels) * 8);
            for (int64_t o = 0; o < channels; ++o) {
                float so;
                std::memcpy(&so, &s.data[size_t(o) * 4], 4);
                if (!(so > 0) || !std::isfinite(so)) fail(Errc::format, path + ": tensor '" + s.name + "' holds a scale that is not positive and finite");
                const Multiplier mo = output_multiplier(x.scale, so, y.scale);
                const int32_t pair[2] = {mo.m0, mo.shift > 30 ? 30 : mo.shift};
                std::memcpy(&mult[size_t(o) * 8], pair, 8);
            }
            const Value wv = q.buffer(l.name + ".weight", ws, DType::i8, w.data), bv = q.buffer(l.name + ".bias", Shape{channels}, DType::i32, b.data),
                        mv = q.buffer(l.name + ".multipliers", Shape{channels, 2}, DType::i32, mult);
            v = l.kind == Layer::conv ? q.qconv2d(value[size_t(l.in[0])], wv, bv, mv, n.attrs.conv, a) : q.qlinear(value[size_t(l.in[0])], wv, bv, mv, a);
            break;
        }
        case Layer::max_pool: v = q.qmax_pool2d(value[size_t(l.in[0])], n.attrs.pool); break;
        case Layer::avg_pool: v = q.qavg_pool2d(value[size_t(l.in[0])], n.attrs.pool, x.zero_point); break;
        case Layer::add: {
            const AddParams p = add_params(x, enc[size_t(l.in[1])], y, l.relu);
            a.b_zero = p.b_zero, a.lo = p.lo, a.hi = p.hi;
            const Multiplier ms[3] = {p.a, p.b, p.y};
            for (int k = 0; k < 3; ++k) a.m0[k] = ms[k].m0, a.shift[k] = ms[k].shift;
            v = q.qadd(value[size_t(l.in[0])], value[size_t(l.in[1])], a);
            break;
        }
        case Layer::mean: {
            const Shape& s = nodes[size_t(l.in[0])].shape;
            const Multiplier mm = mean_multiplier(x.scale, s[s.rank - 1], y.scale);
            a.m0[0] = mm.m0, a.shift[0] = mm.shift;
            v = q.qmean(value[size_t(l.in[0])], a);
            break;
        }
        case Layer::lookup:
            v = q.qlookup(value[size_t(l.in[0])], q.buffer(l.name + ".table", Shape{256}, DType::i8, r.need(l.name + ".table", DType::i8, Shape{256}).data));
            break;
        case Layer::reshape: v = q.reshape(value[size_t(l.in[0])], n.shape); break;
        case Layer::identity: v = value[size_t(l.in[0])]; break;
        }
        value[size_t(l.out)] = v;
    }
    const Params out = enc[size_t(plan.output)];
    m.output = q.dequantize(value[size_t(plan.output)], out.scale, out.zero_point);
    return m;
}

}  // namespace kiln::quant
