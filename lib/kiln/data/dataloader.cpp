#include "kiln/data/dataloader.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>
#include <numeric>

#include "kiln/core/limits.h"
#include "kiln/core/rng.h"

namespace kiln::data {

namespace {

constexpr size_t message_size = 1024;

void check(bool ok, const std::string& what) {
    if (!ok) fail(Errc::invalid_argument, "DataLoader: " + what);
}

// v / 255 in f32, exactly as torchvision's ToTensor computes it. Blocks of 16 with a fixed trip
// count let the compiler vectorise at -O2.
void u8_to_unit(const uint8_t* src, float* dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (size_t j = 0; j < 16; ++j) dst[i + j] = float(src[i + j]) / 255.0f;
    for (; i < n; ++i) dst[i] = float(src[i]) / 255.0f;
}

// The f32 shape a sample takes in the batch: u8 H×W×C images become C×H×W.
Shape batch_sample_shape(const kiln_array& a) {
    if (a.elem == KILN_U8 && a.rank == 3) return Shape{a.shape[2], a.shape[0], a.shape[1]};
    return array_shape(a);
}

bool same_shape(const Shape& want, const kiln_array& a) {
    if (a.elem == KILN_U8 && a.rank == 3)
        return want.rank == 3 && want[0] == a.shape[2] && want[1] == a.shape[0] && want[2] == a.shape[1];
    if (want.rank != a.rank) return false;
    for (int i = 0; i < a.rank; ++i)
        if (want[i] != a.shape[i]) return false;
    return true;
}

void write_sample(const kiln_array& a, float* dst) {
    if (a.elem == KILN_F32) {
        std::memcpy(dst, a.data, array_bytes(a));
        return;
    }
    const auto* src = static_cast<const uint8_t*>(a.data);
    if (a.rank != 3 || a.shape[2] == 1) {
        u8_to_unit(src, dst, array_bytes(a));
        return;
    }
    const int64_t hw = a.shape[0] * a.shape[1], c = a.shape[2];
    for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t i = 0; i < hw; ++i) dst[ch * hw + i] = float(src[i * c + ch]) / 255.0f;
}

float target_of(int64_t label) {
    uint32_t bits = static_cast<uint32_t>(label);
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

void fisher_yates(int64_t* p, int64_t n, Generator& rng) {
    for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[rng.below(uint64_t(i) + 1)]);
}

}  // namespace

// One batch buffer of the ring, with what the workers need to fill it.
struct DataLoader::Slot {
    std::vector<float> x;
    std::vector<int64_t> labels, indices;
    std::vector<float> targets;
    std::vector<uint8_t> bad;  // per position: left out (skipped)
    int64_t g = -1;            // the stream batch it holds
    int64_t epoch = 0, number = 0, size = 0, remaining = 0;
    // Failures, by position so the report does not depend on which worker saw them first.
    int64_t error_position = -1;
    Errc error_code = Errc::plugin;
    std::string error;
    std::vector<std::pair<int64_t, std::string>> warnings;
    int64_t n_bad = 0;
};

// Per-thread buffers: grown on the first samples, reused after.
struct DataLoader::Scratch {
    SampleBuffer sample;
    PipelineScratch pipeline;
    char err[message_size];
};

