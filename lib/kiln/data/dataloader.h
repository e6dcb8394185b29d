// DataLoader: turns a Dataset and a TransformPipeline into f32 batches [B, sample shape…] with
// i64 labels [B], decoded and transformed ahead of the consumer by worker threads.
//
//   DataLoaderOptions o;
//   o.batch_size = 128, o.shuffle = true, o.seed = 42;
//   DataLoader loader(plugins.open_dataset("idx:/usr/share/datasets/fashion-mnist"), plugins.pipeline(""), o);
//   for (int64_t epoch = 0; epoch < 5; ++epoch) {
//       loader.set_epoch(epoch);                       // reshuffles; a no-op when already there
//       while (const Batch* b = loader.next()) train(b->x, b->labels, b->size);
//   }
//
// - Order: batches come in order and hold the same samples, bit for bit, whatever the number of
//   workers. Epoch e's order is a permutation drawn from a Generator seeded with (seed, e);
//   sample i's transforms draw from sample_seed(seed, e, i) (kiln/data/dataset.h).
// - Memory: `prefetch + 1` batch buffers are allocated at construction (the consumer holds one,
//   workers fill the others); workers write each sample straight into its place in a batch
//   buffer. Each worker's decode and pipeline buffers grow on the first samples and are reused,
//   so steady-state iteration makes no heap allocation.
// - Prefetch: workers stay at most `prefetch` batches ahead of the last batch handed out, and keep
//   going across the end of an epoch into the next.
// - Shape: the batch takes the first sample's shape after the pipeline (u8 H×W×C images become
//   f32 C×H×W in [0, 1], as ToTensor does, when the pipeline does not end in a tensor); a later
//   sample of another shape is an error naming it and both shapes.
// - Bad samples: when the dataset's get() says KILN_ERR_FORMAT (a file that cannot be decoded)
//   and skipping is on, the sample is left out of its batch (which is then smaller), counted in
//   skipped(), and reported through `warn`; any other failure is an Error thrown from next().
// - Labels: a label outside the dataset's classes 0..C−1 is an Error naming the dataset, the
//   sample, the label and C, thrown by next() for its batch, which is never handed out (not
//   skipped: a dataset with such labels is broken, not one of its files).
// - Sizes a plugin gives are checked before they are used: a sample larger than
//   limits::sample_bytes or than the buffer it was given, and a batch past limits::batch_bytes,
//   are Errors (kiln/core/limits.h).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/core/shape.h"
#include "kiln/data/dataset.h"

namespace kiln::data {

enum class OnBadSample {
    from_config,  // skip when the dataset config says on_error=skip, else stop
    stop,         // an undecodable sample is an Error thrown from next()
    skip,         // left out of its batch with a warning
};

struct DataLoaderOptions {
    int64_t batch_size = 32;
    bool shuffle = false;
    bool drop_last = false;  // drop the last batch of an epoch when it is smaller than batch_size
    uint64_t seed = 0;       // shuffling and augmentation
    int workers = 2;         // decoding threads; 0 decodes on the thread that calls next()
    int prefetch = 3;        // batches decoded ahead of the consumer (1 to 16)
    std::vector<int64_t> indices;  // the dataset indices to load (e.g. one part of random_split); empty = all
    OnBadSample on_bad_sample = OnBadSample::from_config;
    // Data-parallel training: this process loads only its shard of each epoch, PyTorch's
    // DistributedSampler: the epoch's order (the same on every rank: same seed) padded with its
    // own first samples to a multiple of `count` when `pad`, then every count-th sample from
    // position `rank`. With batch_size = B / count, batch b of every rank is a disjoint part of
    // the samples that batch b of one process with batch size B holds; padded, every rank has the
    // same batches of the same sizes (a few samples trained twice per epoch); unpadded (an
    // evaluation), each sample is seen once and shards differ by at most one sample.
    struct Shard {
        int rank = 0, count = 1;
        bool pad = true;
    } shard;
    // Receives "skipped sample 17: <reason>" for each skipped sample, on the consumer's thread,
    // in order. Default: a line "warning: …" on stderr.
    std::function<void(const std::string&)> warn;
};

// A batch inside the loader: valid until the next call of next(), set_epoch() or the destructor.
struct Batch {
    const float* x = nullptr;         // [size, sample_shape…], row-major
    const int64_t* labels = nullptr;  // [size] class indices (or the plugin's raw label)
    const float* targets = nullptr;   // [size] regression targets when the dataset has no classes, else null
    const int64_t* indices = nullptr; // [size] the dataset index of each sample
    int64_t size = 0;                 // batch_size, or fewer for the last batch or after skips
    int64_t epoch = 0, number = 0;    // number: the batch's position in its epoch
};

class DataLoader {
public:
    // Reads and transforms the first sample to learn the batch shape (errors in the dataset or
    // pipeline configuration surface here), allocates the batch buffers and starts the workers.
    DataLoader(Dataset dataset, TransformPipeline pipeline, DataLoaderOptions options);
    ~DataLoader();
    DataLoader(const DataLoader&) = delete;
    DataLoader& operator=(const DataLoader&) = delete;

