// Learning-rate schedules against values worked out by hand from PyTorch's formulas, and early
// stopping against skorch's rules.
#define BOOST_TEST_MODULE train
#include <boost/test/unit_test.hpp>

#include "kiln/core/error.h"
#include "kiln/train/early_stopping.h"
#include "kiln/train/schedule.h"

using namespace kiln::train;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_SUITE(schedules)

BOOST_AUTO_TEST_CASE(constant_step_exponential) {
    Schedule s{.kind = Schedule::constant, .base_lr = 0.1};
    BOOST_TEST(lr_at(s, 0) == 0.1);
    BOOST_TEST(lr_at(s, 7) == 0.1);
    s = {.kind = Schedule::step, .base_lr = 0.1, .step_size = 2, .gamma = 0.5};  // StepLR(step_size=2, gamma=0.5)
    const double step[] = {0.1, 0.1, 0.05, 0.05, 0.025};
    for (int e = 0; e < 5; ++e) BOOST_TEST(lr_at(s, e) == step[e], tt::tolerance(1e-12));
    s = {.kind = Schedule::exponential, .base_lr = 0.1, .gamma = 0.9};
    const double expo[] = {0.1, 0.09, 0.081, 0.0729};
    for (int e = 0; e < 4; ++e) BOOST_TEST(lr_at(s, e) == expo[e], tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(cosine_annealing) {
    // CosineAnnealingLR(T_max=4): 0.1·(1 + cos(π·e/4))/2
    Schedule s{.kind = Schedule::cosine, .base_lr = 0.1, .t_max = 4};
    const double cosine[] = {0.1, 0.08535533905932738, 0.05, 0.014644660940672627, 0.0, 0.014644660940672627};
    for (int e = 0; e < 6; ++e) BOOST_TEST(lr_at(s, e) == cosine[e], tt::tolerance(1e-9));
    s.eta_min = 0.01;  // 0.01 + 0.09·(1 + cos(π/2))/2
    BOOST_TEST(lr_at(s, 2) == 0.055, tt::tolerance(1e-12));
    BOOST_TEST(lr_at(s, 4) == 0.01, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(linear_warmup_then_the_schedule) {
    // SequentialLR([LinearLR(start_factor=1/3, total_iters=2), CosineAnnealingLR(T_max=4)], milestones=[2])
    Schedule s{.kind = Schedule::cosine, .base_lr = 0.1, .t_max = 4, .warmup_epochs = 2};
    BOOST_TEST(lr_at(s, 0) == 0.1 / 3, tt::tolerance(1e-12));
    BOOST_TEST(lr_at(s, 1) == 0.2 / 3, tt::tolerance(1e-12));  // 1/3 + (2/3)·(1/2)
    BOOST_TEST(lr_at(s, 2) == 0.1, tt::tolerance(1e-12));
    BOOST_TEST(lr_at(s, 3) == 0.08535533905932738, tt::tolerance(1e-9));
    s.warmup_start_factor = 0.5;
    s.warmup_epochs = 4;
    BOOST_TEST(lr_at(s, 1) == 0.0625, tt::tolerance(1e-12));  // 0.5 + 0.5·1/4
}

BOOST_AUTO_TEST_CASE(bad_settings_and_names) {
    BOOST_CHECK_THROW(check(Schedule{.kind = Schedule::cosine, .base_lr = 0.1, .t_max = 0}), kiln::Error);
    BOOST_CHECK_THROW(check(Schedule{.base_lr = 0}), kiln::Error);
    BOOST_CHECK_THROW(check(Schedule{.kind = Schedule::cosine, .base_lr = 0.1, .eta_min = 0.2}), kiln::Error);
    BOOST_CHECK_NO_THROW(check(Schedule{.kind = Schedule::step, .base_lr = 0.1, .step_size = 3}));
    BOOST_TEST(parse_schedule_kind("cosine") == Schedule::cosine);
    BOOST_CHECK_THROW(parse_schedule_kind("onecycle"), kiln::Error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(early_stopping)

BOOST_AUTO_TEST_CASE(relative_threshold_lower_is_better) {
    EarlyStopping es{.monitor = "valid_loss", .patience = 2, .threshold = 1e-4};
    es.reset();
    BOOST_TEST(!es.update(1.0));       // improves on +inf; threshold becomes 0.9999
    BOOST_TEST(!es.update(0.99995));   // better, but not by 1e-4 relative: a miss
    BOOST_TEST(es.misses == 1);
    BOOST_TEST(!es.update(0.5));       // improves: misses reset
    BOOST_TEST(es.misses == 0);
    BOOST_TEST(es.dynamic_threshold == 0.5 - 0.5e-4, tt::tolerance(1e-15));
    BOOST_TEST(!es.update(0.6));
    BOOST_TEST(es.update(0.55));       // the second miss in a row: stop
}

BOOST_AUTO_TEST_CASE(absolute_threshold_higher_is_better) {
    EarlyStopping es{.monitor = "valid_acc", .lower_is_better = false, .patience = 1, .threshold = 0.01, .relative = false};
    es.reset();
    BOOST_TEST(!es.update(0.80));
    BOOST_TEST(!es.update(0.82));      // > 0.81
    BOOST_TEST(es.update(0.825));      // not above 0.83: with patience 1, stop
    BOOST_TEST(lower_is_better("valid_loss"));
    BOOST_TEST(lower_is_better("train_loss"));
    BOOST_TEST(!lower_is_better("valid_acc"));
}

BOOST_AUTO_TEST_SUITE_END()
