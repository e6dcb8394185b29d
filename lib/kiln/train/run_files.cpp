#include "kiln/train/run_files.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>

#include "kiln/core/error.h"
#include "kiln/core/limits.h"

namespace kiln::train {

namespace {

using json = nlohmann::json;

std::string hex(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%a", v);
    return buf;
}

double unhex(const json& j, const char* key, const std::string& origin) {
    if (!j.contains(key) || !j[key].is_string()) fail(Errc::format, origin + ": kiln.train_state." + key + " is missing");
    const std::string s = j[key].get<std::string>();
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || *end != '\0') fail(Errc::format, origin + ": kiln.train_state." + key + " is not a number: " + s);
    return v;
}

// Counters of a run: whole numbers from 0 to 2^40 (far past any real run, far from overflowing
// as batches are added to them).
int64_t integer(const json& j, const char* key, const std::string& origin) {
    constexpr int64_t max = int64_t(1) << 40;
    if (!j.contains(key) || !j[key].is_number_integer() || (j[key].is_number_unsigned() && j[key].get<uint64_t>() > uint64_t(max)) ||
        j[key].get<int64_t>() < 0 || j[key].get<int64_t>() > max)
        fail(Errc::format, origin + ": kiln.train_state." + key + " is missing or not a whole number from 0 to " + limits::with_commas(max));
    return j[key].get<int64_t>();
}

// A sum or a time so far: finite and ≥ 0.
double amount(const json& j, const char* key, const std::string& origin) {
    const double v = unhex(j, key, origin);
    if (!(v >= 0) || !std::isfinite(v)) fail(Errc::format, origin + ": kiln.train_state." + key + " is not a finite amount ≥ 0");
    return v;
}

json number_or_null(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

}  // namespace

io::Metadata state_metadata(const TrainState& s) {
    json j = {{"epoch", s.epoch},         {"batch", s.batch},
              {"loss_sum", hex(s.loss_sum)}, {"seconds", hex(s.seconds)},
              {"correct", s.correct},     {"seen", s.seen},
              {"best_score", hex(s.best_score)}, {"best_epoch", s.best_epoch},
              {"early_misses", s.early.misses}, {"early_threshold", hex(s.early.dynamic_threshold)}};
    return {{"kiln.train_state", j.dump()}};
}

void restore_state(const io::Metadata& metadata, const std::string& origin, TrainState& s) {
    auto it = metadata.find("kiln.train_state");
    if (it == metadata.end())
        fail(Errc::format, origin + ": no kiln.train_state metadata (not a last.safetensors written by kiln-train?)");
    json j;
    try {
        j = json::parse(it->second);
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
        fail(Errc::format, origin + ": kiln.train_state is not valid JSON: " + e.what());
    }
    if (!j.is_object()) fail(Errc::format, origin + ": kiln.train_state is not a JSON object");
    s.epoch = integer(j, "epoch", origin);
    s.batch = integer(j, "batch", origin);
    s.loss_sum = amount(j, "loss_sum", origin);
    s.seconds = amount(j, "seconds", origin);
    s.correct = integer(j, "correct", origin);
    s.seen = integer(j, "seen", origin);
    s.best_score = unhex(j, "best_score", origin);
    s.best_epoch = integer(j, "best_epoch", origin);
    s.early.misses = integer(j, "early_misses", origin);
    s.early.dynamic_threshold = unhex(j, "early_threshold", origin);
    // What one epoch's counters imply about each other (the data's size is checked by fit).
    auto bad = [&](const std::string& what) { fail(Errc::format, origin + ": kiln.train_state is inconsistent: " + what); };
    if (s.correct > s.seen) bad("correct " + std::to_string(s.correct) + " > seen " + std::to_string(s.seen));
    if ((s.seen == 0) != (s.batch == 0)) bad("seen " + std::to_string(s.seen) + " samples in " + std::to_string(s.batch) + " batches");
    if (s.best_epoch > s.epoch) bad("best_epoch " + std::to_string(s.best_epoch) + " > epoch " + std::to_string(s.epoch));
    if (s.early.misses > s.epoch) bad("early_misses " + std::to_string(s.early.misses) + " > epoch " + std::to_string(s.epoch));
}

std::string history_csv(const std::vector<HistoryRow>& rows) {
    std::string out = "epoch,train_loss,train_acc,valid_loss,valid_acc,lr,seconds,best\n";
    auto num = [](double v) {
        if (std::isnan(v)) return std::string();
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", v);
        return std::string(buf);
    };
    for (const HistoryRow& r : rows)
        out += std::to_string(r.epoch) + "," + num(r.train_loss) + "," + num(r.train_acc) + "," + num(r.valid_loss) + "," +
               num(r.valid_acc) + "," + num(r.lr) + "," + num(r.seconds) + "," + (r.best ? "1" : "0") + "\n";
    return out;
}

std::string history_json(const std::vector<HistoryRow>& rows) {
    json list = json::array();
    for (const HistoryRow& r : rows)
        list.push_back({{"epoch", r.epoch},
                        {"train_loss", r.train_loss},
                        {"train_acc", r.train_acc},
                        {"valid_loss", number_or_null(r.valid_loss)},
                        {"valid_acc", number_or_null(r.valid_acc)},
                        {"lr", r.lr},
                        {"seconds", r.seconds},
                        {"best", r.best}});
    return list.dump(1) + "\n";
}

std::vector<HistoryRow> parse_history_json(const std::string& text, const std::string& origin) {
    std::vector<HistoryRow> rows;
    try {
        const json list = json::parse(text);
        if (!list.is_array()) fail(Errc::format, origin + ": expected a list of epochs");
        const double nan = std::numeric_limits<double>::quiet_NaN();
        for (const json& j : list) {
            HistoryRow r;
            r.epoch = j.at("epoch").get<int64_t>();
            r.train_loss = j.at("train_loss").get<double>();
            r.train_acc = j.at("train_acc").get<double>();
            r.valid_loss = j.at("valid_loss").is_null() ? nan : j.at("valid_loss").get<double>();
            r.valid_acc = j.at("valid_acc").is_null() ? nan : j.at("valid_acc").get<double>();
            r.lr = j.at("lr").get<double>();
            r.seconds = j.at("seconds").get<double>();
            r.best = j.at("best").get<bool>();
            rows.push_back(r);
        }
    } catch (const json::exception& e) {
        fail(Errc::format, origin + ": not a kiln-train history: " + e.what());
    }
    return rows;
}

}  // namespace kiln::train
