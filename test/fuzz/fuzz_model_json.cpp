// Model description files (kiln/nn/model_file.h) as kiln-train --model and kiln-infer's
// model.json read them: parsing, every size and key, nesting, then building the model on a
// small input. What parses must survive to_json and parse again to the same description.
#include "fuzz.h"
#include "kiln/core/error.h"
#include "kiln/nn/model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kiln;
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const nn::ModelSpec spec = nn::parse_model(text, "fuzz.json");
        FUZZ_EXPECT(nn::to_json(nn::parse_model(nn::to_json(spec), "round trip")) == nn::to_json(spec));
        // The recorded input shape when it is small, else a small image; a budget of 2^18
        // parameters keeps every run fast (the check is Graph's, whatever the budget).
        Shape x{1};
        int64_t numel = 1;
        for (int64_t d : spec.input_shape) numel = numel <= 4096 ? numel * d : numel;
        if (!spec.input_shape.empty() && numel <= 4096)
            for (int64_t d : spec.input_shape) x.push_back(d);
        else
            x = Shape{1, 1, 8, 8};
        Graph g(1);
        g.set_max_parameters(int64_t(1) << 18);
        const Value logits = nn::build_model(g, spec, g.input("x", x), 3);
        FUZZ_EXPECT(g.shape(logits).rank >= 1);
    } catch (const Error&) {
    }
    return 0;
}
