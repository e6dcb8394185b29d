// Post-training int8 quantization (issue 15): a trained float graph becomes an int8 graph of
// quantize → qconv2d/qlinear/pooling/qadd/qmean/qlookup → dequantize, run by the same compile(),
// planner, backends and micro runtime as any graph.
//
//   Plan plan = plan_int8(g, x, logits);                  // fuse, fold, name (no weights yet)
//   Calibrator cal(plan, {.method = Method::minmax});     // observe the float program's values
//   for each pass, for each batch: write x, prog->forward(n); cal.observe(*prog, pass);
//   auto tensors = quantize_weights(plan, g, *prog, cal.encodings());   // the int8 file's contents
//   io::save_safetensors("best.int8.safetensors", tensors, int8_metadata(…));
//   Graph q;  Int8Model m = build_int8(q, g, plan, io::load_safetensors(path), path);
//
// What a layer becomes: Conv2d [+ BatchNorm, folded in float] [+ ReLU, fused as the clamp] →
// qconv2d; Linear [+ ReLU] → qlinear; MaxPool2d/AvgPool2d → qmax_pool2d/qavg_pool2d in their
// input's encoding; a residual add [+ ReLU] → qadd; global average pooling → qmean; sigmoid, tanh
// and a lone ReLU → qlookup through a 256-entry table made here (so every target gives the same
// bits); flatten and dropout (eval) → nothing. Weights are symmetric per output channel,
// activations asymmetric per tensor; biases int32 in the sum's scale; requantization is the
// fixed-point multiplier of backend/quant_math.h. Another op is an Error(unsupported) naming it.
//
// The int8 file (safetensors, metadata kiln.quantization = int8-v1; README "int8 files"):
//   L.weight        I8  [O, C, kh, kw] or [O, K]   codes, BatchNorm folded in
//   L.weight_scale  F32 [O]                        per output channel: w ≈ weight_scale[o] · code
//   L.bias          I32 [O]                        in the sum's scale, input_scale · weight_scale[o]
//   P.scale, P.zero_point   F32 [], I32 []         the encoding of point P's output: r = scale · (q − zero_point)
//   T.table         I8  [256]                      a lookup layer's outputs, table[code + 128]
// L is a Conv2d's or Linear's state_dict prefix ("conv_block_1.0"); P is L, "input", "add.K" or
// "mean.K"; T is "sigmoid.K", "tanh.K" or "relu.K" (K counts that op from 0 in graph order).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kiln/backend/quant_math.h"
#include "kiln/graph/graph.h"
#include "kiln/io/safetensors.h"
#include "kiln/runtime/program.h"

namespace kiln::quant {

// One layer of the int8 program, described by the float graph's node ids.
struct Layer {
    enum Kind : uint8_t { input, conv, linear, max_pool, avg_pool, add, mean, lookup, reshape, identity };
    Kind kind = identity;
    std::string name;           // its tensors' prefix in the int8 file (empty: it has none)
    int32_t op = -1;            // the float node of its op (conv2d, matmul, pool, add, mean, sigmoid, …)
    int32_t in[2] = {-1, -1};   // the float nodes whose values it reads
    int32_t out = -1;           // the float node whose value it stands for (the last of a fused chain)
    int32_t bias = -1;          // the float bias parameter (Conv2d's, or Linear's add)
    int32_t bn_stats = -1, bn_apply = -1;  // a BatchNorm folded into a Conv2d
    bool relu = false;          // a ReLU fused into the clamp
    // Whether its output has an encoding of its own, found by calibration (P.scale, P.zero_point).
    bool encoded() const { return kind == input || kind == conv || kind == linear || kind == add || kind == mean; }
};

struct Plan {
    std::vector<Layer> layers;  // in graph order
    int32_t input = -1, output = -1;
    // The float values calibration observes: each encoded layer's output.
    std::vector<Value> observed() const;
};

// The int8 form of the float model g (its input x [batch, …] f32 and its output). Error(unsupported)
// names an op or pattern without one.
Plan plan_int8(const Graph& g, Value input, Value output);

// How calibration turns observed values into an activation's range.
enum class Method { minmax, percentile, mse };
struct CalibrationOptions {
    Method method = Method::minmax;
    double percentile = 99.99;  // Method::percentile: the range holds this % of the values, clipping both tails
};
const char* method_name(Method m);

// Observes the float program's values over the calibration images. Min/max needs one pass; the
// percentile and MSE methods a second, which fills a histogram over the first pass's range.
class Calibrator {
public:
    Calibrator(const Plan& plan, CalibrationOptions options);
    int passes() const { return options_.method == Method::minmax ? 1 : 2; }
    // After program.forward(n) on a program compiled with plan.observed() among its outputs.
    void observe(const Program& program, int pass);
    std::map<std::string, Params> encodings() const;  // by encoded layer name

    static constexpr int bins = 2048;

private:
    struct Point {
        std::string name;
        Value value;
        float lo = 0, hi = 0;
        bool seen = false;
        std::vector<double> histogram;
    };
    std::vector<Point> points_;
    CalibrationOptions options_;
    std::vector<float> values_;
};

// The int8 file's tensors (see above) from the float weights in `weights` (a program of g with
// its state loaded) and the encodings.
std::vector<io::NamedTensor> quantize_weights(const Plan& plan, const Graph& g, const Program& weights,
                                              const std::map<std::string, Params>& encodings);

// The metadata an int8 file carries: kiln.quantization = int8-v1 and how it was calibrated.
io::Metadata int8_metadata(const std::string& calibration);
inline constexpr const char* int8_format = "int8-v1";

struct Int8Model {
    Value input, output;  // f32 [batch, …] in, f32 logits out (dequantized)
};
// The int8 graph in q (empty) from the float model's plan and an int8 file's tensors (`path` names
// it in errors): Error(format) for a missing tensor, a wrong dtype or shape, or an encoding out
// of range.
Int8Model build_int8(Graph& q, const Graph& g, const Plan& plan, const io::SafetensorsFile& file, const std::string& path);

}  // namespace kiln::quant
