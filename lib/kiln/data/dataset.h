// C++ handles over the plugin C ABI (kiln/data/plugin.h):
//   Dataset            an open dataset plugin handle: size, classes, decode sample i
//   TransformPipeline  a sequence of transform steps applied to one sample with a per-sample seed
// Both are shared handles: copies refer to the same open plugin objects, closed with the last copy,
// and keep the plugin's shared object loaded. Their calls are safe from several threads at once.
// Failures throw kiln::Error carrying the plugin's own message; the try_* forms return the
// status instead, for worker threads that must not throw and must not allocate.
//
// Decoding and transforming write into buffers the caller owns (SampleBuffer, PipelineScratch),
// one set per thread: they grow when a sample needs more room and are reused after that, so
// steady-state decoding allocates nothing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/core/rng.h"
#include "kiln/core/shape.h"
#include "kiln/data/plugin.h"

namespace kiln::data {

// A growable byte buffer (64-byte aligned) for one decoded or transformed sample.
class SampleBuffer {
public:
    void* data() { return bytes_.get(); }
    size_t capacity() const { return capacity_; }
    void reserve(size_t bytes);  // grows (dropping the contents) when bytes > capacity()

private:
    struct Free {
        void operator()(std::byte* p) const;
    };
    std::unique_ptr<std::byte, Free> bytes_;
    size_t capacity_ = 0;
};

// The shape of a kiln_array as a Shape ({H, W, C} for u8 images).
Shape array_shape(const kiln_array& a);
// Bytes of a kiln_array's data.
size_t array_bytes(const kiln_array& a);
// "u8 [28, 28, 1]"
std::string array_description(const kiln_array& a);

// The seed a sample's transforms draw from: a hash of (run seed, epoch, dataset index), so a
// sample's augmentation depends on nothing else (not the thread, the batch or the order).
inline uint64_t sample_seed(uint64_t run_seed, int64_t epoch, int64_t index) {
    return splitmix64(splitmix64(splitmix64(run_seed) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(index));
}
// Step k of a pipeline gets its own stream, so two random steps never draw the same numbers.
inline uint64_t step_seed(uint64_t sample_seed, size_t step) { return splitmix64(sample_seed + step); }

// Turns a plugin status into the matching kiln::Error code.
Errc errc_of(kiln_status s);

class Dataset {
public:
    // Opens a dataset through a plugin's API (of a plugin built for `abi_version`). `plugin_name`
    // prefixes messages; `library` (may be null) is kept alive as long as the dataset, so the
    // plugin's code stays loaded. What the plugin reports — length, classes, sample shape — is
    // checked here against kiln's limits; each sample it delivers later, in try_get.
    static Dataset open(const kiln_dataset_api& api, std::string plugin_name, std::string_view config,
                        std::shared_ptr<const void> library = {}, uint32_t abi_version = KILN_PLUGIN_ABI_VERSION);

    const std::string& plugin_name() const;
    const std::string& config() const;
    std::string spec() const;  // "<plugin>:<config>"

    int64_t size() const;
    int32_t num_classes() const;  // 0 for regression data
    std::string_view class_name(int32_t c) const;
    std::vector<std::string> class_names() const;
    // What the plugin says every sample looks like (0 in dimensions that vary); data is null.
    kiln_array sample_shape() const;
    // The plugin's notes on the dataset (files left out and why), a line each; empty for none.
    const std::vector<std::string>& notes() const;
    // Whether the configuration asks to skip undecodable samples ("on_error=skip"); the
    // DataLoader follows it unless told otherwise.
    bool config_skips_bad_samples() const;

    // Decodes sample i into buf (growing it when the plugin asks) and returns a view of it.
    // Throws Error with the plugin's message; a sample the plugin cannot decode is Errc::format.
    kiln_array get(int64_t i, SampleBuffer& buf, int64_t& label) const;
    // The same without throwing or allocating (except to grow buf): the plugin's status, with its
    // message in err on failure.
    kiln_status try_get(int64_t i, SampleBuffer& buf, kiln_array& out, int64_t& label, char* err, size_t err_size) const;

    const kiln_dataset_api& api() const;
    kiln_dataset* handle() const;

private:
    struct Handle;
    explicit Dataset(std::shared_ptr<const Handle> h) : h_(std::move(h)) {}
    std::shared_ptr<const Handle> h_;
};

// Two ping-pong buffers for a pipeline's intermediate results, owned by one thread.
struct PipelineScratch {
    SampleBuffer buffers[2];
};

class TransformPipeline {
public:
    TransformPipeline() = default;  // no steps: apply() returns its input

    // Appends a step created through a transform's API with the given config ("" for none).
    // Throws Error with the transform's message if create fails.
    void add(const kiln_transform_api& api, std::string_view config, std::shared_ptr<const void> library = {});

    size_t size() const { return steps_.size(); }
    bool empty() const { return steps_.empty(); }
    // The pipeline as text in the grammar of kiln/data/README.md ("resize=64;to_tensor").
    std::string str() const;

    // Runs every step on `in`, step k with seed step_seed(seed, k); the result lives in `scratch`
    // (or is `in` itself for an empty pipeline). Throws Error naming the step that failed.
    kiln_array apply(const kiln_array& in, PipelineScratch& scratch, uint64_t seed) const;
    kiln_status try_apply(const kiln_array& in, PipelineScratch& scratch, uint64_t seed, kiln_array& out, char* err,
                          size_t err_size) const;

private:
    struct Step;
    std::vector<std::shared_ptr<const Step>> steps_;
};

}  // namespace kiln::data
