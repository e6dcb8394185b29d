// Transform pipeline strings ("resize=64x64;random_crop=28,padding=4;to_tensor") as the tools take
// them from --train-transforms / --eval-transforms and model.json: the registry's grammar, every
// transform's configuration, and the pipeline applied to a small RGB and a grey image.
// Sizes with more than three digits are left out (an output of 9999×9999 is legal and only slow:
// limits::sample_bytes bounds what a transform may ask for, and the unit tests check that).
#include "fuzz.h"
#include "kiln/core/error.h"
#include "kiln/data/plugin_registry.h"

extern "C" const kiln_plugin* kiln_plugin_entry(void);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kiln;
    static const data::PluginRegistry& plugins = *[] {
        auto* r = new data::PluginRegistry(std::vector<std::string>{});
        r->add(*kiln_plugin_entry(), "transforms");
        return r;
    }();
    fuzz::Bytes in(data, size);
    const uint64_t seed = uint64_t(in.i64());
    const std::string text(in.rest());
    if (fuzz::has_long_number(text, 3)) return 0;
    try {
        const data::TransformPipeline pipeline = plugins.pipeline(text);
        data::PipelineScratch scratch;
        for (const int64_t channels : {3, 1}) {
            std::vector<uint8_t> pixels(size_t(7 * 5 * channels));
            for (size_t k = 0; k < pixels.size(); ++k) pixels[k] = uint8_t(k * 37);
            const kiln_array image{KILN_U8, 3, {7, 5, channels, 0}, pixels.data()};
            try {
                const kiln_array out = pipeline.apply(image, scratch, seed);
                FUZZ_EXPECT(out.rank >= 1 && out.rank <= 4);
            } catch (const Error&) {  // e.g. a grey image where a step needs RGB
            }
        }
    } catch (const Error&) {
    }
    return 0;
}
