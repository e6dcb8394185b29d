// One self-contained HTML page per run: a title, key = value facts, the run's pictures embedded
// as base64 data URIs (the page needs no other file), and the history table. Every text given is
// HTML-escaped.
//
//   kiln::report::HtmlReport r;
//   r.title = "tinyvgg on Fashion-MNIST";
//   r.facts = {{"epochs", "3"}, {"best accuracy", "88.3 %"}};
//   r.pictures = {{"loss and accuracy", run / "curves.png"}};
//   r.history = {{"epoch", "train loss", "val loss"}, {{"1", "0.61", "0.45"}, {"2", "0.40", "0.39"}}};
//   kiln::report::write_html_report(run / "report.html", r);
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::report {

// RFC 4648 base64 with padding, no line breaks.
std::string base64(std::span<const uint8_t> bytes);

// & < > " ' as character references, so the text is safe in element content and in quoted
// attribute values.
std::string html_escape(std::string_view text);

struct Picture {
    std::string caption;
    std::string path;  // a PNG file, read when the report is rendered
};

struct Table {
    std::vector<std::string> columns;
    std::vector<std::vector<std::string>> rows;  // each as many cells as there are columns
};

struct HtmlReport {
    std::string title;
    std::vector<std::pair<std::string, std::string>> facts;
    std::vector<Picture> pictures;
    Table history;  // left out of the page when it has no columns
};

// The page as text. A picture that cannot be read is Error(io), one that is not a PNG
// Error(format), both naming the file; a row of the wrong width is Error(invalid_argument).
std::string render_html(const HtmlReport& report);
// render_html, written atomically.
void write_html_report(const std::string& path, const HtmlReport& report);

}  // namespace kiln::report
