#include "kiln/train/early_stopping.h"

#include <cmath>
#include <limits>

namespace kiln::train {

void EarlyStopping::reset() {
    misses = 0;
    dynamic_threshold = lower_is_better ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

bool EarlyStopping::update(double score) {
    const bool improved = lower_is_better ? score < dynamic_threshold : score > dynamic_threshold;
    if (!improved) {
        ++misses;
    } else {
        misses = 0;
        const double change = relative ? threshold * score : threshold;
        dynamic_threshold = lower_is_better ? score - change : score + change;
    }
    return misses >= patience;
}

bool lower_is_better(const std::string& metric) {
    return metric.size() >= 4 && metric.compare(metric.size() - 4, 4, "loss") == 0;
}

}  // namespace kiln::train
