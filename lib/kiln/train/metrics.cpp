#include "kiln/train/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "kiln/core/error.h"

namespace kiln::train {

namespace {

double ratio(int64_t num, int64_t den) { return den > 0 ? double(num) / double(den) : 0.0; }

void check_labels(std::span<const int64_t> labels, int32_t classes, const char* who) {
    for (size_t i = 0; i < labels.size(); ++i)
        if (labels[i] < 0 || labels[i] >= classes)
            fail(Errc::invalid_argument, std::string(who) + ": label " + std::to_string(labels[i]) + " at position " +
                                             std::to_string(i) + " is outside the " + std::to_string(classes) +
                                             " classes");
}

void check_logits(std::span<const float> logits, size_t rows, int32_t classes, const char* who) {
    if (logits.size() != rows * size_t(classes))
        fail(Errc::invalid_argument, std::string(who) + ": " + std::to_string(logits.size()) + " logits for " +
                                         std::to_string(rows) + " labels of " + std::to_string(classes) +
                                         " classes (need labels × classes)");
}

}  // namespace

int64_t argmax(std::span<const float> row) {
    size_t best = 0;
    for (size_t i = 1; i < row.size() && !std::isnan(row[best]); ++i)
        if (std::isnan(row[i]) || row[i] > row[best]) best = i;
    return int64_t(best);
}

void softmax(std::span<const float> logits, std::span<float> out) {
    if (logits.empty()) return;
    const float max = *std::max_element(logits.begin(), logits.end());
    double total = 0.0;
    for (size_t i = 0; i < logits.size(); ++i) total += out[i] = std::exp(logits[i] - max);
    for (float& p : out) p = float(p / total);
}

std::vector<int64_t> top_k(std::span<const float> values, size_t k) {
    std::vector<int64_t> order(values.size());
    std::iota(order.begin(), order.end(), int64_t(0));
    k = std::min(k, order.size());
    std::partial_sort(order.begin(), order.begin() + std::ptrdiff_t(k), order.end(), [&](int64_t a, int64_t b) {
        return values[size_t(a)] > values[size_t(b)] || (values[size_t(a)] == values[size_t(b)] && a < b);
    });
    order.resize(k);
    return order;
}

// ---- ConfusionMatrix ----

ConfusionMatrix::ConfusionMatrix(int32_t num_classes) : classes_(num_classes) {
    if (num_classes < 1)
        fail(Errc::invalid_argument, "ConfusionMatrix: needs at least 1 class, got " + std::to_string(num_classes));
    counts_.assign(size_t(num_classes) * size_t(num_classes), 0);
}

void ConfusionMatrix::add(std::span<const int64_t> labels, std::span<const int64_t> predictions) {
    if (labels.size() != predictions.size())
        fail(Errc::invalid_argument, "ConfusionMatrix::add: " + std::to_string(labels.size()) + " labels but " +
                                         std::to_string(predictions.size()) + " predictions");
    check_labels(labels, classes_, "ConfusionMatrix::add");
    for (size_t i = 0; i < predictions.size(); ++i)
        if (predictions[i] < 0 || predictions[i] >= classes_)
            fail(Errc::invalid_argument, "ConfusionMatrix::add: prediction " + std::to_string(predictions[i]) +
                                             " at position " + std::to_string(i) + " is outside the " +
                                             std::to_string(classes_) + " classes");
    for (size_t i = 0; i < labels.size(); ++i) ++counts_[size_t(labels[i] * classes_ + predictions[i])];
    total_ += int64_t(labels.size());
}

void ConfusionMatrix::add_logits(std::span<const float> logits, std::span<const int64_t> labels) {
    check_logits(logits, labels.size(), classes_, "ConfusionMatrix::add_logits");
    check_labels(labels, classes_, "ConfusionMatrix::add_logits");
    const size_t k = size_t(classes_);
    for (size_t i = 0; i < labels.size(); ++i)
        ++counts_[size_t(labels[i]) * k + size_t(argmax(logits.subspan(i * k, k)))];
    total_ += int64_t(labels.size());
}

void ConfusionMatrix::reset() {
    std::fill(counts_.begin(), counts_.end(), 0);
    total_ = 0;
}

void ConfusionMatrix::check_class(int32_t c, const char* what) const {
    if (c < 0 || c >= classes_)
        fail(Errc::invalid_argument, std::string("ConfusionMatrix::") + what + ": class " + std::to_string(c) +
                                         " is outside 0.." + std::to_string(classes_ - 1));
}

int64_t ConfusionMatrix::count(int32_t true_class, int32_t predicted_class) const {
    check_class(true_class, "count");
    check_class(predicted_class, "count");
    return counts_[size_t(true_class) * size_t(classes_) + size_t(predicted_class)];
}

int64_t ConfusionMatrix::support(int32_t c) const {
    check_class(c, "support");
    int64_t n = 0;
    for (int32_t p = 0; p < classes_; ++p) n += counts_[size_t(c) * size_t(classes_) + size_t(p)];
    return n;
}

int64_t ConfusionMatrix::predicted(int32_t c) const {
    check_class(c, "predicted");
    int64_t n = 0;
    for (int32_t t = 0; t < classes_; ++t) n += counts_[size_t(t) * size_t(classes_) + size_t(c)];
    return n;
}

double ConfusionMatrix::accuracy() const {
    int64_t correct = 0;
    for (int32_t c = 0; c < classes_; ++c) correct += counts_[size_t(c) * size_t(classes_ + 1)];
    return ratio(correct, total_);
}

double ConfusionMatrix::precision(int32_t c) const { return ratio(count(c, c), predicted(c)); }
double ConfusionMatrix::recall(int32_t c) const { return ratio(count(c, c), support(c)); }
double ConfusionMatrix::f1(int32_t c) const {
    // 2·tp / (2·tp + fp + fn), with fp + tp = predicted and fn + tp = support.
    return ratio(2 * count(c, c), predicted(c) + support(c));
}

template <class Score> double ConfusionMatrix::macro(Score score) const {
    double sum = 0.0;
    int32_t present = 0;
    for (int32_t c = 0; c < classes_; ++c)
        if (support(c) > 0 || predicted(c) > 0) sum += score(c), ++present;
    return present > 0 ? sum / present : 0.0;
}

double ConfusionMatrix::macro_precision() const { return macro([this](int32_t c) { return precision(c); }); }
double ConfusionMatrix::macro_recall() const { return macro([this](int32_t c) { return recall(c); }); }
double ConfusionMatrix::macro_f1() const { return macro([this](int32_t c) { return f1(c); }); }

// ---- LossMeter ----

void LossMeter::add(double batch_mean, int64_t samples) {
    if (samples < 0) fail(Errc::invalid_argument, "LossMeter::add: negative sample count " + std::to_string(samples));
    sum_ += batch_mean * double(samples);
    samples_ += samples;
}

// ---- MisclassifiedCollector ----

MisclassifiedCollector::MisclassifiedCollector(int32_t num_classes, size_t capacity)
    : classes_(num_classes), capacity_(capacity) {
    if (num_classes < 1)
        fail(Errc::invalid_argument, "MisclassifiedCollector: needs at least 1 class, got " + std::to_string(num_classes));
    kept_.reserve(capacity);
    probabilities_.resize(capacity * size_t(num_classes));
}

void MisclassifiedCollector::add_logits(std::span<const float> logits, std::span<const int64_t> labels,
                                        std::span<const int64_t> indices) {
    check_logits(logits, labels.size(), classes_, "MisclassifiedCollector::add_logits");
    if (indices.size() != labels.size())
        fail(Errc::invalid_argument, "MisclassifiedCollector::add_logits: " + std::to_string(indices.size()) +
                                         " indices for " + std::to_string(labels.size()) + " labels");
    check_labels(labels, classes_, "MisclassifiedCollector::add_logits");
    const size_t k = size_t(classes_);
    for (size_t i = 0; i < labels.size(); ++i) {
        const std::span<const float> row = logits.subspan(i * k, k);
        const int64_t prediction = argmax(row);
        if (prediction == labels[i]) continue;
        ++seen_;
        if (kept_.size() == capacity_) continue;
        softmax(row, std::span<float>(probabilities_).subspan(kept_.size() * k, k));
        kept_.push_back({indices[i], labels[i], prediction});
    }
}

void MisclassifiedCollector::reset() {
    kept_.clear();
    seen_ = 0;
}

Misclassified MisclassifiedCollector::operator[](size_t k) const {
    if (k >= kept_.size())
        fail(Errc::invalid_argument, "MisclassifiedCollector: sample " + std::to_string(k) + " of " +
                                         std::to_string(kept_.size()) + " kept");
    const size_t n = size_t(classes_);
    return {kept_[k].index, kept_[k].label, kept_[k].prediction,
            std::span<const float>(probabilities_).subspan(k * n, n)};
}

}  // namespace kiln::train
