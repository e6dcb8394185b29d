#include "kiln/graph/graph.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

#include "kiln/core/error.h"

namespace kiln {

namespace {

std::string describe(const Node& n) {
    std::string s = op_name(n.op);
    if (!n.name.empty()) s += " '" + n.name + "'";
    return s + " " + n.shape.str();
}

// Kernels index the padded plane with 32-bit window arithmetic in places: keep it within
// limits::dim (the input's own sides are, as every dimension is).
void check_padded(const Shape& x, int64_t pad_h, int64_t pad_w, const char* what) {
    if (x[2] + 2 * pad_h > limits::dim || x[3] + 2 * pad_w > limits::dim)
        fail(Errc::invalid_argument, std::string(what) + ": input " + x.str() + " with padding " + std::to_string(pad_h) +
                                         "x" + std::to_string(pad_w) + " is larger than " + limits::with_commas(limits::dim) +
                                         " on a side, kiln's limit");
}

}  // namespace

const Node& Graph::node(Value v) const {
    if (v.id < 0 || v.id >= size())
        fail(Errc::invalid_argument, "value " + std::to_string(v.id) + " does not belong to this graph");
    return nodes_[v.id];
}

void Graph::check(Value v, const char* what) const {
    if (v.id < 0 || v.id >= size())
        fail(Errc::invalid_argument, std::string(what) + ": an input is not a value of this graph");
    if (!nodes_[v.id].has_output())
        fail(Errc::invalid_argument, std::string(what) + ": an input has no output");
}

Graph Graph::without_initial_values() const {
    Graph g;
    g.rng_ = rng_;
    g.dropout_count_ = dropout_count_;
    g.parameter_count_ = parameter_count_;
    g.max_parameters_ = max_parameters_;
    g.nodes_.reserve(nodes_.size());
    for (const Node& n : nodes_) {
        Node& c = g.nodes_.emplace_back();
        c.op = n.op, c.dtype = n.dtype, c.shape = n.shape, c.batched = n.batched, c.n_in = n.n_in;
        std::copy(std::begin(n.in), std::end(n.in), c.in);
        c.attrs = n.attrs;
        c.name = n.name;
    }
    return g;
}

Value Graph::add_node(Node n) {
    // Shapes are built from checked leaves, but a product of them can still pass the cap.
    if (n.shape.numel() > limits::tensor_elements)
        fail(Errc::invalid_argument, std::string(op_name(n.op)) + ": the result " + n.shape.str() + " has more than " +
                                         limits::with_commas(limits::tensor_elements) + " elements, kiln's limit");
    nodes_.push_back(std::move(n));
    return Value{static_cast<int32_t>(nodes_.size() - 1)};
}

Value Graph::find(const std::string& name) const {
    for (int i = 0; i < size(); ++i)
        if (nodes_[i].is_leaf() && nodes_[i].name == name) return Value{i};
    return Value{};
}

int64_t Graph::check_leaf(Op op, const std::string& name, const Shape& shape) const {
    if (name.empty()) fail(Errc::invalid_argument, std::string(op_name(op)) + ": a name is required");
    if (find(name)) fail(Errc::invalid_argument, std::string(op_name(op)) + ": the name '" + name + "' is already used");
    const std::string what = std::string(op_name(op)) + " '" + name + "'";
    const int64_t n = limits::checked_numel(shape, what);
    if (op != Op::input && n > max_parameters_ - parameter_count_)
        fail(Errc::invalid_argument, what + " " + shape.str() + ": " + limits::with_commas(n) + " more elements would take the model's " +
                                         "parameters and buffers past " + limits::with_commas(max_parameters_) +
                                         " (kiln's limit; it has " + limits::with_commas(parameter_count_) + " so far)");
    return n;
}

Value Graph::leaf(Op op, const std::string& name, Shape shape, DType dtype, const std::function<std::vector<uint8_t>()>& make) {
    const int64_t numel = check_leaf(op, name, shape);
    const size_t bytes = size_t(numel) * dtype_size(dtype);
    std::vector<uint8_t> init;
    try {
        if (make) init = make();
    } catch (const std::bad_alloc&) {
        fail(Errc::invalid_argument, std::string(op_name(op)) + " '" + name + "' " + shape.str() + ": cannot allocate its " +
                                         limits::with_commas(int64_t(bytes)) + " bytes of initial values");
    }
    if (op != Op::input && !init.empty() && init.size() != bytes)
        fail(Errc::invalid_argument, std::string(op_name(op)) + " '" + name + "': initial data has " +
                                         std::to_string(init.size() / dtype_size(dtype)) + " elements, shape " +
                                         shape.str() + " needs " + std::to_string(numel));
    Node n;
    n.op = op;
    n.name = name;
    n.shape = shape;
    n.dtype = dtype;
    n.batched = op == Op::input && shape.rank > 0;
    n.init = std::move(init);
    if (op != Op::input) parameter_count_ += numel;
    return add_node(std::move(n));
}

namespace {
std::vector<uint8_t> float_bytes(const std::vector<float>& values) {
    std::vector<uint8_t> bytes(values.size() * sizeof(float));
    if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
}
}  // namespace

Value Graph::input(const std::string& name, Shape shape, DType dtype) {
    if (shape.rank == 0) fail(Errc::invalid_argument, "input '" + name + "': needs at least the batch dimension");
    return leaf(Op::input, name, shape, dtype, nullptr);
}

Value Graph::param(const std::string& name, Shape shape, std::vector<float> init) {
    return leaf(Op::param, name, shape, DType::f32, [&] { return float_bytes(init); });
}

Value Graph::param_init(const std::string& name, Shape shape, const std::function<std::vector<float>()>& init) {
    return leaf(Op::param, name, shape, DType::f32, [&] { return float_bytes(init()); });
}

Value Graph::buffer(const std::string& name, Shape shape, DType dtype, std::vector<uint8_t> init) {
    return leaf(Op::buffer, name, shape, dtype, [&] { return std::move(init); });
}

Value Graph::buffer_init(const std::string& name, Shape shape, DType dtype, const std::function<std::vector<uint8_t>()>& init) {
    return leaf(Op::buffer, name, shape, dtype, init);
}

Value Graph::matmul(Value a, Value b, bool trans_a, bool trans_b) {
    check(a, "matmul");
    check(b, "matmul");
    const Node &na = node(a), &nb = node(b);
    if (na.shape.rank != 2 || nb.shape.rank != 2 || na.dtype != DType::f32 || nb.dtype != DType::f32)
        fail(Errc::shape_mismatch, "matmul: needs two 2-D f32 tensors, got " + describe(na) + " and " + describe(nb));
    int64_t m = trans_a ? na.shape[1] : na.shape[0], k = trans_a ? na.shape[0] : na.shape[1];
    int64_t kb = trans_b ? nb.shape[1] : nb.shape[0], n = trans_b ? nb.shape[0] : nb.shape[1];
    if (k != kb)
        fail(Errc::shape_mismatch, "matmul: shapes " + na.shape.str() + (trans_a ? "ᵀ" : "") + " and " + nb.shape.str() +
                                       (trans_b ? "ᵀ" : "") + " do not match (" + std::to_string(k) + " != " + std::to_string(kb) + ")");
    // The batch may only be the rows of the result or the contracted dimension.
    if (nb.batched && trans_b)
        fail(Errc::shape_mismatch, "matmul: the batched operand " + nb.shape.str() + " would become the columns of the result");
    Node n_;
    n_.op = Op::matmul;
    n_.shape = Shape{m, n};
    n_.batched = na.batched && !trans_a;
    n_.n_in = 2;
    n_.in[0] = a.id;
    n_.in[1] = b.id;
    n_.attrs.matmul = {trans_a, trans_b};
    return add_node(std::move(n_));
}

Value Graph::binary(Op op, Value a, Value b) {
    check(a, op_name(op));
    check(b, op_name(op));
    const Node &na = node(a), &nb = node(b);
    if (na.dtype != DType::f32 || nb.dtype != DType::f32)
        fail(Errc::invalid_argument, std::string(op_name(op)) + ": needs f32 operands, got " + dtype_name(na.dtype) + " and " + dtype_name(nb.dtype));
    Node n;
    n.op = op;
    n.shape = broadcast_shapes(na.shape, nb.shape, op_name(op));
    // A batched operand must keep the batch as the leading dimension of the result.
    for (const Node* p : {&na, &nb})
        if (p->batched && p->shape.rank != n.shape.rank)
            fail(Errc::shape_mismatch, std::string(op_name(op)) + ": the batched operand " + p->shape.str() +
                                           " would not lead the result " + n.shape.str());
    n.batched = na.batched || nb.batched;
    n.n_in = 2;
    n.in[0] = a.id;
    n.in[1] = b.id;
    return add_node(std::move(n));
}

Value Graph::add(Value a, Value b) { return binary(Op::add, a, b); }
Value Graph::sub(Value a, Value b) { return binary(Op::sub, a, b); }
Value Graph::mul(Value a, Value b) { return binary(Op::mul, a, b); }
Value Graph::div(Value a, Value b) { return binary(Op::div, a, b); }

Value Graph::unary(Op op, Value x) {
    check(x, op_name(op));
    const Node& nx = node(x);
    if (nx.dtype != DType::f32) fail(Errc::invalid_argument, std::string(op_name(op)) + ": needs f32, got " + dtype_name(nx.dtype));
    Node n;
    n.op = op;
    n.shape = nx.shape;
    n.batched = nx.batched;
    n.n_in = 1;
    n.in[0] = x.id;
    return add_node(std::move(n));
}

Value Graph::scale(Value x, float mul, float add) {
    Value v = unary(Op::scale, x);
    nodes_[v.id].attrs.scale = {mul, add};
    return v;
}
Value Graph::relu(Value x) { return unary(Op::relu, x); }
Value Graph::sigmoid(Value x) { return unary(Op::sigmoid, x); }
Value Graph::tanh(Value x) { return unary(Op::tanh, x); }

Value Graph::softmax(Value x, int axis) {
    int a = node(x).shape.axis(axis, "softmax");
    Value v = unary(Op::softmax, x);
    nodes_[v.id].attrs.axis.axis = a;
    return v;
}

Value Graph::log_softmax(Value x, int axis) {
    int a = node(x).shape.axis(axis, "log_softmax");
    Value v = unary(Op::log_softmax, x);
    nodes_[v.id].attrs.axis.axis = a;
    return v;
}

Value Graph::dropout(Value x, float p) {
    if (!(p >= 0.0f && p < 1.0f)) fail(Errc::invalid_argument, "dropout: p must be in [0, 1), got " + std::to_string(p));
    Value v = unary(Op::dropout, x);
    nodes_[v.id].attrs.dropout = {p, ++dropout_count_};
    return v;
}

Value Graph::reshape(Value x, Shape shape) {
    check(x, "reshape");
    const Node& nx = node(x);
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < shape.rank; ++i) {
        if (shape[i] == -1) {
            if (infer >= 0) fail(Errc::invalid_argument, "reshape: only one dimension can be -1 in " + shape.str());
            infer = i;
        } else if (shape[i] <= 0) {
            fail(Errc::invalid_argument, "reshape: invalid dimension in " + shape.str());
        } else {
            known *= shape[i];
        }
    }
    if (infer >= 0) {
        if (nx.shape.numel() % known != 0)
            fail(Errc::shape_mismatch, "reshape: cannot view " + nx.shape.str() + " as " + shape.str());
        shape[infer] = nx.shape.numel() / known;
    }
    if (shape.numel() != nx.shape.numel())
        fail(Errc::shape_mismatch, "reshape: cannot view " + nx.shape.str() + " (" + std::to_string(nx.shape.numel()) +
                                       " elements) as " + shape.str());
    if (nx.batched && (shape.rank == 0 || shape[0] != nx.shape[0]))
        fail(Errc::shape_mismatch, "reshape: " + nx.shape.str() + " is batched, so " + shape.str() + " must keep dimension 0");
    Node n;
    n.op = Op::reshape;
    n.dtype = nx.dtype;
    n.shape = shape;
    n.batched = nx.batched;
    n.n_in = 1;
    n.in[0] = x.id;
    return add_node(std::move(n));
}

