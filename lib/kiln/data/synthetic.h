// Small synthetic data sets from the course, generated deterministically from a seed:
//   make_line     the straight line of the workflow chapter (y = 0.7x + 0.3 on [0, 1), step 0.02)
//   make_circles  two concentric circles (binary classification), like sklearn.datasets.make_circles
//   make_blobs    Gaussian clusters (multi-class), like sklearn.datasets.make_blobs
// and train_test_split to hold out a test set, like sklearn.model_selection.train_test_split.
// The shapes and distributions match scikit-learn's; the numbers differ (another random stream).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace kiln::data {

// n samples of n_features values each, with one target per sample: float for regression,
// int64 class indices for classification (torch.long, as CrossEntropyLoss wants).
template <class Target> struct Samples {
    int64_t n_features = 0;
    std::vector<float> x;       // [n, n_features], row-major
    std::vector<Target> y;      // [n]
    int64_t size() const { return static_cast<int64_t>(y.size()); }
};
using Regression = Samples<float>;
using Classification = Samples<int64_t>;

// x = start, start + step, ... (< end), one feature; y = weight·x + bias. No randomness.
Regression make_line(float weight = 0.7f, float bias = 0.3f, double start = 0.0, double end = 1.0, double step = 0.02);

// n_samples / 2 points on the unit circle (label 0) and the rest on a circle of radius factor
// (label 1), evenly spaced by angle, shuffled, then Gaussian noise of std `noise` on each coordinate.
Classification make_circles(int64_t n_samples = 1000, float noise = 0.03f, float factor = 0.8f, uint64_t seed = 42);

// `centers` centres drawn uniformly in center_box^n_features; samples split evenly among them (the
// first n_samples % centers get one more), each centre + N(0, cluster_std²) per feature, shuffled.
// The label is the index of the sample's centre.
Classification make_blobs(int64_t n_samples = 1000, int64_t n_features = 2, int64_t centers = 4,
                          float cluster_std = 1.5f, std::pair<float, float> center_box = {-10.0f, 10.0f},
                          uint64_t seed = 42);

// Splits into (train, test) with ceil(test_size · n) test samples, as scikit-learn does. With
// shuffle, samples are taken in a seeded random order; without, the first ones train.
template <class Target>
std::pair<Samples<Target>, Samples<Target>> train_test_split(const Samples<Target>& data, double test_size = 0.2,
                                                             uint64_t seed = 42, bool shuffle = true);

}  // namespace kiln::data
