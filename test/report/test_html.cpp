// The HTML report: base64 by RFC 4648's test vectors, escaping, and a page of sections whose
// embedded images decode back to the PNG files given, shown at their size over their density.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "image/make_images.h"
#include "report/html_page.h"
#include "kiln/core/error.h"
#include "kiln/image/codec.h"
#include "kiln/report/html.h"
#include "kiln/report/save.h"

namespace report = kiln::report;

namespace {

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

// Every embedded picture's PNG bytes.
std::vector<std::vector<uint8_t>> embedded_pngs(const std::string& page) {
    std::vector<std::vector<uint8_t>> pngs;
    for (kiln::testing::EmbeddedPicture& p : kiln::testing::embedded_pictures(page)) pngs.push_back(std::move(p.png));
    return pngs;
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
    kiln::image::Canvas a(7, 5), b(3, 4, kiln::image::black, 2);
    a.set_pixel(2, 1, {200, 10, 30});
    report::save_png(dir / "curves.png", a);
    report::save_png(dir / "confusion.png", b);
    const std::vector<uint8_t> drawn_here = kiln::image::encode_png(a.view());

    report::HtmlReport r;
    r.title = "tinyvgg <run 3>";
    r.sections = {
        {"run", "The <run>", {report::Facts{{"model", "tinyvgg & friends"}, {"best \"val\" accuracy", "88.3 %"}},
                              report::Note{"training: 3 of <10>"}}},
        {"history",
         "Training",
         {report::Picture{"loss <and> accuracy", dir / "curves.png", 1, {}},
          report::Table{{"epoch", "train loss", "val <loss>"}, {{"1", "0.61", "0.45"}, {"2", "0.40", "<b>"}}, {1}}}},
        {"evaluation", "Evaluation", {report::Picture{"confusion", dir / "confusion.png", 2, {}}, report::Picture{"in memory", "here", 1, drawn_here}}},
    };
    report::write_html_report(dir / "report.html", r);
    const std::vector<uint8_t> raw = kiln::image::read_file(dir / "report.html");
    const std::string page(raw.begin(), raw.end());

    BOOST_TEST(page.rfind("<!DOCTYPE html>", 0) == 0);
    BOOST_TEST(page.find("<title>tinyvgg &lt;run 3&gt;</title>") != std::string::npos);
    BOOST_TEST(page.find("<h1>tinyvgg &lt;run 3&gt;</h1>") != std::string::npos);
    BOOST_TEST(page.find("<section id=\"run\">\n<h2>The &lt;run&gt;</h2>") != std::string::npos);
    BOOST_TEST(page.find("<dt>model</dt><dd>tinyvgg &amp; friends</dd>") != std::string::npos);
    BOOST_TEST(page.find("<dt>best &quot;val&quot; accuracy</dt>") != std::string::npos);
    BOOST_TEST(page.find("<p>training: 3 of &lt;10&gt;</p>") != std::string::npos);
    BOOST_TEST(page.find("alt=\"loss &lt;and&gt; accuracy\"") != std::string::npos);
    BOOST_TEST(page.find("<tr><th>epoch</th><th>train loss</th><th>val &lt;loss&gt;</th></tr>") != std::string::npos);
    BOOST_TEST(page.find("<tr><td>1</td><td>0.61</td>") != std::string::npos);
    BOOST_TEST(page.find("<tr class=\"marked\"><td>2</td><td>0.40</td><td>&lt;b&gt;</td></tr>") != std::string::npos);
    BOOST_TEST(page.find("<b>") == std::string::npos);  // no text got through unescaped
    BOOST_TEST(page.find("src=\"curves.png") == std::string::npos);  // nothing refers to other files
    BOOST_TEST(page.find("http-equiv=\"refresh\"") == std::string::npos);
    // Sections in order.
    BOOST_TEST(page.find("id=\"run\"") < page.find("id=\"history\""));
    BOOST_TEST(page.find("id=\"history\"") < page.find("id=\"evaluation\""));

    const std::vector<std::vector<uint8_t>> pngs = embedded_pngs(page);
    BOOST_TEST_REQUIRE(pngs.size() == 3u);
    BOOST_TEST(pngs[0] == kiln::image::read_file(dir / "curves.png"));
    BOOST_TEST(pngs[1] == kiln::image::read_file(dir / "confusion.png"));
    BOOST_TEST(pngs[2] == drawn_here);
    const kiln::image::Image back = kiln::image::decode(pngs[0], "embedded");
    BOOST_TEST((back.width == 7 && back.height == 5));
    BOOST_TEST((back.pixels[(1 * 7 + 2) * 3] == 200 && back.pixels[(1 * 7 + 2) * 3 + 1] == 10));
    // A picture of density 2 is shown at half its pixel size: 6 × 8 pixels as 3 × 4.
    BOOST_TEST(page.find("width=\"7\" height=\"5\" alt=\"loss &lt;and&gt; accuracy\"") != std::string::npos);
    BOOST_TEST(page.find("width=\"3\" height=\"4\" alt=\"confusion\"") != std::string::npos);

    for (const auto& entry : std::filesystem::directory_iterator(dir.path))
        BOOST_TEST(entry.path().filename().string().find(".tmp") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_page_of_a_run_in_progress_reloads_itself) {
    report::HtmlReport r;
    r.refresh_seconds = 10;
    const std::string page = report::render_html(r);
    BOOST_TEST(page.find("<meta http-equiv=\"refresh\" content=\"10\">") < page.find("</head>"));
}

BOOST_AUTO_TEST_CASE(bad_pictures_and_rows_are_errors_naming_them) {
    TempDir dir;
    write_bytes(dir / "notes.png", {'h', 'e', 'l', 'l', 'o'});
    report::HtmlReport r;
    r.sections = {{"x", "X", {report::Picture{"x", dir / "notes.png", 1, {}}}}};
    BOOST_CHECK_EXCEPTION(report::render_html(r), kiln::Error, [&](const kiln::Error& e) {
        return code_is(e, kiln::Errc::format) && std::string(e.what()).rfind(dir / "notes.png", 0) == 0;
    });
    r.sections = {{"x", "X", {report::Picture{"x", dir / "missing.png", 1, {}}}}};
    BOOST_CHECK_EXCEPTION(report::render_html(r), kiln::Error, [&](const kiln::Error& e) {
        return code_is(e, kiln::Errc::io) && std::string(e.what()).find("missing.png") != std::string::npos;
    });
    r.sections = {{"x", "X", {report::Table{{"epoch", "loss"}, {{"1"}}, {}}}}};
    BOOST_CHECK_EXCEPTION(report::render_html(r), kiln::Error,
                          [](const kiln::Error& e) { return code_is(e, kiln::Errc::invalid_argument); });
    r.sections = {{"x", "X", {report::Table{{"epoch"}, {{"1"}}, {1}}}}};  // marks a row it does not have
    BOOST_CHECK_EXCEPTION(report::render_html(r), kiln::Error,
                          [](const kiln::Error& e) { return code_is(e, kiln::Errc::invalid_argument); });
    BOOST_CHECK_EXCEPTION(report::write_html_report((dir.path / "no-such-folder" / "report.html").string(), {}), kiln::Error,
                          [](const kiln::Error& e) { return code_is(e, kiln::Errc::io); });
    r.sections.clear();
    BOOST_TEST(report::render_html(r).find("<section") == std::string::npos);  // no sections, none drawn
}

BOOST_AUTO_TEST_SUITE_END()