    const Dataset& dataset() const { return dataset_; }
    const Shape& sample_shape() const { return sample_shape_; }  // f32, after the pipeline
    Shape batch_shape() const;                                    // [batch_size, sample_shape…]
    int64_t size() const { return static_cast<int64_t>(order_.size()); }  // samples per epoch (of this shard)
    int64_t num_batches() const { return num_batches_; }                       // batches per epoch
    int64_t epoch() const;      // the epoch next() delivers from
    int64_t skipped() const;    // samples skipped so far (handed-out batches only)

    // Moves to the start of epoch e (its own shuffle). When the loader is already at the start
    // of e (just constructed, or the previous epoch was read to its end) batches already
    // prefetched are kept; otherwise prefetched work is dropped.
    void set_epoch(int64_t e);

    // The next batch, or nullptr once at the end of each epoch (the call after that starts the
    // following epoch). Throws Error when a sample of the batch failed.
    const Batch* next();

    // The same, delivered into caller-owned memory (e.g. a compiled program's input slots):
    // x holds batch_size × sample_shape().numel() floats, labels batch_size values, targets (may be
    // null; used for regression data) batch_size floats. Returns the number of samples, 0 at the
    // end of an epoch. With workers > 0 a finished batch is copied in (the workers cannot write
    // into memory the consumer is training on while they run ahead); with workers == 0 the
    // samples are decoded straight into it.
    int64_t next_into(float* x, int64_t* labels, float* targets = nullptr);

private:
    struct Slot;
    struct Scratch;
    struct Dest {
        float* x;
        int64_t* labels;
        float* targets;
    };

    int64_t epoch_of(int64_t g) const { return epoch0_ + g / num_batches_; }
    int64_t batch_length(int64_t number) const;
    bool at_boundary() const;
    void prepare_order(int64_t epoch);
    void start_batch(Slot& slot, int64_t g);
    void fill(Slot& slot, const Dest& dest, int64_t begin, int64_t end, Scratch& scratch, uint64_t generation);
    void record(Slot& slot, uint64_t generation, int64_t position, bool fatal, Errc code, const std::string& message);
    int64_t finish(Slot& slot, const Dest& dest);
    Slot* wait_for_next();
    void worker_loop();
    void stop_workers();

    Dataset dataset_;
    TransformPipeline pipeline_;
    DataLoaderOptions opt_;
    bool skip_bad_ = false;
    int32_t classes_ = 0;
    bool regression_ = false;  // no classes: labels are f32 targets
    Shape sample_shape_;
    int64_t sample_numel_ = 0;
    int64_t num_batches_ = 0;
    int64_t chunk_ = 1;
    std::vector<int64_t> base_order_, shuffled_, order_;  // the samples; an epoch's order; this shard's
    int64_t order_epoch_ = -1;

    std::vector<Slot> slots_;
    // Decodes on the consumer's thread (workers == 0); its sizes after the first sample preset the
    // workers' buffers.
    std::unique_ptr<Scratch> own_scratch_;
    Batch batch_;

    mutable std::mutex mutex_;
    std::condition_variable work_cv_, ready_cv_, idle_cv_;
    int64_t epoch0_ = 0;      // the epoch of stream batch 0
    int64_t next_g_ = 0;      // the stream batch next() hands out next
    int64_t claim_g_ = 0;     // the stream batch workers are claiming from
    int64_t claim_pos_ = 0;   // and the next sample position in it
    bool boundary_done_ = false;
    int active_ = 0;          // chunks being decoded
    bool paused_ = false, stop_ = false;
    uint64_t generation_ = 0; // bumped when prefetched work is dropped
    int64_t skipped_ = 0;
    std::vector<std::thread> threads_;
};

// Splits [0, n) into random disjoint parts, like torch.utils.data.random_split: `sizes` are
// either fractions summing to 1 (each part gets floor(n·f), the remainder going one by one to the
// first parts) or whole lengths summing to n. The permutation comes from a Generator seeded with
// `seed`, so a seed gives the same split on every run and machine.
std::vector<std::vector<int64_t>> random_split(int64_t n, const std::vector<double>& sizes, uint64_t seed);

// A permutation of [0, n) (Fisher-Yates over Generator(seed)).
std::vector<int64_t> random_permutation(int64_t n, uint64_t seed);

}  // namespace kiln::data