DataLoader::DataLoader(Dataset dataset, TransformPipeline pipeline, DataLoaderOptions options)
    : dataset_(std::move(dataset)), pipeline_(std::move(pipeline)), opt_(std::move(options)) {
    check(opt_.batch_size >= 1, "batch_size must be at least 1, not " + std::to_string(opt_.batch_size));
    check(opt_.workers >= 0 && opt_.workers <= 64, "workers must be 0 to 64, not " + std::to_string(opt_.workers));
    check(opt_.prefetch >= 1 && opt_.prefetch <= 16, "prefetch must be 1 to 16, not " + std::to_string(opt_.prefetch));
    const int64_t n = dataset_.size();  // at most limits::samples
    if (opt_.indices.empty()) {
        base_order_.resize(size_t(n));
        std::iota(base_order_.begin(), base_order_.end(), int64_t(0));
    } else {
        for (int64_t i : opt_.indices)
            check(i >= 0 && i < n, "index " + std::to_string(i) + " is outside " + dataset_.spec() + "'s " +
                                       std::to_string(n) + " samples");
        base_order_ = opt_.indices;
        opt_.indices.clear();
        opt_.indices.shrink_to_fit();
    }
    check(!base_order_.empty(), dataset_.spec() + " has no samples to load");
    const int64_t all = int64_t(base_order_.size()), ranks = opt_.shard.count, rank = opt_.shard.rank;
    check(ranks >= 1 && rank >= 0 && rank < ranks,
          "shard " + std::to_string(rank) + " of " + std::to_string(ranks) + ": expected 0 ≤ rank < count");
    const int64_t shard_size = opt_.shard.pad ? (all + ranks - 1) / ranks : (all - rank + ranks - 1) / ranks;
    check(shard_size > 0, dataset_.spec() + ": " + std::to_string(all) + " samples leave shard " + std::to_string(rank) + " of " +
                              std::to_string(ranks) + " empty");
    shuffled_ = base_order_;
    order_.resize(size_t(shard_size));
    skip_bad_ = opt_.on_bad_sample == OnBadSample::skip ||
                (opt_.on_bad_sample == OnBadSample::from_config && dataset_.config_skips_bad_samples());
    classes_ = dataset_.num_classes();
    regression_ = classes_ == 0;
    if (!opt_.warn) opt_.warn = [](const std::string& m) { std::fprintf(stderr, "warning: %s\n", m.c_str()); };
    const int64_t total = size();
    num_batches_ = opt_.drop_last ? total / opt_.batch_size : (total + opt_.batch_size - 1) / opt_.batch_size;
    chunk_ = std::max<int64_t>(1, opt_.batch_size / (4 * std::max(1, opt_.workers)));

    // The batch shape: the first sample that decodes, through the pipeline.
    own_scratch_ = std::make_unique<Scratch>();
    Scratch& s = *own_scratch_;
    for (int64_t k = 0;; ++k) {
        const int64_t idx = base_order_[size_t(k)];
        kiln_array raw{}, out{};
        int64_t label = 0;
        kiln_status st = dataset_.try_get(idx, s.sample, raw, label, s.err, sizeof s.err);
        if (st == KILN_ERR_FORMAT && skip_bad_ && k + 1 < total) continue;
        if (st != KILN_OK) fail(errc_of(st), std::string(s.err) + " (sample " + std::to_string(idx) + ")");
        st = pipeline_.try_apply(raw, s.pipeline, sample_seed(opt_.seed, 0, idx), out, s.err, sizeof s.err);
        if (st != KILN_OK)
            fail(errc_of(st), "sample " + std::to_string(idx) + " of " + dataset_.spec() + ": " + s.err);
        sample_shape_ = batch_sample_shape(out);
        break;
    }
    sample_numel_ = sample_shape_.numel();  // at most limits::sample_bytes: the plugin's array was checked

    const int n_slots = opt_.workers == 0 ? 1 : opt_.prefetch + 1;
    int64_t batch_bytes = 0;
    if (!limits::mul(opt_.batch_size, sample_numel_ * int64_t(sizeof(float)), batch_bytes) || batch_bytes > limits::batch_bytes)
        fail(Errc::invalid_argument, "DataLoader: a batch of " + limits::with_commas(opt_.batch_size) + " samples of shape " +
                                         sample_shape_.str() + " would take more than kiln's limit of " +
                                         limits::with_commas(limits::batch_bytes) + " bytes; use a smaller batch");
    const auto b = size_t(opt_.batch_size);
    try {
        slots_.resize(size_t(n_slots));
        for (Slot& slot : slots_) {
            slot.x.resize(b * size_t(sample_numel_));
            slot.labels.resize(b);
            slot.indices.resize(b);
            slot.bad.resize(b);
            if (regression_) slot.targets.resize(b);
        }
    } catch (const std::bad_alloc&) {
        fail(Errc::invalid_argument, "DataLoader: cannot allocate " + std::to_string(n_slots) + " buffers of " +
                                         limits::with_commas(batch_bytes) + " bytes for batches of " +
                                         limits::with_commas(opt_.batch_size) + " samples of shape " + sample_shape_.str() +
                                         "; use a smaller batch (or fewer prefetched batches)");
    }
    try {
        for (int w = 0; w < opt_.workers; ++w) threads_.emplace_back([this] { worker_loop(); });
    } catch (...) {  // the destructor will not run: stop the threads already started
        stop_workers();
        throw;
    }
}

void DataLoader::stop_workers() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
        ++generation_;
    }
    work_cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
}

DataLoader::~DataLoader() { stop_workers(); }

Shape DataLoader::batch_shape() const {
    Shape s;
    s.push_back(opt_.batch_size);
    for (int i = 0; i < sample_shape_.rank; ++i) s.push_back(sample_shape_[i]);
    return s;
}

