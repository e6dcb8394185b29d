// kiln::train metrics against hand-worked confusion matrices and scikit-learn's documented
// examples (precision_recall_fscore_support, classification_report).
#define BOOST_TEST_MODULE train_metrics
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include "alloc_counter.h"
#include "kiln/core/error.h"
#include "kiln/train/metrics.h"

using kiln::train::ConfusionMatrix;
using kiln::train::LossMeter;
using kiln::train::MisclassifiedCollector;

namespace {

bool invalid_argument(const kiln::Error& e) { return e.code() == kiln::Errc::invalid_argument; }

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(a_three_class_matrix_worked_by_hand) {
    // true:  0 0 0 0 1 1 1 2 2 2
    // pred:  0 0 1 2 1 1 0 2 2 1
    //              pred 0  1  2
    //   true 0        2  1  1      support 4
    //   true 1        1  2  0      support 3
    //   true 2        0  1  2      support 3
    //   predicted     3  4  3
    ConfusionMatrix cm(3);
    cm.add(std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 2, 2, 2}, std::vector<int64_t>{0, 0, 1, 2, 1, 1, 0, 2, 2, 1});
    BOOST_TEST(cm.counts() == (std::vector<int64_t>{2, 1, 1, 1, 2, 0, 0, 1, 2}), boost::test_tools::per_element());
    BOOST_TEST(cm.total() == 10);
    BOOST_TEST(cm.support(0) == 4);
    BOOST_TEST(cm.predicted(1) == 4);
    BOOST_TEST(cm.accuracy() == 0.6, boost::test_tools::tolerance(1e-12));
    const auto tol = boost::test_tools::tolerance(1e-12);
    // class 0: tp 2, fp 1, fn 2 → P 2/3, R 1/2, F1 4/7;  class 1: tp 2, fp 2, fn 1 → 1/2, 2/3, 4/7
    // class 2: tp 2, fp 1, fn 1 → 2/3, 2/3, 2/3
    BOOST_TEST(cm.precision(0) == 2.0 / 3, tol);
    BOOST_TEST(cm.recall(0) == 0.5, tol);
    BOOST_TEST(cm.f1(0) == 4.0 / 7, tol);
    BOOST_TEST(cm.precision(1) == 0.5, tol);
    BOOST_TEST(cm.recall(1) == 2.0 / 3, tol);
    BOOST_TEST(cm.f1(1) == 4.0 / 7, tol);
    BOOST_TEST(cm.f1(2) == 2.0 / 3, tol);
    BOOST_TEST(cm.macro_precision() == (2.0 / 3 + 0.5 + 2.0 / 3) / 3, tol);
    BOOST_TEST(cm.macro_recall() == (0.5 + 2.0 / 3 + 2.0 / 3) / 3, tol);
    BOOST_TEST(cm.macro_f1() == (4.0 / 7 + 4.0 / 7 + 2.0 / 3) / 3, tol);
}

BOOST_AUTO_TEST_CASE(sklearn_precision_recall_fscore_support_example) {
    // y_true = [cat, dog, pig, cat, dog, pig], y_pred = [cat, pig, dog, cat, cat, dog]
    // average='macro' → (0.22…, 0.33…, 0.26…); average=None, labels=[pig, dog, cat] →
    // precision [0, 0, 0.667], recall [0, 0, 1], F1 [0, 0, 0.8], support [2, 2, 2].
    enum { cat, dog, pig };
    ConfusionMatrix cm(3);
    cm.add(std::vector<int64_t>{cat, dog, pig, cat, dog, pig}, std::vector<int64_t>{cat, pig, dog, cat, cat, dog});
    const auto tol = boost::test_tools::tolerance(1e-12);
    BOOST_TEST(cm.precision(pig) == 0.0);
    BOOST_TEST(cm.precision(dog) == 0.0);
    BOOST_TEST(cm.precision(cat) == 2.0 / 3, tol);
    BOOST_TEST(cm.recall(cat) == 1.0);
    BOOST_TEST(cm.f1(cat) == 0.8, tol);
    BOOST_TEST(cm.f1(dog) == 0.0);
    for (int c : {cat, dog, pig}) BOOST_TEST(cm.support(c) == 2);
    BOOST_TEST(cm.macro_precision() == 2.0 / 9, tol);
    BOOST_TEST(cm.macro_recall() == 1.0 / 3, tol);
    BOOST_TEST(cm.macro_f1() == 0.8 / 3, tol);
}

