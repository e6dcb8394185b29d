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

namespace {

std::string facts_html(const Facts& facts) {
    std::string out = "<dl class=\"facts\">\n";
    for (const auto& [key, value] : facts) out += "<dt>" + html_escape(key) + "</dt><dd>" + html_escape(value) + "</dd>\n";
    return out + "</dl>\n";
}

std::string table_html(const Table& t) {
    for (size_t k = 0; k < t.rows.size(); ++k)
        if (t.rows[k].size() != t.columns.size())
            fail(Errc::invalid_argument, "render_html: table row " + std::to_string(k) + " has " + std::to_string(t.rows[k].size()) +
                                             " cells for " + std::to_string(t.columns.size()) + " columns");
    std::vector<bool> marked(t.rows.size());
    for (size_t k : t.marked) {
        if (k >= t.rows.size())
            fail(Errc::invalid_argument, "render_html: marked row " + std::to_string(k) + " of a table of " +
                                             std::to_string(t.rows.size()) + " rows");
        marked[k] = true;
    }
    std::string out = "<table>\n<tr>";
    for (const std::string& c : t.columns) out += "<th>" + html_escape(c) + "</th>";
    out += "</tr>\n";
    for (size_t k = 0; k < t.rows.size(); ++k) {
        out += marked[k] ? "<tr class=\"marked\">" : "<tr>";
        for (const std::string& cell : t.rows[k]) out += "<td>" + html_escape(cell) + "</td>";
        out += "</tr>\n";
    }
    return out + "</table>\n";
}

// The PNG embedded, its width and height attributes its pixel size over its density, so that a
// density-2 picture fills the same space as at density 1 with twice the detail.
std::string picture_html(const Picture& p) {
    if (p.density < 1) fail(Errc::invalid_argument, "render_html: " + p.path + ": density " + std::to_string(p.density));
    const std::vector<uint8_t> png =
        p.png.empty() ? image::read_file(p.path, image::max_file_bytes(image::default_max_pixels)) : p.png;
    image::Format format;
    if (!image::detect_format(png, format) || format != image::Format::png)
        fail(Errc::format, p.path + ": not a PNG file, the report embeds only PNGs");
    const image::ImageInfo info = image::probe(png, p.path);
    const std::string caption = html_escape(p.caption);
    return "<figure><img src=\"data:image/png;base64," + base64(png) + "\" width=\"" + std::to_string(info.width / p.density) +
           "\" height=\"" + std::to_string(info.height / p.density) + "\" alt=\"" + caption + "\"><figcaption>" + caption +
           "</figcaption></figure>\n";
}

}  // namespace

std::string render_html(const HtmlReport& r) {
    const std::string title = html_escape(r.title);
    std::string page = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    if (r.refresh_seconds > 0) page += "<meta http-equiv=\"refresh\" content=\"" + std::to_string(r.refresh_seconds) + "\">\n";
    page += "<title>" + title +
            "</title>\n<style>\n"
            "body { font-family: sans-serif; margin: 2em; color: #222; max-width: 100em; }\n"
            "section { margin: 1.5em 0; }\n"
            "h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }\n"
            "table { border-collapse: collapse; margin: 1em 0; }\n"
            "th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }\n"
            "th { background: #f0f0f0; }\n"
            "td:first-child, th:first-child { text-align: left; }\n"
            "tr.marked td { background: #e8f4e8; font-weight: bold; }\n"
            "dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }\n"
            "dt { font-weight: bold; }\ndd { margin: 0; }\n"
            "figure { display: inline-block; margin: 1em 2em 1em 0; vertical-align: top; }\n"
            "img { max-width: 100%; height: auto; border: 1px solid #ddd; }\n"
            "</style>\n</head>\n<body>\n<h1>" +
            title + "</h1>\n";
    for (const Section& s : r.sections) {
        page += "<section id=\"" + html_escape(s.id) + "\">\n<h2>" + html_escape(s.heading) + "</h2>\n";
        for (const Block& b : s.blocks) {
            if (const auto* facts = std::get_if<Facts>(&b)) page += facts_html(*facts);
            else if (const auto* table = std::get_if<Table>(&b)) page += table_html(*table);
            else if (const auto* note = std::get_if<Note>(&b)) page += "<p>" + html_escape(note->text) + "</p>\n";
            else page += picture_html(std::get<Picture>(b));
        }
        page += "</section>\n";
    }
    return page + "</body>\n</html>\n";
}

void write_html_report(const std::string& path, const HtmlReport& report) {
    io::write_file_atomic(path, render_html(report));
}

}  // namespace kiln::report
