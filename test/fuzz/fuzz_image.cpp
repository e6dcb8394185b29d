// PNG and JPEG decoding (kiln/image/codec.h) as the imagefolder plugin and kiln-infer --predict use
// it: probe, then decode into a buffer of exactly the size probe promised, in grey and in RGB.
// Built twice, fuzz-png and fuzz-jpeg, the same code on each format's seeds.
#include <vector>

#include "fuzz.h"
#include "kiln/core/error.h"
#include "kiln/image/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kiln;
    const std::span<const uint8_t> bytes(data, size);
    for (const image::ColorMode mode : {image::ColorMode::grey, image::ColorMode::rgb}) {
        // A smaller pixel limit than the default keeps each run fast; the check is the same.
        const image::DecodeOptions options{mode, uint64_t(1) << 22};
        try {
            const image::ImageInfo info = image::probe(bytes, "fuzz", options);
            FUZZ_EXPECT(info.height > 0 && info.width > 0 && uint64_t(info.height * info.width) <= options.max_pixels);
            std::vector<uint8_t> pixels(info.bytes());
            const image::ImageInfo done = image::decode_into(bytes, "fuzz", options, pixels);
            FUZZ_EXPECT(done.height == info.height && done.width == info.width && done.channels == info.channels);
        } catch (const Error&) {
        }
    }
    return 0;
}