Value Graph::flatten(Value x, int start_dim) {
    const Shape& s = node(x).shape;
    int start = s.axis(start_dim, "flatten");
    Shape out;
    for (int i = 0; i < start; ++i) out.push_back(s[i]);
    int64_t rest = 1;
    for (int i = start; i < s.rank; ++i) rest *= s[i];
    out.push_back(rest);
    return reshape(x, out);
}

Value Graph::reduce(Op op, Value x, AxisAttrs attrs) {
    check(x, op_name(op));
    const Node& nx = node(x);
    if (nx.dtype != DType::f32) fail(Errc::invalid_argument, std::string(op_name(op)) + ": needs f32, got " + dtype_name(nx.dtype));
    Node n;
    n.op = op;
    if (attrs.all) {
        if (attrs.keepdim)
            for (int i = 0; i < nx.shape.rank; ++i) n.shape.push_back(1);
    } else {
        attrs.axis = nx.shape.axis(attrs.axis, op_name(op));
        for (int i = 0; i < nx.shape.rank; ++i) {
            if (i != attrs.axis) n.shape.push_back(nx.shape[i]);
            else if (attrs.keepdim) n.shape.push_back(1);
        }
        n.batched = nx.batched && attrs.axis != 0;
    }
    n.attrs.axis = attrs;
    n.n_in = 1;
    n.in[0] = x.id;
    return add_node(std::move(n));
}