BOOST_AUTO_TEST_CASE(sklearn_classification_report_example) {
    // y_true = [0, 1, 2, 2, 2], y_pred = [0, 0, 2, 2, 1]: class 0 P 0.50 R 1.00 F1 0.67, class 1
    // 0.00 0.00 0.00, class 2 1.00 0.67 0.80; accuracy 0.60; macro avg 0.50 0.56 0.49.
    ConfusionMatrix cm(3);
    cm.add(std::vector<int64_t>{0, 1, 2, 2, 2}, std::vector<int64_t>{0, 0, 2, 2, 1});
    const auto tol = boost::test_tools::tolerance(1e-12);
    BOOST_TEST(cm.precision(0) == 0.5, tol);
    BOOST_TEST(cm.f1(0) == 2.0 / 3, tol);
    BOOST_TEST(cm.f1(2) == 0.8, tol);
    BOOST_TEST(cm.accuracy() == 0.6, tol);
    BOOST_TEST(cm.macro_precision() == 0.5, tol);
    BOOST_TEST(cm.macro_recall() == (1.0 + 0.0 + 2.0 / 3) / 3, tol);
    BOOST_TEST(std::round(cm.macro_f1() * 100) == 49);
}

BOOST_AUTO_TEST_CASE(zero_divisions_are_zero_and_absent_classes_leave_the_macro_average) {
    // Class 1 is never predicted (precision 0/0 → 0); class 3 occurs in neither labels nor
    // predictions, so the macro averages are over classes 0, 1, 2 only.
    ConfusionMatrix cm(4);
    cm.add(std::vector<int64_t>{0, 1, 2}, std::vector<int64_t>{0, 2, 2});
    BOOST_TEST(cm.precision(1) == 0.0);
    BOOST_TEST(cm.recall(1) == 0.0);
    BOOST_TEST(cm.f1(1) == 0.0);
    BOOST_TEST(cm.precision(3) == 0.0);
    BOOST_TEST(cm.f1(3) == 0.0);
    const auto tol = boost::test_tools::tolerance(1e-12);
    BOOST_TEST(cm.macro_precision() == (1.0 + 0.0 + 0.5) / 3, tol);
    BOOST_TEST(cm.macro_recall() == (1.0 + 0.0 + 1.0) / 3, tol);
    BOOST_TEST(cm.macro_f1() == (1.0 + 0.0 + 2.0 / 3) / 3, tol);

    const ConfusionMatrix empty(2);
    BOOST_TEST(empty.accuracy() == 0.0);
    BOOST_TEST(empty.macro_f1() == 0.0);
}

BOOST_AUTO_TEST_CASE(logits_count_their_argmax_first_maximum_and_nan_first) {
    ConfusionMatrix cm(3);
    // rows: argmax 1; a tie between 0 and 2 → 0; a NaN → its index 2
    const std::vector<float> logits{0.1f, 2.0f, -1.0f, 3.0f, 1.0f, 3.0f, 5.0f, 1.0f, NAN};
    cm.add_logits(logits, std::vector<int64_t>{1, 2, 2});
    BOOST_TEST(cm.count(1, 1) == 1);
    BOOST_TEST(cm.count(2, 0) == 1);
    BOOST_TEST(cm.count(2, 2) == 1);
    BOOST_TEST(cm.total() == 3);
    cm.reset();
    BOOST_TEST(cm.total() == 0);
    BOOST_TEST(cm.count(1, 1) == 0);
}

BOOST_AUTO_TEST_CASE(bad_batches_are_refused_whole) {
    ConfusionMatrix cm(3);
    BOOST_CHECK_EXCEPTION(cm.add(std::vector<int64_t>{0, 1}, std::vector<int64_t>{0}), kiln::Error, invalid_argument);
    BOOST_CHECK_EXCEPTION(cm.add(std::vector<int64_t>{0, 3}, std::vector<int64_t>{0, 0}), kiln::Error, invalid_argument);
    BOOST_CHECK_EXCEPTION(cm.add(std::vector<int64_t>{0, 1}, std::vector<int64_t>{0, -1}), kiln::Error, invalid_argument);
    BOOST_CHECK_EXCEPTION(cm.add_logits(std::vector<float>(5), std::vector<int64_t>{0, 1}), kiln::Error, invalid_argument);
    BOOST_TEST(cm.total() == 0);  // nothing of a refused batch was counted
    BOOST_CHECK_EXCEPTION(ConfusionMatrix(0), kiln::Error, invalid_argument);
    BOOST_CHECK_EXCEPTION((void)cm.count(3, 0), kiln::Error, invalid_argument);
    try {
        cm.add(std::vector<int64_t>{0, 7}, std::vector<int64_t>{0, 0});
    } catch (const kiln::Error& e) {
        BOOST_TEST(std::string(e.what()) == "ConfusionMatrix::add: label 7 at position 1 is outside the 3 classes");
    }
}

