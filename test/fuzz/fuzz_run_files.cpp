// The run files a page is made of, as kiln-train, kiln-infer and kiln-report read them
// (tools/run_records.h): the first byte picks training.json or evaluation.json, the rest is the
// file. What reads must keep its numbers within the checks' ranges.
#include "fuzz.h"
#include "kiln/core/error.h"
#include "run_records.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kiln;
    static fuzz::MemFile file("run-file");
    fuzz::Bytes in(data, size);
    const bool evaluation = in.byte() & 1;
    const std::string_view text = in.rest();
    const std::string& path = file.hold(text.data(), text.size());
    try {
        if (evaluation) {
            const tools::EvaluationRecord e = tools::read_evaluation(path);
            FUZZ_EXPECT(e.samples >= 0 && e.misclassified_total >= 0 && e.misclassified_shown >= 0);
        } else {
            const tools::TrainingFacts f = tools::read_training_facts(path);
            FUZZ_EXPECT(f.parameters >= 0 && f.ranks >= 1 && train::is_metric(f.monitor));
        }
    } catch (const Error&) {
    }
    return 0;
}