Value Graph::sum(Value x) { return reduce(Op::sum, x, {.axis = 0, .all = true}); }
Value Graph::sum(Value x, int axis, bool keepdim) { return reduce(Op::sum, x, {.axis = axis, .all = false, .keepdim = keepdim}); }
Value Graph::mean(Value x) { return reduce(Op::mean, x, {.axis = 0, .all = true}); }
Value Graph::mean(Value x, int axis, bool keepdim) { return reduce(Op::mean, x, {.axis = axis, .all = false, .keepdim = keepdim}); }

Value Graph::loss(Op op, Value a, Value b) {
    check(a, op_name(op));
    check(b, op_name(op));
    const Node &na = node(a), &nb = node(b);
    if (na.dtype != DType::f32) fail(Errc::invalid_argument, std::string(op_name(op)) + ": input must be f32, got " + dtype_name(na.dtype));
    if (op == Op::cross_entropy) {
        if (na.shape.rank != 2 || nb.shape.rank != 1 || nb.shape[0] != na.shape[0])
            fail(Errc::shape_mismatch, "cross_entropy: needs logits [N, C] and labels [N], got " + na.shape.str() + " and " + nb.shape.str());
        if (nb.dtype != DType::i64 && nb.dtype != DType::i32)
            fail(Errc::invalid_argument, std::string("cross_entropy: labels must be class indices (i32 or i64), got ") + dtype_name(nb.dtype));
    } else {
        if (!(na.shape == nb.shape))
            fail(Errc::shape_mismatch, std::string(op_name(op)) + ": input " + na.shape.str() + " and target " + nb.shape.str() + " differ");
        if (nb.dtype != DType::f32) fail(Errc::invalid_argument, std::string(op_name(op)) + ": target must be f32, got " + dtype_name(nb.dtype));
    }
    if (na.batched != nb.batched && op != Op::cross_entropy)
        fail(Errc::shape_mismatch, std::string(op_name(op)) + ": input and target must both be batched or both not");
    Node n;
    n.op = op;
    n.shape = Shape{};
    n.n_in = 2;
    n.in[0] = a.id;
    n.in[1] = b.id;
    return add_node(std::move(n));
}

