#include "kiln/data/synthetic.h"

#include <cmath>
#include <numeric>
#include <string>

#include "kiln/core/error.h"
#include "kiln/core/rng.h"

namespace kiln::data {

namespace {

void require(bool ok, const std::string& what) {
    if (!ok) fail(Errc::invalid_argument, what);
}

// Fisher-Yates with an unbiased index draw: the same seed gives the same order everywhere.
std::vector<int64_t> permutation(int64_t n, Generator& rng) {
    std::vector<int64_t> p(static_cast<size_t>(n));
    std::iota(p.begin(), p.end(), int64_t(0));
    for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[rng.below(uint64_t(i) + 1)]);
    return p;
}

template <class Target> Samples<Target> take(const Samples<Target>& d, const int64_t* idx, int64_t n) {
    Samples<Target> out;
    out.n_features = d.n_features;
    out.x.reserve(static_cast<size_t>(n * d.n_features));
    out.y.reserve(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) {
        const float* row = d.x.data() + idx[k] * d.n_features;
        out.x.insert(out.x.end(), row, row + d.n_features);
        out.y.push_back(d.y[idx[k]]);
    }
    return out;
}

template <class Target> Samples<Target> shuffled(const Samples<Target>& d, Generator& rng) {
    std::vector<int64_t> p = permutation(d.size(), rng);
    return take(d, p.data(), d.size());
}

}  // namespace

Regression make_line(float weight, float bias, double start, double end, double step) {
    require(step > 0 && end >= start, "make_line: need step > 0 and end >= start");
    // As torch.arange: count and positions in double (0.02 steps give exactly 50 points on [0, 1));
    // y in float, as weight * X + bias on a float tensor: two roundings. The volatile product
    // keeps the compiler from fusing them into one FMA (GCC does at -O2 on FMA hardware), which
    // made y differ from PyTorch's in the last bit.
    int64_t n = static_cast<int64_t>(std::ceil((end - start) / step));
    Regression d;
    d.n_features = 1;
    for (int64_t i = 0; i < n; ++i) {
        float x = static_cast<float>(start + double(i) * step);
        d.x.push_back(x);
        const volatile float product = weight * x;
        d.y.push_back(product + bias);
    }
    return d;
}

Classification make_circles(int64_t n_samples, float noise, float factor, uint64_t seed) {
    require(n_samples >= 0, "make_circles: n_samples must not be negative");
    require(factor >= 0 && factor < 1, "make_circles: factor must be in [0, 1), got " + std::to_string(factor));
    require(noise >= 0, "make_circles: noise must not be negative");
    Generator rng(seed);
    int64_t n_out = n_samples / 2, n_in = n_samples - n_out;
    Classification d;
    d.n_features = 2;
    auto circle = [&](int64_t n, float radius, int64_t label) {
        for (int64_t i = 0; i < n; ++i) {
            double angle = 2 * M_PI * double(i) / double(n);  // linspace(0, 2π, n, endpoint=False)
            d.x.push_back(static_cast<float>(radius * std::cos(angle)));
            d.x.push_back(static_cast<float>(radius * std::sin(angle)));
            d.y.push_back(label);
        }
    };
    circle(n_out, 1.0f, 0);
    circle(n_in, factor, 1);
    d = shuffled(d, rng);
    for (float& v : d.x) v += noise * rng.normal();
    return d;
}

Classification make_blobs(int64_t n_samples, int64_t n_features, int64_t centers, float cluster_std,
                          std::pair<float, float> center_box, uint64_t seed) {
    require(n_samples >= 0 && n_features > 0 && centers > 0,
            "make_blobs: need n_samples >= 0, n_features > 0 and centers > 0");
    require(cluster_std >= 0, "make_blobs: cluster_std must not be negative");
    require(center_box.first <= center_box.second, "make_blobs: center_box must be (low, high) with low <= high");
    Generator rng(seed);
    std::vector<float> c(static_cast<size_t>(centers * n_features));
    for (float& v : c) v = rng.uniform(center_box.first, center_box.second);
    Classification d;
    d.n_features = n_features;
    for (int64_t k = 0; k < centers; ++k) {
        int64_t n = n_samples / centers + (k < n_samples % centers ? 1 : 0);
        for (int64_t i = 0; i < n; ++i) {
            for (int64_t f = 0; f < n_features; ++f) d.x.push_back(c[k * n_features + f] + cluster_std * rng.normal());
            d.y.push_back(k);
        }
    }
    return shuffled(d, rng);
}

template <class Target>
std::pair<Samples<Target>, Samples<Target>> train_test_split(const Samples<Target>& data, double test_size,
                                                             uint64_t seed, bool shuffle) {
    require(test_size > 0 && test_size < 1, "train_test_split: test_size must be in (0, 1), got " + std::to_string(test_size));
    int64_t n = data.size();
    int64_t n_test = static_cast<int64_t>(std::ceil(test_size * double(n))), n_train = n - n_test;
    require(n_train > 0 && n_test > 0, "train_test_split: " + std::to_string(n) +
                                           " samples leave an empty train or test set at test_size " + std::to_string(test_size));
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), int64_t(0));
    if (shuffle) {
        Generator rng(seed);
        order = permutation(n, rng);
    }
    return {take(data, order.data(), n_train), take(data, order.data() + n_train, n_test)};
}

template std::pair<Regression, Regression> train_test_split(const Regression&, double, uint64_t, bool);
template std::pair<Classification, Classification> train_test_split(const Classification&, double, uint64_t, bool);

}  // namespace kiln::data
