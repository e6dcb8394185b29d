// Early stopping and "best epoch" tracking with skorch's semantics (skorch.callbacks.EarlyStopping):
// a score improves when it beats the dynamic threshold, which after each improvement is set to
// score − threshold·score (rel mode; score − threshold in abs mode; + for higher-is-better);
// an epoch that does not improve is a miss, an improvement resets the misses, and training stops
// once `patience` epochs in a row have missed.
#pragma once
#include <cstdint>
#include <string>

namespace kiln::train {

struct EarlyStopping {
    std::string monitor = "valid_loss";
    bool lower_is_better = true;
    int64_t patience = 5;
    double threshold = 1e-4;
    bool relative = true;  // threshold_mode 'rel' (skorch's default) or 'abs'

    // State (saved in checkpoints so a resumed run stops where the uninterrupted one would).
    int64_t misses = 0;
    double dynamic_threshold = 0;  // set by reset()

    void reset();
    // Takes the epoch's score; true when training should stop.
    bool update(double score);
};

// Whether a metric is better when lower: names ending in "loss" are, the others (accuracies) not.
bool lower_is_better(const std::string& metric);

}  // namespace kiln::train
