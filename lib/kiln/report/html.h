// Self-contained HTML pages: a title, then sections, each a heading and blocks — key/value facts,
// tables, notes and pictures, the pictures embedded as base64 data URIs (the page needs no other
// file). Every text given is HTML-escaped. kiln-train and kiln-infer write a run's page
// (tools/run_report.h), kiln-report compare a page of several runs.
//
//   kiln::report::HtmlReport r;
//   r.title = "tinyvgg on Fashion-MNIST";
//   r.sections.push_back({"run", "Run", {kiln::report::Facts{{"epochs", "3"}, {"best accuracy", "88.3 %"}}}});
//   r.sections.push_back({"history", "Training", {kiln::report::Picture{"loss and accuracy", run / "curves.png", 2},
//                                                 kiln::report::Table{{"epoch", "loss"}, {{"1", "0.61"}, {"2", "0.40"}}}}});
//   kiln::report::write_html_report(run / "report.html", r);
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace kiln::report {

// RFC 4648 base64 with padding, no line breaks.
std::string base64(std::span<const uint8_t> bytes);

// & < > " ' as character references, so the text is safe in element content and in quoted
// attribute values.
std::string html_escape(std::string_view text);

// Key/value lines (a <dl>).
using Facts = std::vector<std::pair<std::string, std::string>>;

struct Table {
    std::vector<std::string> columns;
    std::vector<std::vector<std::string>> rows;  // each as many cells as there are columns
    std::vector<size_t> marked;                  // rows shaded (class "marked"): the best epoch, a setting that differs
};

struct Note {
    std::string text;  // a paragraph
};

struct Picture {
    std::string caption;
    std::string path;          // a PNG file, read when the page is rendered
    int density = 1;           // its pixels a CSS pixel: a picture drawn at density 2 is shown at half its pixel size
    std::vector<uint8_t> png;  // the PNG itself instead, when not empty (a picture drawn for this page alone)
};

using Block = std::variant<Facts, Table, Note, Picture>;

struct Section {
    std::string id;       // the <section>'s id, for links and for tests: "settings"
    std::string heading;  // its <h2>
    std::vector<Block> blocks;
};

struct HtmlReport {
    std::string title;
    std::vector<Section> sections;
    int refresh_seconds = 0;  // > 0: the browser reloads the page that often (a run still training)
};

// The page as text. A picture that cannot be read is Error(io), one that is not a PNG
// Error(format), both naming the file (its path); a row of the wrong width, a marked row that does not exist
// or a density below 1 is Error(invalid_argument).
std::string render_html(const HtmlReport& report);
// render_html, written atomically.
void write_html_report(const std::string& path, const HtmlReport& report);

}  // namespace kiln::report