Value Graph::l1_loss(Value input, Value target) { return loss(Op::l1_loss, input, target); }
Value Graph::mse_loss(Value input, Value target) { return loss(Op::mse_loss, input, target); }
Value Graph::bce_with_logits(Value logits, Value target) { return loss(Op::bce_with_logits, logits, target); }
Value Graph::cross_entropy(Value logits, Value labels) { return loss(Op::cross_entropy, logits, labels); }

const Node& Graph::image_operand(Value x, const char* what, DType dtype) const {
    check(x, what);
    const Node& nx = node(x);
    if (nx.shape.rank != 4 || nx.dtype != dtype)
        fail(Errc::shape_mismatch, std::string(what) + ": needs an " + dtype_name(dtype) + " [N, C, H, W] input, got " + describe(nx));
    return nx;
}

Value Graph::conv2d(Value x, Value weight, Value bias, Conv2dAttrs a) {
    const Node& nx = image_operand(x, "conv2d");
    check(weight, "conv2d");
    const Node& nw = node(weight);
    if (nw.shape.rank != 4 || nw.dtype != DType::f32 || nw.shape[1] != nx.shape[1])
        fail(Errc::shape_mismatch, "conv2d: weight " + describe(nw) + " does not fit input " + describe(nx) +
                                       " (needs f32 [out_channels, " + std::to_string(nx.shape[1]) + ", kh, kw])");
    if (nw.batched) fail(Errc::shape_mismatch, "conv2d: the weight cannot be batched");
    if (a.stride_h < 1 || a.stride_w < 1 || a.dil_h < 1 || a.dil_w < 1 || a.pad_h < 0 || a.pad_w < 0)
        fail(Errc::invalid_argument, "conv2d: stride and dilation must be ≥ 1 and padding ≥ 0");
    check_padded(nx.shape, a.pad_h, a.pad_w, "conv2d");
    const int64_t oh = window_out_size(nx.shape[2], nw.shape[2], a.stride_h, a.pad_h, a.dil_h, false);
    const int64_t ow = window_out_size(nx.shape[3], nw.shape[3], a.stride_w, a.pad_w, a.dil_w, false);
    if (oh < 1 || ow < 1)
        fail(Errc::shape_mismatch, "conv2d: kernel " + nw.shape.str() + " does not fit input " + nx.shape.str() +
                                       " with padding " + std::to_string(a.pad_h) + "x" + std::to_string(a.pad_w));
    Node n;
    n.op = Op::conv2d;
    n.shape = Shape{nx.shape[0], nw.shape[0], oh, ow};
    n.batched = nx.batched;
    n.attrs.conv = a;
    n.n_in = 2;
    n.in[0] = x.id;
    n.in[1] = weight.id;
    if (bias) {
        check(bias, "conv2d");
        const Node& nb = node(bias);
        if (!(nb.shape == Shape{nw.shape[0]}) || nb.dtype != DType::f32)
            fail(Errc::shape_mismatch, "conv2d: bias " + describe(nb) + " must be f32 [" + std::to_string(nw.shape[0]) + "]");
        n.in[n.n_in++] = bias.id;
    }
    return add_node(std::move(n));
}