int64_t DataLoader::batch_length(int64_t number) const {
    return std::min(opt_.batch_size, size() - number * opt_.batch_size);
}

bool DataLoader::at_boundary() const { return next_g_ > 0 && next_g_ % num_batches_ == 0 && !boundary_done_; }

int64_t DataLoader::epoch() const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (num_batches_ == 0) return epoch0_;
    return epoch_of(at_boundary() ? next_g_ - 1 : next_g_);
}

int64_t DataLoader::skipped() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return skipped_;
}

// The sample order of `epoch` (called with the lock held; claims move forward, so the order of
// an earlier epoch is never needed again once a later one is prepared).
void DataLoader::prepare_order(int64_t epoch) {
    if (order_epoch_ == epoch) return;
    std::copy(base_order_.begin(), base_order_.end(), shuffled_.begin());
    if (opt_.shuffle) {
        Generator rng(splitmix64(opt_.seed) ^ splitmix64(static_cast<uint64_t>(epoch)));
        fisher_yates(shuffled_.data(), int64_t(shuffled_.size()), rng);
    }
    // This shard: positions rank, rank + count, … of the order, padded by wrapping around.
    for (size_t k = 0; k < order_.size(); ++k)
        order_[k] = shuffled_[(size_t(opt_.shard.rank) + k * size_t(opt_.shard.count)) % shuffled_.size()];
    order_epoch_ = epoch;
}

void DataLoader::start_batch(Slot& slot, int64_t g) {
    slot.g = g;
    slot.epoch = epoch_of(g);
    slot.number = g % num_batches_;
    slot.size = batch_length(slot.number);
    slot.remaining = slot.size;
    slot.error_position = -1;
    slot.error.clear();
    slot.warnings.clear();
    slot.n_bad = 0;
    prepare_order(slot.epoch);
    std::copy_n(order_.begin() + slot.number * opt_.batch_size, slot.size, slot.indices.begin());
    std::fill_n(slot.bad.begin(), slot.size, uint8_t(0));
}

void DataLoader::record(Slot& slot, uint64_t generation, int64_t position, bool fatal, Errc code,
                        const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (generation != generation_) return;  // work that set_epoch dropped
    if (!fatal) {
        slot.bad[size_t(position)] = 1;
        slot.warnings.emplace_back(position, message);
    } else if (slot.error_position < 0 || position < slot.error_position) {
        slot.error_position = position;
        slot.error_code = code;
        slot.error = message;
    }
}

void DataLoader::fill(Slot& slot, const Dest& dest, int64_t begin, int64_t end, Scratch& s, uint64_t generation) {
    for (int64_t p = begin; p < end; ++p) {
        const int64_t idx = slot.indices[size_t(p)];
        kiln_array raw{}, out{};
        int64_t label = 0;
        kiln_status st = dataset_.try_get(idx, s.sample, raw, label, s.err, sizeof s.err);
        if (st != KILN_OK) {
            const bool skip = st == KILN_ERR_FORMAT && skip_bad_;
            record(slot, generation, p, !skip, errc_of(st),
                   skip ? "skipped sample " + std::to_string(idx) + ": " + s.err
                        : std::string(s.err) + " (sample " + std::to_string(idx) + ")");
            continue;
        }
        if (!regression_ && (label < 0 || label >= classes_)) {  // a broken dataset, never skipped
            record(slot, generation, p, true, Errc::format,
                   dataset_.spec() + ": sample " + std::to_string(idx) + " has label " + std::to_string(label) +
                       ", outside its " + std::to_string(classes_) + " classes (0.." + std::to_string(classes_ - 1) + ")");
            continue;
        }
        st = pipeline_.try_apply(raw, s.pipeline, sample_seed(opt_.seed, slot.epoch, idx), out, s.err, sizeof s.err);
        if (st != KILN_OK) {
            record(slot, generation, p, true, errc_of(st),
                   "sample " + std::to_string(idx) + " of " + dataset_.spec() + ": " + s.err);
            continue;
        }
        if (!same_shape(sample_shape_, out)) {
            record(slot, generation, p, true, Errc::shape_mismatch,
                   "sample " + std::to_string(idx) + " of " + dataset_.spec() + " has shape " +
                       batch_sample_shape(out).str() + " after the pipeline, the batch needs " + sample_shape_.str() +
                       " (the first sample's); add resize/center_crop to the pipeline");
            continue;
        }
        write_sample(out, dest.x + p * sample_numel_);
        if (dest.labels) dest.labels[p] = label;
        if (dest.targets && regression_) dest.targets[p] = target_of(label);
    }
}