BOOST_AUTO_TEST_CASE(adding_batches_allocates_nothing) {
    ConfusionMatrix cm(10);
    MisclassifiedCollector wrong(10, 4);
    std::vector<float> logits(32 * 10);
    std::vector<int64_t> labels(32), indices(32);
    for (size_t i = 0; i < 32; ++i) logits[i * 10 + i % 10] = 1.0f, labels[i] = int64_t(i % 7), indices[i] = int64_t(i);
    const long before = kiln::testing::allocations();
    for (int batch = 0; batch < 10; ++batch) {
        cm.add_logits(logits, labels);
        wrong.add_logits(logits, labels, indices);
    }
    BOOST_TEST(kiln::testing::allocations() == before);
    BOOST_TEST(cm.total() == 320);
    BOOST_TEST(wrong.size() == 4u);
}

BOOST_AUTO_TEST_CASE(softmax_is_stable_and_sums_to_one) {
    const std::vector<float> logits{1000.0f, 1001.0f, 1002.0f};  // exp(1000) overflows a float
    std::vector<float> p(3);
    kiln::train::softmax(logits, p);
    const double e1 = std::exp(-1.0), e2 = std::exp(-2.0), z = 1 + e1 + e2;
    BOOST_TEST(p[0] == e2 / z, boost::test_tools::tolerance(1e-6));
    BOOST_TEST(p[1] == e1 / z, boost::test_tools::tolerance(1e-6));
    BOOST_TEST(p[2] == 1 / z, boost::test_tools::tolerance(1e-6));
    std::vector<float> same{-3.0f, -3.0f};
    kiln::train::softmax(same, same);  // in place
    BOOST_TEST(same[0] == 0.5f);
    BOOST_TEST(same[1] == 0.5f);
}

BOOST_AUTO_TEST_CASE(top_k_orders_by_value_then_index) {
    const std::vector<float> p{0.1f, 0.4f, 0.1f, 0.4f, 0.0f};
    BOOST_TEST(kiln::train::top_k(p, 3) == (std::vector<int64_t>{1, 3, 0}), boost::test_tools::per_element());
    BOOST_TEST(kiln::train::top_k(p, 9).size() == 5u);
    BOOST_TEST(kiln::train::top_k(p, 0).empty());
}

BOOST_AUTO_TEST_CASE(the_loss_meter_weighs_batches_by_size) {
    LossMeter m;
    BOOST_TEST(m.mean() == 0.0);
    m.add(1.0, 3);  // a batch of 3 with mean loss 1
    m.add(3.0, 1);  // a last batch of 1
    BOOST_TEST(m.mean() == 1.5);
    BOOST_TEST(m.samples() == 4);
    BOOST_CHECK_EXCEPTION(m.add(1.0, -1), kiln::Error, invalid_argument);
    m.reset();
    BOOST_TEST(m.samples() == 0);
}

BOOST_AUTO_TEST_CASE(the_collector_keeps_the_first_wrong_predictions_up_to_its_capacity) {
    MisclassifiedCollector wrong(3, 2);
    // indices 10..13: right, wrong (pred 0), wrong (pred 2), wrong (pred 1)
    const std::vector<float> logits{0, 0, 5, 2, 0, 0, 0, 0, 1, 0, 3, 0};
    wrong.add_logits(logits, std::vector<int64_t>{2, 1, 0, 2}, std::vector<int64_t>{10, 11, 12, 13});
    BOOST_TEST(wrong.seen() == 3);
    BOOST_TEST_REQUIRE(wrong.size() == 2u);
    BOOST_TEST(wrong[0].index == 11);
    BOOST_TEST(wrong[0].label == 1);
    BOOST_TEST(wrong[0].prediction == 0);
    const double z = std::exp(2.0) + 2;
    BOOST_TEST(wrong[0].probabilities.size() == 3u);
    BOOST_TEST(wrong[0].probabilities[0] == std::exp(2.0) / z, boost::test_tools::tolerance(1e-6));
    BOOST_TEST(wrong[0].probabilities[1] == 1 / z, boost::test_tools::tolerance(1e-6));
    BOOST_TEST(wrong[1].index == 12);
    BOOST_TEST(wrong[1].prediction == 2);
    BOOST_CHECK_EXCEPTION((void)wrong[2], kiln::Error, invalid_argument);
    BOOST_CHECK_EXCEPTION(wrong.add_logits(logits, std::vector<int64_t>{2, 1, 0, 2}, std::vector<int64_t>{1}),
                          kiln::Error, invalid_argument);
    wrong.reset();
    BOOST_TEST(wrong.size() == 0u);
    BOOST_TEST(wrong.seen() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