Value Graph::pool2d(Op op, Value x, Pool2dAttrs a) {
    const Node& nx = image_operand(x, op_name(op), op == Op::qmax_pool2d || op == Op::qavg_pool2d ? DType::i8 : DType::f32);
    const std::string what = op_name(op);
    if (a.kernel_h < 1 || a.kernel_w < 1 || a.stride_h < 1 || a.stride_w < 1 || a.pad_h < 0 || a.pad_w < 0)
        fail(Errc::invalid_argument, what + ": kernel and stride must be ≥ 1 and padding ≥ 0");
    check_padded(nx.shape, a.pad_h, a.pad_w, what.c_str());
    if (a.pad_h > a.kernel_h / 2 || a.pad_w > a.kernel_w / 2)
        fail(Errc::invalid_argument, what + ": padding " + std::to_string(a.pad_h) + "x" + std::to_string(a.pad_w) +
                                         " must be at most half the kernel " + std::to_string(a.kernel_h) + "x" + std::to_string(a.kernel_w));
    const int64_t oh = window_out_size(nx.shape[2], a.kernel_h, a.stride_h, a.pad_h, 1, a.ceil_mode);
    const int64_t ow = window_out_size(nx.shape[3], a.kernel_w, a.stride_w, a.pad_w, 1, a.ceil_mode);
    if (oh < 1 || ow < 1)
        fail(Errc::shape_mismatch, what + ": kernel " + std::to_string(a.kernel_h) + "x" + std::to_string(a.kernel_w) +
                                       " is larger than the padded input " + nx.shape.str());
    Node n;
    n.op = op;
    n.dtype = nx.dtype;
    n.shape = Shape{nx.shape[0], nx.shape[1], oh, ow};
    n.batched = nx.batched;
    n.attrs.pool = a;
    n.n_in = 1;
    n.in[0] = x.id;
    return add_node(std::move(n));
}

Value Graph::max_pool2d(Value x, Pool2dAttrs attrs) { return pool2d(Op::max_pool2d, x, attrs); }
Value Graph::avg_pool2d(Value x, Pool2dAttrs attrs) { return pool2d(Op::avg_pool2d, x, attrs); }

Value Graph::global_avg_pool2d(Value x) {
    const Shape s = image_operand(x, "global_avg_pool2d").shape;
    return mean(reshape(x, {s[0], s[1], s[2] * s[3]}), 2);
}