void DataLoader::worker_loop() {
    // Sized like the constructor's after the first sample, so a worker does not allocate later
    // (when samples keep their size).
    Scratch s;
    try {
        s.sample.reserve(own_scratch_->sample.capacity());
        for (int k = 0; k < 2; ++k) s.pipeline.buffers[k].reserve(own_scratch_->pipeline.buffers[k].capacity());
    } catch (const std::bad_alloc&) {  // fill() grows them as needed and reports a failure there
    }
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        work_cv_.wait(lock, [&] {
            return stop_ || (!paused_ && num_batches_ > 0 && claim_g_ < next_g_ + opt_.prefetch);
        });
        if (stop_) return;
        Slot& slot = slots_[size_t(claim_g_ % int64_t(slots_.size()))];
        if (claim_pos_ == 0) start_batch(slot, claim_g_);
        const int64_t begin = claim_pos_, end = std::min(begin + chunk_, slot.size);
        claim_pos_ = end;
        if (end == slot.size) ++claim_g_, claim_pos_ = 0;
        const uint64_t generation = generation_;
        ++active_;
        lock.unlock();
        Dest dest{slot.x.data(), slot.labels.data(), regression_ ? slot.targets.data() : nullptr};
        try {
            fill(slot, dest, begin, end, s, generation);
        } catch (const std::exception& e) {  // e.g. out of memory growing a buffer
            record(slot, generation, begin, true, Errc::plugin, dataset_.spec() + ": " + e.what());
        }
        lock.lock();
        --active_;
        if (generation == generation_) {
            slot.remaining -= end - begin;
            if (slot.remaining == 0) ready_cv_.notify_all();
        }
        if (active_ == 0) idle_cv_.notify_all();
    }
}

void DataLoader::set_epoch(int64_t e) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (num_batches_ == 0) {
        epoch0_ = e;
        return;
    }
    if (next_g_ % num_batches_ == 0 && epoch_of(next_g_) == e) {  // already at its start
        boundary_done_ = true;
        return;
    }
    paused_ = true;
    ++generation_;
    idle_cv_.wait(lock, [&] { return active_ == 0; });
    for (Slot& slot : slots_) slot.g = -1;
    epoch0_ = e;
    next_g_ = claim_g_ = claim_pos_ = 0;
    boundary_done_ = false;
    paused_ = false;
    lock.unlock();
    work_cv_.notify_all();
}

// Waits until stream batch next_g_ is complete (or decodes it here without workers), hands it
// out and returns its slot; nullptr at an epoch boundary.
DataLoader::Slot* DataLoader::wait_for_next() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (num_batches_ == 0) return nullptr;
    if (at_boundary()) {
        boundary_done_ = true;
        return nullptr;
    }
    const int64_t g = next_g_;
    Slot& slot = slots_[size_t(g % int64_t(slots_.size()))];
    if (threads_.empty()) {
        start_batch(slot, g);
        const uint64_t generation = generation_;
        lock.unlock();
        fill(slot, Dest{slot.x.data(), slot.labels.data(), regression_ ? slot.targets.data() : nullptr}, 0, slot.size,
             *own_scratch_, generation);
        lock.lock();
    } else {
        ready_cv_.wait(lock, [&] { return slot.g == g && slot.remaining == 0; });
    }
    next_g_ = g + 1;
    boundary_done_ = false;
    lock.unlock();
    work_cv_.notify_all();  // the slot before this one is free again
    return &slot;
}

// Reports a finished batch's problems and closes the gaps skipped samples left; returns the
// number of samples left. The slot is the consumer's now: no worker touches it.
int64_t DataLoader::finish(Slot& slot, const Dest& dest) {
    if (slot.error_position >= 0) fail(slot.error_code, slot.error);
    if (slot.warnings.empty()) return slot.size;
    std::sort(slot.warnings.begin(), slot.warnings.end());
    for (const auto& w : slot.warnings) opt_.warn(w.second);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        skipped_ += int64_t(slot.warnings.size());
    }
    int64_t kept = 0;
    for (int64_t p = 0; p < slot.size; ++p) {
        if (slot.bad[size_t(p)]) continue;
        if (kept != p) {
            std::memmove(dest.x + kept * sample_numel_, dest.x + p * sample_numel_, size_t(sample_numel_) * sizeof(float));
            if (dest.labels) dest.labels[kept] = dest.labels[p];
            if (dest.targets) dest.targets[kept] = dest.targets[p];
            slot.indices[size_t(kept)] = slot.indices[size_t(p)];
        }
        ++kept;
    }
    slot.warnings.clear();
    slot.size = kept;
    return kept;
}

