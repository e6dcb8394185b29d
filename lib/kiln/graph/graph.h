// Graph: the static-graph builder. Declare inputs, parameters and ops with fixed shapes; each call
// infers and checks its output shape at once, and a mistake throws Error naming the op and shapes.
// A Graph is a plain description: compile() (program.h) turns it into something that runs.
//
//   kiln::Graph g(/*seed=*/42);
//   auto x = g.input("x", {32, 784});                 // dim 0 is the batch
//   auto y = g.input("y", {32}, kiln::DType::i64);
//   auto h = kiln::nn::linear(g, "fc1", x, 128);      // see nn/layers.h
//   auto loss = g.cross_entropy(g.relu(h), y);
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kiln/core/dtype.h"
#include "kiln/core/limits.h"
#include "kiln/core/rng.h"
#include "kiln/core/shape.h"
#include "kiln/op/op.h"

namespace kiln {

// A handle to a node of one Graph.
struct Value {
    int32_t id = -1;
    explicit operator bool() const { return id >= 0; }
    friend bool operator==(Value a, Value b) { return a.id == b.id; }
};

struct Node {
    Op op = Op::input;
    DType dtype = DType::f32;
    Shape shape;           // at the compiled batch size (ops without output: their first input's)
    bool batched = false;  // dim 0 is the batch and may shrink at run time
    int n_in = 0;
    int32_t in[max_op_inputs] = {-1, -1, -1, -1, -1};
    Attrs attrs;
    std::string name;           // inputs, params and buffers: the state_dict name
    std::vector<uint8_t> init;  // params and buffers: initial contents (dtype's bytes); empty = zeros
    // (Graph::without_initial_values copies every field but init.)

    bool is_leaf() const { return op_info(op).leaf(); }
    bool is_persistent() const { return op_info(op).persistent(); }
    bool has_output() const { return op_info(op).has_output(); }
};

class Graph {
public:
    // seed: the generator parameter initialisers draw from (see nn/init.h).
    explicit Graph(uint64_t seed = 0) : rng_(seed) {}

    // --- leaves ---
    // A tensor fed at every call; dim 0 is the batch (it may shrink at run time).
    Value input(const std::string& name, Shape shape, DType dtype = DType::f32);
    // A trainable tensor with its initial value (numel floats).
    Value param(const std::string& name, Shape shape, std::vector<float> init);
    // The same, with the initial value made by `init` only once the shape has passed its checks
    // and fits the parameter budget: a size read from a file never allocates before it is checked.
    // An empty init (or init()) is zeros.
    Value param_init(const std::string& name, Shape shape, const std::function<std::vector<float>()>& init);
    // Non-trainable persistent state with its initial bytes (numel × dtype_size), e.g. running means.
    Value buffer(const std::string& name, Shape shape, DType dtype, std::vector<uint8_t> init);
    Value buffer_init(const std::string& name, Shape shape, DType dtype, const std::function<std::vector<uint8_t>()>& init);

    // --- ops (PyTorch semantics) ---
    Value matmul(Value a, Value b, bool trans_a = false, bool trans_b = false);
    Value add(Value a, Value b);
    Value sub(Value a, Value b);
    Value mul(Value a, Value b);
    Value div(Value a, Value b);
    Value scale(Value x, float mul, float add = 0.0f);  // x * mul + add
    Value relu(Value x);
    Value sigmoid(Value x);
    Value tanh(Value x);
    Value softmax(Value x, int axis = -1);
    Value log_softmax(Value x, int axis = -1);
    // New shape with the same element count; while x is batched, dim 0 must stay the batch.
    // One dimension may be -1 (inferred).
    Value reshape(Value x, Shape shape);
    Value flatten(Value x, int start_dim = 1);  // as torch.flatten(x, start_dim)
    Value sum(Value x);                          // over every element → shape []
    Value sum(Value x, int axis, bool keepdim = false);
    Value mean(Value x);
    Value mean(Value x, int axis, bool keepdim = false);
    Value dropout(Value x, float p = 0.5f);
    // Losses (mean reduction) → shape [].
    Value l1_loss(Value input, Value target);
    Value mse_loss(Value input, Value target);
    Value bce_with_logits(Value logits, Value target);
    Value cross_entropy(Value logits, Value labels);  // logits [N, C], labels [N] i32/i64

