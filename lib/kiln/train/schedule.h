// Learning-rate schedules, stepped once per epoch (skorch's LRScheduler default), with PyTorch's
// closed forms. `epoch` counts from 0 (the first epoch trains at lr_at(s, 0)):
//   constant     base_lr
//   step         base_lr · gamma^⌊epoch / step_size⌋                        (StepLR)
//   exponential  base_lr · gamma^epoch                                      (ExponentialLR)
//   cosine       eta_min + (base_lr − eta_min)·(1 + cos(π·epoch / t_max))/2  (CosineAnnealingLR)
// With warmup_epochs = w > 0, epochs 0..w−1 ramp linearly from base_lr·warmup_start_factor towards
// base_lr (LinearLR(start_factor, 1.0, total_iters=w)), and the schedule above then runs on
// epoch − w (SequentialLR with milestones=[w]).
// The rate depends on the epoch alone, so resuming a run needs nothing but the epoch.
#pragma once
#include <cstdint>
#include <string>

namespace kiln::train {

struct Schedule {
    enum Kind { constant, step, exponential, cosine } kind = constant;
    double base_lr = 0.01;
    int64_t step_size = 1;  // step
    double gamma = 0.1;     // step, exponential
    int64_t t_max = 1;      // cosine
    double eta_min = 0.0;   // cosine
    int64_t warmup_epochs = 0;
    double warmup_start_factor = 1.0 / 3.0;  // LinearLR's default
};

// Throws Error(invalid_argument) for a setting outside its range (step_size, t_max < 1, …).
void check(const Schedule& s);
double lr_at(const Schedule& s, int64_t epoch);

// "constant", "step", ... and back; an unknown name throws Error(invalid_argument).
const char* schedule_name(Schedule::Kind k);
Schedule::Kind parse_schedule_kind(const std::string& name);

}  // namespace kiln::train
