#include "kiln/report/html.h"

#include "kiln/core/error.h"
#include "kiln/image/codec.h"
#include "kiln/io/atomic_file.h"

namespace kiln::report {

std::string base64(std::span<const uint8_t> bytes) {
    static constexpr char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const uint32_t v = uint32_t(bytes[i]) << 16 | uint32_t(bytes[i + 1]) << 8 | bytes[i + 2];
        for (int shift = 18; shift >= 0; shift -= 6) out += digits[(v >> shift) & 63];
    }
    if (const size_t rest = bytes.size() - i; rest > 0) {
        const uint32_t v = uint32_t(bytes[i]) << 16 | (rest == 2 ? uint32_t(bytes[i + 1]) << 8 : 0);
        out += digits[v >> 18];
        out += digits[(v >> 12) & 63];
        out += rest == 2 ? digits[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char ch : text) switch (ch) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += ch;
        }
    return out;
}

std::string render_html(const HtmlReport& r) {
    const std::string title = html_escape(r.title);
    std::string page =
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + title +
        "</title>\n<style>\n"
        "body { font-family: sans-serif; margin: 2em; color: #222; }\n"
        "table { border-collapse: collapse; margin: 1em 0; }\n"
        "th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }\n"
        "th { background: #f0f0f0; }\n"
        "dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }\n"
        "dt { font-weight: bold; }\ndd { margin: 0; }\n"
        "figure { display: inline-block; margin: 1em 2em 1em 0; vertical-align: top; }\n"
        "img { image-rendering: pixelated; border: 1px solid #ddd; }\n"
        "</style>\n</head>\n<body>\n<h1>" +
        title + "</h1>\n";
    if (!r.facts.empty()) {
        page += "<dl class=\"facts\">\n";
        for (const auto& [key, value] : r.facts)
            page += "<dt>" + html_escape(key) + "</dt><dd>" + html_escape(value) + "</dd>\n";
        page += "</dl>\n";
    }
    for (const Picture& p : r.pictures) {
        const std::vector<uint8_t> png = image::read_file(p.path);
        image::Format format;
        if (!image::detect_format(png, format) || format != image::Format::png)
            fail(Errc::format, p.path + ": not a PNG file, the report embeds only PNGs");
        const std::string caption = html_escape(p.caption);
        page += "<figure><img src=\"data:image/png;base64," + base64(png) + "\" alt=\"" + caption +
                "\"><figcaption>" + caption + "</figcaption></figure>\n";
    }
    if (!r.history.columns.empty()) {
        page += "<h2>History</h2>\n<table>\n<tr>";
        for (const std::string& c : r.history.columns) page += "<th>" + html_escape(c) + "</th>";
        page += "</tr>\n";
        for (size_t k = 0; k < r.history.rows.size(); ++k) {
            const std::vector<std::string>& row = r.history.rows[k];
            if (row.size() != r.history.columns.size())
                fail(Errc::invalid_argument, "render_html: history row " + std::to_string(k) + " has " +
                                                 std::to_string(row.size()) + " cells for " +
                                                 std::to_string(r.history.columns.size()) + " columns");
            page += "<tr>";
            for (const std::string& cell : row) page += "<td>" + html_escape(cell) + "</td>";
            page += "</tr>\n";
        }
        page += "</table>\n";
    }
    return page + "</body>\n</html>\n";
}

void write_html_report(const std::string& path, const HtmlReport& report) {
    io::write_file_atomic(path, render_html(report));
}

}  // namespace kiln::report