    // --- vision, on NCHW tensors (see nn/layers.h for the PyTorch-style layers) ---
    // x [N, C, H, W], weight [O, C, kh, kw], bias [O] or an invalid Value for none.
    Value conv2d(Value x, Value weight, Value bias, Conv2dAttrs attrs = {});
    Value max_pool2d(Value x, Pool2dAttrs attrs);
    Value avg_pool2d(Value x, Pool2dAttrs attrs);
    Value global_avg_pool2d(Value x);  // [N, C, H, W] -> [N, C] (mean over H and W)
    // Batch normalisation over dim 1 of x [N, C, ...]. weight/bias: both or neither (affine);
    // running_mean/running_var (f32 [C]) and num_batches_tracked (i64 []): all or none
    // (track_running_stats). Training uses the batch's statistics and updates the running ones;
    // eval uses the running ones when tracked.
    Value batch_norm(Value x, Value weight, Value bias, Value running_mean, Value running_var,
                     Value num_batches_tracked, BatchNormAttrs attrs = {});
    Value select(Value x, int64_t index);  // x[index] along dim 0, a view (x must not be batched)

    // --- int8 inference (kiln/quant builds these from a float graph; op.h says what each computes) ---
    Value quantize(Value x, float scale, int32_t zero_point);    // f32 → i8
    Value dequantize(Value x, float scale, int32_t zero_point);  // i8 → f32
    // weight i8 [O, C, kh, kw] / [O, K], bias i32 [O], multipliers i32 [O, 2]; q: x_zero, y_zero, lo, hi.
    Value qconv2d(Value x, Value weight, Value bias, Value multipliers, Conv2dAttrs conv, QuantAttrs q);
    Value qlinear(Value x, Value weight, Value bias, Value multipliers, QuantAttrs q);
    Value qmax_pool2d(Value x, Pool2dAttrs attrs);
    Value qavg_pool2d(Value x, Pool2dAttrs attrs, int32_t zero_point);
    Value qadd(Value a, Value b, QuantAttrs q);  // x_zero, b_zero, y_zero, lo, hi, m0/shift [3]
    Value qmean(Value x, QuantAttrs q);          // x_zero, y_zero, m0[0]/shift[0]: over the last axis
    Value qlookup(Value x, Value table);         // table i8 [256]

    // Parameters and buffers may hold at most this many elements in all (limits::parameters by
    // default); a leaf past it is an Error naming it and the limit.
    void set_max_parameters(int64_t elements) { max_parameters_ = elements; }
    int64_t parameter_count() const { return parameter_count_; }  // elements of params and buffers so far

    // --- inspection ---
    const Node& node(Value v) const;
    const Shape& shape(Value v) const { return node(v).shape; }
    int size() const { return static_cast<int>(nodes_.size()); }
    const std::vector<Node>& nodes() const { return nodes_; }
    Value find(const std::string& name) const;  // a leaf by name, or an invalid Value
    Generator& rng() { return rng_; }
    // The same graph with every init empty: what a compiled program keeps (its values are on the
    // backend by then).
    Graph without_initial_values() const;

    // Adds a node whose shape the caller has already worked out (used by autodiff and the
    // optimizer builder; ops above check shapes and then call this).
    Value add_node(Node n);

private:
    // Checks a new leaf's name and shape (and, for params and buffers, the budget); its numel.
    int64_t check_leaf(Op op, const std::string& name, const Shape& shape) const;
    Value leaf(Op op, const std::string& name, Shape shape, DType dtype, const std::function<std::vector<uint8_t>()>& make);
    Value unary(Op op, Value x);
    Value binary(Op op, Value a, Value b);
    Value reduce(Op op, Value x, AxisAttrs attrs);
    Value loss(Op op, Value a, Value b);
    Value pool2d(Op op, Value x, Pool2dAttrs attrs);
    Value encoding_change(Op op, Value x, float scale, int32_t zero_point);  // quantize, dequantize
    const Node& image_operand(Value x, const char* what, DType dtype = DType::f32) const;  // checks x is [N, C, H, W] of dtype
    // Checks that v is a persistent tensor of dtype and shape (an int8 op's weights and tables).
    void check_constant(Value v, DType dtype, const Shape& shape, const char* what, const char* role) const;
    void check(Value v, const char* what) const;

    std::vector<Node> nodes_;
    Generator rng_;
    uint64_t dropout_count_ = 0;
    int64_t parameter_count_ = 0, max_parameters_ = limits::parameters;
};

}  // namespace kiln