Value Graph::batch_norm(Value x, Value weight, Value bias, Value running_mean, Value running_var,
                        Value num_batches_tracked, BatchNormAttrs a) {
    check(x, "batch_norm");
    const Node& nx = node(x);
    if (nx.shape.rank < 2 || nx.dtype != DType::f32)
        fail(Errc::shape_mismatch, "batch_norm: needs an f32 input [N, C, ...], got " + describe(nx));
    const int64_t c = nx.shape[1];
    if (bool(weight) != bool(bias)) fail(Errc::invalid_argument, "batch_norm: give both weight and bias, or neither");
    if (bool(running_mean) != bool(running_var) || bool(running_mean) != bool(num_batches_tracked))
        fail(Errc::invalid_argument, "batch_norm: give running_mean, running_var and num_batches_tracked together, or none");
    for (Value v : {weight, bias, running_mean, running_var}) {
        if (!v) continue;
        check(v, "batch_norm");
        if (!(node(v).shape == Shape{c}) || node(v).dtype != DType::f32 || node(v).batched)
            fail(Errc::shape_mismatch, "batch_norm: " + describe(node(v)) + " must be f32 [" + std::to_string(c) + "] for input " + nx.shape.str());
    }
    if (num_batches_tracked) {
        const Node& nt = node(num_batches_tracked);
        if (nt.shape.rank != 0 || nt.dtype != DType::i64 || nt.op != Op::buffer)
            fail(Errc::invalid_argument, "batch_norm: num_batches_tracked must be an i64 [] buffer, got " + describe(nt));
        if (node(running_mean).op != Op::buffer || node(running_var).op != Op::buffer)
            fail(Errc::invalid_argument, "batch_norm: running_mean and running_var must be buffers (they are updated in place)");
    }
    if (!(a.eps > 0)) fail(Errc::invalid_argument, "batch_norm: eps must be positive");
    if (!a.cumulative && !(a.momentum >= 0 && a.momentum <= 1))
        fail(Errc::invalid_argument, "batch_norm: momentum must be in [0, 1]");
    Node st;
    st.op = Op::bn_stats;
    st.shape = Shape{2, c};
    st.attrs.bn = a;
    st.n_in = 1;
    st.in[0] = x.id;
    if (running_mean) {
        st.in[st.n_in++] = running_mean.id;
        st.in[st.n_in++] = running_var.id;
        st.in[st.n_in++] = num_batches_tracked.id;
    }
    const Shape shape = nx.shape;  // nx dangles once a node is added
    const bool batched = nx.batched;
    Value stats = add_node(std::move(st));
    Node n;
    n.op = Op::bn_apply;
    n.shape = shape;
    n.batched = batched;
    n.attrs.bn = a;
    n.n_in = 2;
    n.in[0] = x.id;
    n.in[1] = stats.id;
    if (weight) {
        n.in[n.n_in++] = weight.id;
        n.in[n.n_in++] = bias.id;
    }
    return add_node(std::move(n));
}

Value Graph::select(Value x, int64_t index) {
    check(x, "select");
    const Node& nx = node(x);
    if (nx.shape.rank < 1 || index < 0 || index >= nx.shape[0])
        fail(Errc::invalid_argument, "select: index " + std::to_string(index) + " is outside dimension 0 of " + describe(nx));
    if (nx.batched) fail(Errc::invalid_argument, "select: cannot select along the batch dimension of " + describe(nx));
    Node n;
    n.op = Op::select;
    n.dtype = nx.dtype;
    for (int i = 1; i < nx.shape.rank; ++i) n.shape.push_back(nx.shape[i]);
    n.attrs.select.index = index;
    n.n_in = 1;
    n.in[0] = x.id;
    return add_node(std::move(n));
}


// ---- int8 inference ----

void Graph::check_constant(Value v, DType dtype, const Shape& shape, const char* what, const char* role) const {
    check(v, what);
    const Node& n = node(v);
    if (!n.is_persistent() || n.dtype != dtype || !(n.shape == shape))
        fail(Errc::shape_mismatch, std::string(what) + ": " + role + " " + describe(n) + " must be a persistent " + dtype_name(dtype) + " " +
                                       shape.str());
}

