#include "kiln/train/schedule.h"

#include <cmath>
#include <numbers>

#include "kiln/core/error.h"

namespace kiln::train {

void check(const Schedule& s) {
    auto need = [](bool ok, const std::string& what) {
        if (!ok) fail(Errc::invalid_argument, "learning-rate schedule: " + what);
    };
    need(s.base_lr > 0 && std::isfinite(s.base_lr), "the learning rate must be positive");
    need(s.step_size >= 1, "step_size must be at least 1");
    need(s.gamma > 0 && std::isfinite(s.gamma), "gamma must be positive");
    need(s.t_max >= 1, "t_max must be at least 1");
    need(s.eta_min >= 0 && s.eta_min <= s.base_lr, "eta_min must be in [0, the learning rate]");
    need(s.warmup_epochs >= 0, "warmup_epochs must not be negative");
    need(s.warmup_start_factor > 0 && s.warmup_start_factor <= 1, "the warm-up start factor must be in (0, 1]");
}

double lr_at(const Schedule& s, int64_t epoch) {
    if (epoch < s.warmup_epochs) {
        const double f = s.warmup_start_factor + (1.0 - s.warmup_start_factor) * double(epoch) / double(s.warmup_epochs);
        return s.base_lr * f;
    }
    const int64_t e = epoch - s.warmup_epochs;
    switch (s.kind) {
    case Schedule::constant: return s.base_lr;
    case Schedule::step: return s.base_lr * std::pow(s.gamma, double(e / s.step_size));
    case Schedule::exponential: return s.base_lr * std::pow(s.gamma, double(e));
    case Schedule::cosine:
        return s.eta_min + (s.base_lr - s.eta_min) * (1.0 + std::cos(std::numbers::pi * double(e) / double(s.t_max))) / 2.0;
    }
    return s.base_lr;
}

const char* schedule_name(Schedule::Kind k) {
    switch (k) {
    case Schedule::constant: return "constant";
    case Schedule::step: return "step";
    case Schedule::exponential: return "exponential";
    case Schedule::cosine: return "cosine";
    }
    return "?";
}

Schedule::Kind parse_schedule_kind(const std::string& name) {
    for (Schedule::Kind k : {Schedule::constant, Schedule::step, Schedule::exponential, Schedule::cosine})
        if (name == schedule_name(k)) return k;
    fail(Errc::invalid_argument, "unknown schedule '" + name + "' (known: constant, step, exponential, cosine)");
}

}  // namespace kiln::train
