// The HTML report: base64 by RFC 4648's test vectors, escaping, and a page whose embedded images
// decode back to the PNG files given.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "image/make_images.h"
#include "kiln/core/error.h"
#include "kiln/image/codec.h"
#include "kiln/report/html.h"
#include "kiln/report/save.h"

namespace report = kiln::report;

namespace {

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<uint8_t> from_base64(const std::string& s) {
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

// Every src="data:image/png;base64,…" of the page, decoded.
std::vector<std::vector<uint8_t>> embedded_pngs(const std::string& page) {
    const std::string prefix = "src=\"data:image/png;base64,";
    std::vector<std::vector<uint8_t>> found;
    for (size_t at = page.find(prefix); at != std::string::npos; at = page.find(prefix, at + 1)) {
        const size_t start = at + prefix.size();
        found.push_back(from_base64(page.substr(start, page.find('"', start) - start)));
    }
    return found;
}

bool code_is(const kiln::Error& e, kiln::Errc c) { return e.code() == c; }

}  // namespace

BOOST_AUTO_TEST_SUITE(html)

BOOST_AUTO_TEST_CASE(base64_matches_rfc_4648) {
    BOOST_TEST(report::base64(bytes("")) == "");
    BOOST_TEST(report::base64(bytes("f")) == "Zg==");
    BOOST_TEST(report::base64(bytes("fo")) == "Zm8=");
    BOOST_TEST(report::base64(bytes("foo")) == "Zm9v");
    BOOST_TEST(report::base64(bytes("foob")) == "Zm9vYg==");
    BOOST_TEST(report::base64(bytes("fooba")) == "Zm9vYmE=");
    BOOST_TEST(report::base64(bytes("foobar")) == "Zm9vYmFy");
    BOOST_TEST(report::base64(std::vector<uint8_t>{0xfb, 0xff, 0x00}) == "+/8A");
}

BOOST_AUTO_TEST_CASE(escaping_covers_markup_and_quotes) {
    BOOST_TEST(report::html_escape("a<b>&\"c\"'d'") == "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;");
    BOOST_TEST(report::html_escape("T-shirt/top 91.8 %") == "T-shirt/top 91.8 %");
}

BOOST_AUTO_TEST_CASE(the_report_embeds_the_pictures_and_escapes_every_text) {
    TempDir dir;
    kiln::image::Canvas a(7, 5), b(3, 4, kiln::image::black);
    a.set_pixel(2, 1, {200, 10, 30});
    report::save_png(dir / "curves.png", a);
    report::save_png(dir / "confusion.png", b);

    report::HtmlReport r;
    r.title = "tinyvgg <run 3>";
    r.facts = {{"model", "tinyvgg & friends"}, {"best \"val\" accuracy", "88.3 %"}};
    r.pictures = {{"loss <and> accuracy", dir / "curves.png"}, {"confusion", dir / "confusion.png"}};
    r.history = {{"epoch", "train loss", "val <loss>"}, {{"1", "0.61", "0.45"}, {"2", "0.40", "<b>"}}};
    report::write_html_report(dir / "report.html", r);
    const std::vector<uint8_t> raw = kiln::image::read_file(dir / "report.html");
    const std::string page(raw.begin(), raw.end());

    BOOST_TEST(page.rfind("<!DOCTYPE html>", 0) == 0);
    BOOST_TEST(page.find("<title>tinyvgg &lt;run 3&gt;</title>") != std::string::npos);
    BOOST_TEST(page.find("<h1>tinyvgg &lt;run 3&gt;</h1>") != std::string::npos);
    BOOST_TEST(page.find("<dt>model</dt><dd>tinyvgg &amp; friends</dd>") != std::string::npos);
    BOOST_TEST(page.find("<dt>best &quot;val&quot; accuracy</dt>") != std::string::npos);
    BOOST_TEST(page.find("alt=\"loss &lt;and&gt; accuracy\"") != std::string::npos);
    BOOST_TEST(page.find("<tr><th>epoch</th><th>train loss</th><th>val &lt;loss&gt;</th></tr>") != std::string::npos);
    BOOST_TEST(page.find("<tr><td>2</td><td>0.40</td><td>&lt;b&gt;</td></tr>") != std::string::npos);
    BOOST_TEST(page.find("<b>") == std::string::npos);  // no text got through unescaped
    BOOST_TEST(page.find("src=\"curves.png") == std::string::npos);  // nothing refers to other files

    const std::vector<std::vector<uint8_t>> pngs = embedded_pngs(page);
    BOOST_TEST_REQUIRE(pngs.size() == 2u);
    BOOST_TEST(pngs[0] == kiln::image::read_file(dir / "curves.png"));
    BOOST_TEST(pngs[1] == kiln::image::read_file(dir / "confusion.png"));
    const kiln::image::Image back = kiln::image::decode(pngs[0], "embedded");
    BOOST_TEST((back.width == 7 && back.height == 5));
    BOOST_TEST((back.pixels[(1 * 7 + 2) * 3] == 200 && back.pixels[(1 * 7 + 2) * 3 + 1] == 10));

    for (const auto& entry : std::filesystem::directory_iterator(dir.path))
        BOOST_TEST(entry.path().filename().string().find(".tmp") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_pictures_and_rows_are_errors_naming_them) {
    TempDir dir;
    write_bytes(dir / "notes.png", {'h', 'e', 'l', 'l', 'o'});
    report::HtmlReport r;
    r.pictures = {{"x", dir / "notes.png"}};
    BOOST_CHECK_EXCEPTION(report::render_html(r), kiln::Error, [&](const kiln::Error& e) {
        return code_is(e, kiln::Errc::format) && std::string(e.what()).rfind(dir / "notes.png", 0) == 0;
    });
    r.pictures = {{"x", dir / "missing.png"}};
    BOOST_CHECK_EXCEPTION(report::render_html(r), kiln::Error, [&](const kiln::Error& e) {
        return code_is(e, kiln::Errc::io) && std::string(e.what()).find("missing.png") != std::string::npos;
    });
    r.pictures.clear();
    r.history = {{"epoch", "loss"}, {{"1"}}};
    BOOST_CHECK_EXCEPTION(report::render_html(r), kiln::Error,
                          [](const kiln::Error& e) { return code_is(e, kiln::Errc::invalid_argument); });
    BOOST_CHECK_EXCEPTION(report::write_html_report((dir.path / "no-such-folder" / "report.html").string(), {}), kiln::Error,
                          [](const kiln::Error& e) { return code_is(e, kiln::Errc::io); });
    r.history = {};
    BOOST_TEST(report::render_html(r).find("<table>") == std::string::npos);  // no history, no table
}

BOOST_AUTO_TEST_SUITE_END()