namespace {
void check_quant(const QuantAttrs& q, const char* what) {
    for (int32_t z : {q.x_zero, q.b_zero, q.y_zero, q.lo, q.hi})
        if (z < -128 || z > 127) fail(Errc::invalid_argument, std::string(what) + ": zero points and clamps must be int8 codes");
    if (q.lo > q.hi) fail(Errc::invalid_argument, std::string(what) + ": the clamp's lo is above its hi");
    for (int k = 0; k < 3; ++k)
        if (q.m0[k] < 0 || q.shift[k] < -31 || q.shift[k] > 30)
            fail(Errc::invalid_argument, std::string(what) + ": a multiplier is outside M0 ≥ 0, shift in [−31, 30]");
}
}  // namespace

// quantize (f32 → i8 codes in the encoding (scale, zero_point)) and dequantize (back).
Value Graph::encoding_change(Op op, Value x, float scale, int32_t zero_point) {
    const std::string what = op_name(op);
    const bool to_codes = op == Op::quantize;
    const DType from = to_codes ? DType::f32 : DType::i8;
    check(x, what.c_str());
    const Node& nx = node(x);
    if (nx.dtype != from) fail(Errc::invalid_argument, what + ": needs " + dtype_name(from) + ", got " + describe(nx));
    if (!(scale > 0) || !std::isfinite(scale)) fail(Errc::invalid_argument, what + ": the scale must be positive and finite");
    Node n;
    n.op = op;
    n.dtype = to_codes ? DType::i8 : DType::f32;
    n.shape = nx.shape;
    n.batched = nx.batched;
    n.attrs.quant.scale = scale;
    (to_codes ? n.attrs.quant.y_zero : n.attrs.quant.x_zero) = zero_point;
    check_quant(n.attrs.quant, what.c_str());
    n.n_in = 1;
    n.in[0] = x.id;
    return add_node(std::move(n));
}
Value Graph::quantize(Value x, float scale, int32_t zero_point) { return encoding_change(Op::quantize, x, scale, zero_point); }
Value Graph::dequantize(Value x, float scale, int32_t zero_point) { return encoding_change(Op::dequantize, x, scale, zero_point); }

Value Graph::qconv2d(Value x, Value weight, Value bias, Value multipliers, Conv2dAttrs a, QuantAttrs q) {
    const Node& nx = image_operand(x, "qconv2d", DType::i8);
    check(weight, "qconv2d");
    const Shape ws = node(weight).shape;
    if (ws.rank != 4 || ws[1] != nx.shape[1])
        fail(Errc::shape_mismatch, "qconv2d: weight " + describe(node(weight)) + " does not fit input " + describe(nx));
    check_constant(weight, DType::i8, ws, "qconv2d", "weight");
    check_constant(bias, DType::i32, Shape{ws[0]}, "qconv2d", "bias");
    check_constant(multipliers, DType::i32, Shape{ws[0], 2}, "qconv2d", "multipliers");
    check_quant(q, "qconv2d");
    if (a.stride_h < 1 || a.stride_w < 1 || a.dil_h < 1 || a.dil_w < 1 || a.pad_h < 0 || a.pad_w < 0)
        fail(Errc::invalid_argument, "qconv2d: stride and dilation must be ≥ 1 and padding ≥ 0");
    check_padded(nx.shape, a.pad_h, a.pad_w, "qconv2d");
    if (ws[1] * ws[2] * ws[3] > 65536)
        fail(Errc::unsupported, "qconv2d: " + std::to_string(ws[1] * ws[2] * ws[3]) + " products per output could overflow the int32 sum (at most 65,536)");
    const int64_t oh = window_out_size(nx.shape[2], ws[2], a.stride_h, a.pad_h, a.dil_h, false);
    const int64_t ow = window_out_size(nx.shape[3], ws[3], a.stride_w, a.pad_w, a.dil_w, false);
    if (oh < 1 || ow < 1) fail(Errc::shape_mismatch, "qconv2d: kernel " + ws.str() + " does not fit input " + nx.shape.str());
    Node n;
    n.op = Op::qconv2d;
    n.dtype = DType::i8;
    n.shape = Shape{nx.shape[0], ws[0], oh, ow};
    n.batched = nx.batched;
    n.attrs.conv = a;
    n.attrs.quant = q;
    n.n_in = 4;
    n.in[0] = x.id, n.in[1] = weight.id, n.in[2] = bias.id, n.in[3] = multipliers.id;
    return add_node(std::move(n));
}

