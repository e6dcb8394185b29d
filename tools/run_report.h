// The run directory's pictures and HTML page, shared by kiln-train (curves.png and report.html
// after every epoch) and kiln-infer (report.html again with its confusion matrix, misclassified
// samples and filters).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "kiln/report/curves.h"
#include "kiln/report/html.h"
#include "kiln/report/save.h"
#include "kiln/train/fit.h"
#include "kiln/train/run_files.h"

namespace kiln::tools {

// curves.png: loss and accuracy per epoch, train against validation (a run without validation
// draws the training curves alone).
inline void save_curves(const std::string& path, const std::vector<train::HistoryRow>& rows) {
    report::Curves c;
    for (const train::HistoryRow& r : rows) {
        c.train_loss.push_back(r.train_loss), c.train_accuracy.push_back(r.train_acc);
        c.val_loss.push_back(r.valid_loss), c.val_accuracy.push_back(r.valid_acc);
    }
    if (std::all_of(rows.begin(), rows.end(), [](const train::HistoryRow& r) { return std::isnan(r.valid_loss); }))
        c.val_loss.clear(), c.val_accuracy.clear();
    report::save_png(path, report::draw_curves(c).canvas);
}

// The pictures a report shows, in this order, each where it is found first among `folders`.
inline std::vector<report::Picture> run_pictures(const std::vector<train::RunDir>& folders) {
    const std::pair<std::string (train::RunDir::*)() const, const char*> known[] = {
        {&train::RunDir::curves_png, "loss and accuracy per epoch"},
        {&train::RunDir::confusion_png, "confusion matrix"},
        {&train::RunDir::misclassified_png, "misclassified samples"},
        {&train::RunDir::filters_png, "filters of the first convolution"},
        {&train::RunDir::predictions_png, "predicted images as the model got them, with their top classes"},
    };
    std::vector<report::Picture> pictures;
    for (const auto& [file, caption] : known)
        for (const train::RunDir& folder : folders)
            if (const std::string path = (folder.*file)(); std::filesystem::exists(path)) {
                pictures.push_back({caption, path});
                break;
            }
    return pictures;
}

inline std::string format_number(double v, const char* format = "%.4f") {
    if (std::isnan(v)) return "-";
    char s[32];
    std::snprintf(s, sizeof s, format, v);
    return s;
}

inline report::Table history_table(const std::vector<train::HistoryRow>& rows) {
    report::Table t{{"epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "lr", "seconds", "best"}, {}};
    for (const train::HistoryRow& r : rows)
        t.rows.push_back({std::to_string(r.epoch), format_number(r.train_loss), format_number(r.train_acc),
                          format_number(r.valid_loss), format_number(r.valid_acc), format_number(r.lr, "%.4g"),
                          format_number(r.seconds, "%.1f"), r.best ? "+" : ""});
    return t;
}

}  // namespace kiln::tools
