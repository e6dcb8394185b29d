// Evaluation metrics for classifiers, accumulated batch by batch without allocating:
//   ConfusionMatrix          counts[true][predicted]; accuracy, per-class precision/recall/F1, macro averages
//   LossMeter                the mean loss over every sample seen
//   MisclassifiedCollector   the first `capacity` wrong predictions with their softmax probabilities
//
//   kiln::train::ConfusionMatrix cm(10);
//   kiln::train::MisclassifiedCollector wrong(10, /*capacity=*/16);
//   kiln::train::LossMeter loss;
//   for (each batch of n samples) {
//       cm.add_logits(logits, labels);                 // logits: n × 10 floats, row-major
//       wrong.add_logits(logits, labels, indices);     // indices: the samples' dataset indices
//       loss.add(batch_mean_loss, n);
//   }
//   cm.accuracy(), cm.f1(3), cm.macro_f1(), loss.mean(), wrong[0].probabilities
//   top_k(probabilities, 3)                           // the three likeliest classes
//
// Conventions are scikit-learn's (precision_recall_fscore_support, zero_division=0):
// - precision = tp / (tp + fp), recall = tp / (tp + fn), F1 = 2·tp / (2·tp + fp + fn) (the
//   harmonic mean of the two); a ratio whose denominator is 0 is 0.
// - macro averages are the unweighted mean over the classes that occur among the labels or the
//   predictions (sklearn's default when `labels` is not given); a class that occurs in neither is
//   left out. Nothing seen: 0.
// - argmax of logits is the first largest value; a NaN counts as larger than any number (as
//   torch.argmax), so a row with a NaN predicts its first NaN.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace kiln::train {

// Index of the first largest value of a non-empty row (NaN counts as the largest).
int64_t argmax(std::span<const float> row);

// Softmax of one row, computed stably (the row's maximum is subtracted before exp), into `out`
// (same size as `logits`; may be the same memory).
void softmax(std::span<const float> logits, std::span<float> out);

// The indices of the k largest values (all of them if k ≥ size), largest first; equal values in
// index order. For kiln-infer's top-k classes of one softmax row.
std::vector<int64_t> top_k(std::span<const float> values, size_t k);

class ConfusionMatrix {
public:
    // Error(invalid_argument) unless num_classes ≥ 1.
    explicit ConfusionMatrix(int32_t num_classes);

    int32_t num_classes() const { return classes_; }

    // Counts n (label, prediction) pairs. A size mismatch or a value outside 0..num_classes−1 is
    // Error(invalid_argument) naming the position and value; then nothing of the batch is counted.
    void add(std::span<const int64_t> labels, std::span<const int64_t> predictions);
    // The same with the predictions the argmax of each row of logits (labels.size() rows of
    // num_classes values, row-major).
    void add_logits(std::span<const float> logits, std::span<const int64_t> labels);
    void reset();

    int64_t count(int32_t true_class, int32_t predicted_class) const;
    const std::vector<int64_t>& counts() const { return counts_; }  // row-major, [true][predicted]
    int64_t total() const { return total_; }
    int64_t support(int32_t c) const;    // samples whose label is c (row sum)
    int64_t predicted(int32_t c) const;  // samples predicted as c (column sum)

    double accuracy() const;  // trace / total; 0 when empty
    double precision(int32_t c) const;
    double recall(int32_t c) const;
    double f1(int32_t c) const;
    double macro_precision() const;
    double macro_recall() const;
    double macro_f1() const;

private:
    void check_class(int32_t c, const char* what) const;
    template <class Score> double macro(Score score) const;

    int32_t classes_;
    std::vector<int64_t> counts_;
    int64_t total_ = 0;
};

// The mean of per-batch mean losses weighted by batch size: the mean over every sample.
class LossMeter {
public:
    void add(double batch_mean, int64_t samples);  // Error(invalid_argument) if samples < 0
    double mean() const { return samples_ > 0 ? sum_ / double(samples_) : 0.0; }
    int64_t samples() const { return samples_; }
    void reset() { sum_ = 0.0, samples_ = 0; }

private:
    double sum_ = 0.0;
    int64_t samples_ = 0;
};

// One wrong prediction; `probabilities` (softmax of its logits, num_classes values) points into
// the collector and stays valid until the collector is reset or destroyed.
struct Misclassified {
    int64_t index = 0;  // the caller's index of the sample (e.g. its dataset index)
    int64_t label = 0;
    int64_t prediction = 0;
    std::span<const float> probabilities;
};

// Keeps the first `capacity` misclassified samples in the order they are added, and counts all of
// them. All memory is allocated at construction.
class MisclassifiedCollector {
public:
    // Error(invalid_argument) unless num_classes ≥ 1.
    MisclassifiedCollector(int32_t num_classes, size_t capacity);
    MisclassifiedCollector(const MisclassifiedCollector&) = delete;  // samples point into it
    MisclassifiedCollector& operator=(const MisclassifiedCollector&) = delete;

    // labels.size() rows of num_classes logits, with the samples' indices (same size as labels).
    // Sizes that do not fit, or a label outside the classes, are Error(invalid_argument).
    void add_logits(std::span<const float> logits, std::span<const int64_t> labels, std::span<const int64_t> indices);
    void reset();

    size_t size() const { return kept_.size(); }  // ≤ capacity
    size_t capacity() const { return capacity_; }
    int64_t seen() const { return seen_; }  // every misclassified sample added, kept or not
    Misclassified operator[](size_t k) const;

private:
    struct Kept {
        int64_t index, label, prediction;
    };
    int32_t classes_;
    size_t capacity_;
    std::vector<Kept> kept_;
    std::vector<float> probabilities_;  // capacity × num_classes
    int64_t seen_ = 0;
};

}  // namespace kiln::train