Value Graph::qlinear(Value x, Value weight, Value bias, Value multipliers, QuantAttrs q) {
    check(x, "qlinear");
    const Node& nx = node(x);
    if (nx.shape.rank != 2 || nx.dtype != DType::i8) fail(Errc::shape_mismatch, "qlinear: needs an i8 [N, K] input, got " + describe(nx));
    check(weight, "qlinear");
    const Shape ws = node(weight).shape;
    if (ws.rank != 2 || ws[1] != nx.shape[1])
        fail(Errc::shape_mismatch, "qlinear: weight " + describe(node(weight)) + " does not fit input " + describe(nx));
    if (ws[1] > 65536) fail(Errc::unsupported, "qlinear: " + std::to_string(ws[1]) + " products per output could overflow the int32 sum (at most 65,536)");
    check_constant(weight, DType::i8, ws, "qlinear", "weight");
    check_constant(bias, DType::i32, Shape{ws[0]}, "qlinear", "bias");
    check_constant(multipliers, DType::i32, Shape{ws[0], 2}, "qlinear", "multipliers");
    check_quant(q, "qlinear");
    Node n;
    n.op = Op::qlinear;
    n.dtype = DType::i8;
    n.shape = Shape{nx.shape[0], ws[0]};
    n.batched = nx.batched;
    n.attrs.quant = q;
    n.n_in = 4;
    n.in[0] = x.id, n.in[1] = weight.id, n.in[2] = bias.id, n.in[3] = multipliers.id;
    return add_node(std::move(n));
}

Value Graph::qmax_pool2d(Value x, Pool2dAttrs attrs) { return pool2d(Op::qmax_pool2d, x, attrs); }
Value Graph::qavg_pool2d(Value x, Pool2dAttrs attrs, int32_t zero_point) {
    QuantAttrs q;
    q.x_zero = zero_point;
    check_quant(q, "qavg_pool2d");
    Value y = pool2d(Op::qavg_pool2d, x, attrs);
    nodes_[size_t(y.id)].attrs.quant = q;
    return y;
}

Value Graph::qadd(Value a, Value b, QuantAttrs q) {
    check(a, "qadd");
    check(b, "qadd");
    const Node &na = node(a), &nb = node(b);
    if (na.dtype != DType::i8 || nb.dtype != DType::i8 || !(na.shape == nb.shape) || na.batched != nb.batched)
        fail(Errc::shape_mismatch, "qadd: needs two i8 tensors of one shape, got " + describe(na) + " and " + describe(nb));
    check_quant(q, "qadd");
    Node n;
    n.op = Op::qadd;
    n.dtype = DType::i8;
    n.shape = na.shape;
    n.batched = na.batched;
    n.attrs.quant = q;
    n.n_in = 2;
    n.in[0] = a.id, n.in[1] = b.id;
    return add_node(std::move(n));
}

Value Graph::qmean(Value x, QuantAttrs q) {
    check(x, "qmean");
    const Node& nx = node(x);
    if (nx.dtype != DType::i8 || nx.shape.rank < 2 || (nx.batched && nx.shape.rank < 2))
        fail(Errc::shape_mismatch, "qmean: needs an i8 input of rank ≥ 2, got " + describe(nx));
    if (nx.shape[nx.shape.rank - 1] > 1 << 23)
        fail(Errc::unsupported, "qmean: the last axis is too long for the int32 sum (at most 2^23)");
    check_quant(q, "qmean");
    Node n;
    n.op = Op::qmean;
    n.dtype = DType::i8;
    n.shape = nx.shape;
    n.shape.rank -= 1;
    n.batched = nx.batched;
    n.attrs.quant = q;
    n.n_in = 1;
    n.in[0] = x.id;
    return add_node(std::move(n));
}

Value Graph::qlookup(Value x, Value table) {
    check(x, "qlookup");
    const Node& nx = node(x);
    if (nx.dtype != DType::i8) fail(Errc::invalid_argument, "qlookup: needs i8, got " + describe(nx));
    check_constant(table, DType::i8, Shape{256}, "qlookup", "table");
    Node n;
    n.op = Op::qlookup;
    n.dtype = DType::i8;
    n.shape = nx.shape;
    n.batched = nx.batched;
    n.n_in = 2;
    n.in[0] = x.id, n.in[1] = table.id;
    return add_node(std::move(n));
}

}  // namespace kiln
