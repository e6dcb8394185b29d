// Reading back a page kiln wrote (kiln/report/html.h): its sections by id, and its embedded
// pictures as the PNG bytes and the size the page shows them at. Shared by the report and tools
// tests.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::testing {

inline std::vector<uint8_t> from_base64(const std::string& s) {
    const std::string digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::vector<uint8_t> out;
    uint32_t acc = 0;
    int bits = 0;
    for (char ch : s) {
        if (ch == '=') break;
        acc = acc << 6 | uint32_t(digits.find(ch));
        bits += 6;
        if (bits >= 8) bits -= 8, out.push_back(uint8_t(acc >> bits));
    }
    return out;
}

struct EmbeddedPicture {
    std::vector<uint8_t> png;
    int64_t width = -1, height = -1;  // the img element's attributes (-1 when absent)
};

// Every <img src="data:image/png;base64,…" width="…" height="…"> of the page, in order.
inline std::vector<EmbeddedPicture> embedded_pictures(const std::string& page) {
    const std::string prefix = "src=\"data:image/png;base64,";
    auto attribute = [&](size_t from, size_t to, const std::string& name) -> int64_t {
        const size_t at = page.find(" " + name + "=\"", from);
        return at < to ? std::stoll(page.substr(at + name.size() + 3)) : -1;
    };
    std::vector<EmbeddedPicture> found;
    for (size_t at = page.find(prefix); at != std::string::npos; at = page.find(prefix, at + 1)) {
        const size_t start = at + prefix.size(), end = page.find('"', start), tag_end = page.find('>', end);
        found.push_back({from_base64(page.substr(start, end - start)), attribute(end, tag_end, "width"), attribute(end, tag_end, "height")});
    }
    return found;
}

// The text of <section id="id">…</section>; empty when the page has no such section.
inline std::string section_of(const std::string& page, const std::string& id) {
    const size_t start = page.find("<section id=\"" + id + "\">");
    if (start == std::string::npos) return "";
    return page.substr(start, page.find("</section>", start) - start);
}

}  // namespace kiln::testing
