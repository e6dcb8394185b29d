// safetensors files as kiln-infer and kiln-train --resume read them (kiln/io/safetensors.h): the
// header length, the JSON header, dtypes, shapes, offsets, overlaps and duplicate names.
#include "fuzz.h"
#include "kiln/core/error.h"
#include "kiln/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kiln;
    static fuzz::MemFile file("safetensors");
    try {
        const io::SafetensorsFile f = io::load_safetensors(file.hold(data, size));
        size_t total = 0;
        for (const io::NamedTensor& t : f.tensors) {
            FUZZ_EXPECT(t.data.size() == size_t(t.shape.numel()) * dtype_size(t.dtype));
            total += t.data.size();
        }
        FUZZ_EXPECT(total <= size);  // every byte loaded was in the file, once
    } catch (const Error&) {
    }
    return 0;
}
