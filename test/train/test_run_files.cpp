// What a run directory holds besides the training loop: the loop's state as safetensors metadata
// (bit for bit) and the history files. (Its files are written through kiln/io: test/io.)
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <cmath>
#include <limits>

#include "kiln/core/error.h"
#include "kiln/train/run_files.h"

using namespace kiln;

BOOST_AUTO_TEST_SUITE(run_files)

BOOST_AUTO_TEST_CASE(train_state_survives_metadata_bit_for_bit) {
    train::TrainState s;
    s.epoch = 3, s.batch = 17, s.correct = 1234, s.seen = 2000, s.best_epoch = 2;
    s.loss_sum = 0.1 + 0.2;  // not a short decimal
    s.seconds = 12.345678901234567;
    s.best_score = 1.0 / 3.0;
    s.early.misses = 1;
    s.early.dynamic_threshold = std::numeric_limits<double>::infinity();
    train::TrainState back;
    train::restore_state(train::state_metadata(s), "last.safetensors", back);
    BOOST_TEST(back.epoch == 3);
    BOOST_TEST(back.batch == 17);
    BOOST_TEST(back.correct == 1234);
    BOOST_TEST(back.seen == 2000);
    BOOST_TEST(back.best_epoch == 2);
    BOOST_TEST(back.loss_sum == s.loss_sum);  // exact
    BOOST_TEST(back.seconds == s.seconds);
    BOOST_TEST(back.best_score == s.best_score);
    BOOST_TEST(back.early.misses == 1);
    BOOST_TEST(std::isinf(back.early.dynamic_threshold));
    BOOST_CHECK_THROW(train::restore_state({}, "x.safetensors", back), Error);
    BOOST_CHECK_THROW(train::restore_state({{"kiln.train_state", "{\"epoch\": 1}"}}, "x.safetensors", back), Error);
}

// A tampered last.safetensors must not reach the fit loop with counters that overflow or
// contradict each other (one such run once printed a loss of -0.0000).
BOOST_AUTO_TEST_CASE(a_tampered_train_state_is_refused_naming_the_field) {
    train::TrainState s;
    s.epoch = 3, s.batch = 17, s.correct = 1234, s.seen = 2000, s.best_epoch = 2;
    auto message = [&](const char* key, const nlohmann::json& value) {
        nlohmann::json j = nlohmann::json::parse(train::state_metadata(s).at("kiln.train_state"));
        j[key] = value;
        train::TrainState back;
        try {
            train::restore_state({{"kiln.train_state", j.dump()}}, "last.safetensors", back);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    BOOST_TEST(message("seen", 9223372036854775807LL) ==
               "last.safetensors: kiln.train_state.seen is missing or not a whole number from 0 to 1,099,511,627,776");
    BOOST_TEST(message("batch", -1) ==
               "last.safetensors: kiln.train_state.batch is missing or not a whole number from 0 to 1,099,511,627,776");
    BOOST_TEST(message("epoch", 18446744073709551615ULL) ==
               "last.safetensors: kiln.train_state.epoch is missing or not a whole number from 0 to 1,099,511,627,776");
    BOOST_TEST(message("correct", 2001) == "last.safetensors: kiln.train_state is inconsistent: correct 2001 > seen 2000");
    BOOST_TEST(message("seen", 0) == "last.safetensors: kiln.train_state is inconsistent: correct 1234 > seen 0");
    BOOST_TEST(message("best_epoch", 4) == "last.safetensors: kiln.train_state is inconsistent: best_epoch 4 > epoch 3");
    BOOST_TEST(message("loss_sum", "-0x1p+0") == "last.safetensors: kiln.train_state.loss_sum is not a finite amount ≥ 0");
    BOOST_TEST(message("seconds", "inf") == "last.safetensors: kiln.train_state.seconds is not a finite amount ≥ 0");
    BOOST_TEST(message("batch", 0) == "last.safetensors: kiln.train_state is inconsistent: seen 2000 samples in 0 batches");
    BOOST_TEST(message("epoch", 3) == "(no error)");
    train::TrainState back;
    BOOST_CHECK_EXCEPTION(train::restore_state({{"kiln.train_state", R"({"epoch": 1e999})"}}, "last.safetensors", back), Error,
                          [](const Error& e) { return std::string(e.what()).find("kiln.train_state is not valid JSON") != std::string::npos; });
}

BOOST_AUTO_TEST_CASE(history_files) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<train::HistoryRow> rows = {{1, 0.5, 0.75, 0.4, 0.8, 0.1, 2.5, true}, {2, 0.25, 0.875, nan, nan, 0.05, 2.0, false}};
    BOOST_TEST(train::history_csv(rows) ==
               "epoch,train_loss,train_acc,valid_loss,valid_acc,lr,seconds,best\n"
               "1,0.5,0.75,0.40000000000000002,0.80000000000000004,0.10000000000000001,2.5,1\n"
               "2,0.25,0.875,,,0.050000000000000003,2,0\n");
    const auto back = train::parse_history_json(train::history_json(rows), "history.json");
    BOOST_REQUIRE_EQUAL(back.size(), 2u);
    BOOST_TEST(back[0].valid_acc == 0.8);
    BOOST_TEST(back[0].best);
    BOOST_TEST(std::isnan(back[1].valid_loss));
    BOOST_TEST(back[1].lr == 0.05);
    BOOST_CHECK_THROW(train::parse_history_json("[{\"epoch\": 1}]", "history.json"), Error);
}

BOOST_AUTO_TEST_SUITE_END()