const Batch* DataLoader::next() {
    for (;;) {
        Slot* done = wait_for_next();
        if (!done) return nullptr;
        Slot& slot = *done;
        Dest dest{slot.x.data(), slot.labels.data(), regression_ ? slot.targets.data() : nullptr};
        if (finish(slot, dest) == 0) continue;  // every sample of the batch was skipped
        batch_ = Batch{slot.x.data(), slot.labels.data(), regression_ ? slot.targets.data() : nullptr,
                       slot.indices.data(), slot.size, slot.epoch, slot.number};
        return &batch_;
    }
}

int64_t DataLoader::next_into(float* x, int64_t* labels, float* targets) {
    if (!x) fail(Errc::invalid_argument, "DataLoader: next_into needs somewhere to put the samples (x is null)");
    if (!threads_.empty()) {
        const Batch* b = next();
        if (!b) return 0;
        std::memcpy(x, b->x, size_t(b->size * sample_numel_) * sizeof(float));
        if (labels) std::memcpy(labels, b->labels, size_t(b->size) * sizeof(int64_t));
        if (targets && b->targets) std::memcpy(targets, b->targets, size_t(b->size) * sizeof(float));
        return b->size;
    }
    // No workers: decode straight into the caller's memory.
    for (;;) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (num_batches_ == 0) return 0;
        if (at_boundary()) {
            boundary_done_ = true;
            return 0;
        }
        const int64_t g = next_g_++;
        boundary_done_ = false;
        Slot& slot = slots_[0];
        start_batch(slot, g);
        const uint64_t generation = generation_;
        lock.unlock();
        const Dest dest{x, labels, regression_ ? targets : nullptr};
        fill(slot, dest, 0, slot.size, *own_scratch_, generation);
        if (int64_t n = finish(slot, dest)) return n;
    }
}

std::vector<int64_t> random_permutation(int64_t n, uint64_t seed) {
    if (n < 0) fail(Errc::invalid_argument, "random_permutation: n must be ≥ 0, not " + std::to_string(n));
    std::vector<int64_t> p(static_cast<size_t>(n));
    std::iota(p.begin(), p.end(), int64_t(0));
    Generator rng(seed);
    fisher_yates(p.data(), n, rng);
    return p;
}

std::vector<std::vector<int64_t>> random_split(int64_t n, const std::vector<double>& sizes, uint64_t seed) {
    if (n < 0) fail(Errc::invalid_argument, "random_split: n must be ≥ 0, not " + std::to_string(n));
    if (sizes.empty()) fail(Errc::invalid_argument, "random_split: no sizes given");
    const double sum = std::accumulate(sizes.begin(), sizes.end(), 0.0);
    std::vector<int64_t> lengths;
    if (std::fabs(sum - 1.0) < 1e-9 && sum <= double(n)) {  // fractions, as torch decides
        for (double f : sizes) {
            if (!(f >= 0 && f <= 1)) fail(Errc::invalid_argument, "random_split: fraction " + std::to_string(f) + " is not in [0, 1]");
            lengths.push_back(static_cast<int64_t>(std::floor(double(n) * f)));
        }
        int64_t rest = n - std::accumulate(lengths.begin(), lengths.end(), int64_t(0));
        for (int64_t i = 0; i < rest; ++i) lengths[size_t(i) % lengths.size()] += 1;
    } else {
        for (double l : sizes) {
            if (!(l >= 0) || l != std::floor(l))
                fail(Errc::invalid_argument, "random_split: " + std::to_string(l) +
                                                 " is neither a whole length nor part of fractions summing to 1");
            lengths.push_back(static_cast<int64_t>(l));
        }
        const int64_t total = std::accumulate(lengths.begin(), lengths.end(), int64_t(0));
        if (total != n)
            fail(Errc::invalid_argument, "random_split: the lengths sum to " + std::to_string(total) + ", not to the " +
                                             std::to_string(n) + " samples (or give fractions summing to 1)");
    }
    const std::vector<int64_t> perm = random_permutation(n, seed);
    std::vector<std::vector<int64_t>> parts;
    int64_t at = 0;
    for (int64_t len : lengths) {
        parts.emplace_back(perm.begin() + at, perm.begin() + at + len);
        at += len;
    }
    return parts;
}

}  // namespace kiln::data
