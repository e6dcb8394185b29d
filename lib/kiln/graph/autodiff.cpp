#include "kiln/graph/autodiff.h"

#include <cstring>

#include "kiln/core/error.h"

namespace kiln {

namespace {

class Builder {
public:
    Builder(Graph& g) : g_(g) {}

    // A node shaped like `like`, with the attributes of `attrs_of` (the forward node).
    Value make(Op op, const Node& like, std::initializer_list<Value> in, const Node* attrs_of = nullptr) {
        Node n;
        n.op = op;
        n.dtype = like.dtype;
        n.shape = like.shape;
        n.batched = like.batched;
        for (Value v : in)
            if (v) n.in[n.n_in++] = v.id;
        n.attrs = attrs_of ? attrs_of->attrs : like.attrs;
        return g_.add_node(std::move(n));
    }

    // Reduce a gradient of the broadcast result back to the shape of operand `to`.
    Value sum_to(Value dy, const Node& to) {
        if (g_.node(dy).shape == to.shape) return dy;
        Node n;
        n.op = Op::sum_to;
        n.shape = to.shape;
        n.batched = to.batched;
        n.n_in = 1;
        n.in[0] = dy.id;
        return g_.add_node(std::move(n));
    }

    // Broadcast dy (the gradient of a reduction) back to x's shape.
    Value expand(Value dy, const Node& x, const Node& reduction) {
        const AxisAttrs& a = reduction.attrs.axis;
        if (!a.all && !a.keepdim) {  // put the reduced axis back as size 1
            Shape kept;
            for (int i = 0; i < x.shape.rank; ++i) kept.push_back(i == a.axis ? 1 : x.shape[i]);
            dy = g_.reshape(dy, kept);
        }
        Node n;
        n.op = Op::expand;
        n.shape = x.shape;
        n.batched = x.batched;
        n.attrs.expand.mean = reduction.op == Op::mean;
        n.n_in = 1;
        n.in[0] = dy.id;
        return g_.add_node(std::move(n));
    }

private:
    Graph& g_;
};

}  // namespace

std::vector<int32_t> build_backward(Graph& g, Value loss) {
    const Node& ln = g.node(loss);
    if (ln.shape.rank != 0 || ln.dtype != DType::f32)
        fail(Errc::invalid_argument, std::string("autodiff: the loss must be an f32 scalar, got ") + op_name(ln.op) + " " + ln.shape.str());

    const int n_forward = loss.id + 1;
    std::vector<bool> needs(n_forward, false);  // depends on a param
    for (int i = 0; i < n_forward; ++i) {
        const Node& n = g.nodes()[i];
        needs[i] = n.op == Op::param;
        for (int k = 0; k < n.n_in; ++k) needs[i] = needs[i] || needs[n.in[k]];
    }

    std::vector<int32_t> grad(n_forward, -1);
    Builder b(g);
    auto accumulate = [&](int32_t node, Value d) {
        if (!needs[node] || !d) return;
        grad[node] = grad[node] < 0 ? d.id : g.add(Value{grad[node]}, d).id;
    };

    // d(loss)/d(loss) = 1, held in a one-element buffer that compile() keeps out of the state.
    float one = 1.0f;
    std::vector<uint8_t> one_bytes(sizeof one);
    std::memcpy(one_bytes.data(), &one, sizeof one);
    grad[loss.id] = g.buffer("__loss_grad_seed", Shape{}, DType::f32, one_bytes).id;

    for (int i = loss.id; i >= 0; --i) {
        if (grad[i] < 0 || g.nodes()[i].is_leaf()) continue;
        const Node n = g.nodes()[i];  // copy: adding nodes may reallocate the node vector
        Value dy{grad[i]}, y{i};
        Value a{n.in[0]}, c{n.in[1]};
        auto in = [&](int k) { return g.nodes()[n.in[k]]; };
        static_assert(op_count == 57, "a new op needs its gradient rule in this switch");
        switch (n.op) {
        case Op::matmul: {
            bool ta = n.attrs.matmul.trans_a, tb = n.attrs.matmul.trans_b;
            if (needs[a.id]) accumulate(a.id, ta ? g.matmul(c, dy, tb, true) : g.matmul(dy, c, false, !tb));
            if (needs[c.id]) accumulate(c.id, tb ? g.matmul(dy, a, true, ta) : g.matmul(a, dy, !ta, false));
            break;
        }
        case Op::add:
            accumulate(a.id, b.sum_to(dy, in(0)));
            accumulate(c.id, b.sum_to(dy, in(1)));
            break;
        case Op::sub:
            accumulate(a.id, b.sum_to(dy, in(0)));
            if (needs[c.id]) accumulate(c.id, b.sum_to(g.scale(dy, -1.0f), in(1)));
            break;
        case Op::mul:
            if (needs[a.id]) accumulate(a.id, b.sum_to(g.mul(dy, c), in(0)));
            if (needs[c.id]) accumulate(c.id, b.sum_to(g.mul(dy, a), in(1)));
            break;
        case Op::div:  // y = a / b: da = dy / b, db = -dy * y / b
            if (needs[a.id]) accumulate(a.id, b.sum_to(g.div(dy, c), in(0)));
            if (needs[c.id]) accumulate(c.id, b.sum_to(g.scale(g.div(g.mul(dy, y), c), -1.0f), in(1)));
            break;
        case Op::scale: accumulate(a.id, g.scale(dy, n.attrs.scale.mul)); break;
        case Op::relu: accumulate(a.id, b.make(Op::relu_grad, n, {dy, y})); break;
        case Op::sigmoid: accumulate(a.id, b.make(Op::sigmoid_grad, n, {dy, y})); break;
        case Op::tanh: accumulate(a.id, b.make(Op::tanh_grad, n, {dy, y})); break;
        case Op::softmax: accumulate(a.id, b.make(Op::softmax_grad, n, {dy, y})); break;
        case Op::log_softmax: accumulate(a.id, b.make(Op::log_softmax_grad, n, {dy, y})); break;
        case Op::reshape: accumulate(a.id, g.reshape(dy, in(0).shape)); break;
        case Op::sum:
        case Op::mean: accumulate(a.id, b.expand(dy, in(0), n)); break;
        case Op::dropout: accumulate(a.id, b.make(Op::dropout, n, {dy})); break;  // same salt → same mask
        case Op::l1_loss:
        case Op::mse_loss: {
            Node like = in(0);
            Value da = b.make(n.op == Op::l1_loss ? Op::l1_loss_grad : Op::mse_loss_grad, like, {dy, a, c});
            accumulate(a.id, da);
            if (needs[c.id]) accumulate(c.id, g.scale(da, -1.0f));
            break;
        }
        case Op::bce_with_logits:
            if (needs[c.id]) fail(Errc::unsupported, "autodiff: bce_with_logits has no gradient for its target");
            accumulate(a.id, b.make(Op::bce_with_logits_grad, in(0), {dy, a, c}));
            break;
        case Op::cross_entropy: accumulate(a.id, b.make(Op::cross_entropy_grad, in(0), {dy, a, c})); break;
        case Op::conv2d:
            if (needs[a.id]) accumulate(a.id, b.make(Op::conv2d_grad_input, in(0), {dy, c}, &n));
            if (needs[c.id]) accumulate(c.id, b.make(Op::conv2d_grad_weight, in(1), {dy, a}, &n));
            if (n.n_in > 2 && needs[n.in[2]]) accumulate(n.in[2], b.make(Op::channel_sum, in(2), {dy}));
            break;
        case Op::max_pool2d: accumulate(a.id, b.make(Op::max_pool2d_grad, in(0), {dy, a}, &n)); break;
        case Op::avg_pool2d: accumulate(a.id, b.make(Op::avg_pool2d_grad, in(0), {dy}, &n)); break;
        case Op::bn_apply: {
            // In training the statistics depend on x: bn_input_grad carries that path, so the
            // stats node itself takes no gradient. (Backward only runs in training mode.)
            const int64_t channels = in(0).shape[1];
            Node pg_like;
            pg_like.shape = Shape{2, channels};
            Value pg = b.make(Op::bn_param_grad, pg_like, {dy, a, c}, &n);
            Value weight = n.n_in > 2 ? Value{n.in[2]} : Value{};
            if (needs[a.id]) accumulate(a.id, b.make(Op::bn_input_grad, in(0), {dy, a, c, pg, weight}, &n));
            if (weight && needs[weight.id]) accumulate(weight.id, g.select(pg, 0));
            if (n.n_in > 3 && needs[n.in[3]]) accumulate(n.in[3], g.select(pg, 1));
            break;
        }
        case Op::quantize: case Op::dequantize: case Op::qconv2d: case Op::qlinear: case Op::qmax_pool2d:
        case Op::qavg_pool2d: case Op::qadd: case Op::qmean: case Op::qlookup:
            fail(Errc::unsupported, std::string("autodiff: ") + op_name(n.op) + " is int8 inference, which has no gradient (train in float, then quantize)");
        default:
            fail(Errc::unsupported, std::string("autodiff: no gradient rule for op ") + op_name(n.op));
        }
    }
    grad.resize(g.size(), -1);
    return grad;
}

}  // namespace kiln
