// IDX images + labels, raw or gzip, through the idx plugin as kiln-train opens it: the header and
// size checks, gzip, the class rule (classes=auto/numbers/fashion/<K>) and transpose.
// Input: a flags byte (bit 0 transpose, bits 1–2 the classes setting), a little-endian u32 n, then
// n bytes of the images file and the rest as the labels file.
#include "fuzz.h"
#include "kiln/data/dataset.h"

extern "C" const kiln_plugin* kiln_plugin_entry(void);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kiln;
    static fuzz::MemFile images("images"), labels("labels");
    fuzz::Bytes in(data, size);
    const uint8_t flags = in.byte();
    const std::string_view image_bytes = in.take(in.u32()), label_bytes = in.rest();
    static const char* const classes[] = {"auto", "numbers", "fashion", "10"};
    const std::string config = "images=" + images.hold(image_bytes.data(), image_bytes.size()) +
                               ",labels=" + labels.hold(label_bytes.data(), label_bytes.size()) +
                               ",classes=" + classes[(flags >> 1) & 3] + (flags & 1 ? ",transpose=yes" : "");
    try {
        const data::Dataset d = data::Dataset::open(*kiln_plugin_entry()->dataset, "idx", config);
        data::SampleBuffer buf;
        for (const int64_t i : {int64_t(0), d.size() - 1}) {
            int64_t label = -1;
            const kiln_array a = d.get(i, buf, label);
            FUZZ_EXPECT(label >= 0 && label < d.num_classes());
            FUZZ_EXPECT(a.elem == KILN_U8 && a.rank == 3 && a.shape[2] == 1);
        }
    } catch (const Error&) {
    }
    return 0;
}
