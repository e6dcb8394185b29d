// kiln-report as a user runs it: compare on two small kiln-train runs that differ in their
// optimizer (a page with both runs' facts and settings side by side, the differing rows marked,
// and one overlaid curves picture), page (a run's report.html written again), and the errors for
// what is not a run or a malformed run file, each naming it. In a cross build the tools start
// through KILN_EXE_WRAPPER (qemu).
#define BOOST_TEST_MODULE kiln_report
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kiln/image/codec.h"
#include "report/html_page.h"
#include "temp_dir.h"
#include "tool_process.h"

namespace fs = std::filesystem;

namespace {

using kiln::testing::contains;
using kiln::testing::embedded_pictures;
using kiln::testing::EmbeddedPicture;
using kiln::testing::fmnist;
using kiln::testing::read_text;
using kiln::testing::run_tool;
using kiln::testing::section_of;
using kiln::testing::ToolRun;

// Two fmnist_linear runs of two epochs on 300 images, one with SGD, one with Adam: made once.
const std::vector<std::string>& two_runs() {
    static TempDir dir;
    static const std::vector<std::string> runs{dir / "sgd", dir / "adam"};
    if (!fs::exists(runs[1] + "/history.json"))
        for (const std::string& run : runs) {
            const std::string optimizer = fs::path(run).filename().string();
            BOOST_REQUIRE_EQUAL(run_tool("kiln-train", {"--data", "idx:" + fmnist, "--limit", "300", "--model", "fmnist_linear",
                                                        "--epochs", "2", "--threads", "2", "--optimizer", optimizer, "--out", run})
                                    .status,
                                0);
        }
    return runs;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(end_to_end)

BOOST_AUTO_TEST_CASE(compare_puts_the_runs_side_by_side) {
    if (!kiln::testing::have_fashion_mnist()) return;
    const std::vector<std::string>& runs = two_runs();
    TempDir out;
    const ToolRun r = run_tool("kiln-report", {"compare", runs[0], runs[1] + "/", "--out", out / "compare.html"});
    BOOST_REQUIRE_EQUAL(r.status, 0);
    BOOST_TEST(r.out == "wrote " + out / "compare.html" + ": 2 runs\n");
    const std::string page = read_text(out / "compare.html");

    // Each run a column of the settings, the optimizer's row marked as differing, the data's not.
    const std::string settings = section_of(page, "settings");
    BOOST_TEST(contains(settings, "<tr><th></th><th>" + runs[0] + "</th><th>" + runs[1] + "</th></tr>"), settings);
    BOOST_TEST(contains(settings, "<tr class=\"marked\"><td>--optimizer</td><td>sgd</td><td>adam</td></tr>"), settings);
    BOOST_TEST(contains(settings, "<tr><td>--model</td><td>fmnist_linear</td><td>fmnist_linear</td></tr>"), settings);
    BOOST_TEST(contains(settings, "<tr><td>--epochs</td><td>2</td><td>2</td></tr>"), settings);
    const std::string facts = section_of(page, "runs");
    BOOST_TEST(contains(facts, "<tr><td>model</td><td>fmnist_linear</td><td>fmnist_linear</td></tr>"), facts);
    BOOST_TEST(contains(facts, "<tr><td>epochs</td><td>2 of 2</td><td>2 of 2</td></tr>"), facts);
    BOOST_TEST(contains(facts, "<td>best epoch</td>"), facts);

    // One picture: the curves overlaid, drawn at density 2 and shown at half its pixel size.
    const std::vector<EmbeddedPicture> pictures = embedded_pictures(page);
    BOOST_REQUIRE_EQUAL(pictures.size(), 1u);
    BOOST_TEST(!section_of(page, "curves").empty());
    const kiln::image::Image curves = kiln::image::decode(pictures[0].png, "compare curves");
    BOOST_TEST(curves.width == 1920);
    BOOST_TEST((pictures[0].width == 960 && pictures[0].height * 2 == curves.height));
}

BOOST_AUTO_TEST_CASE(page_writes_a_run_page_again) {
    if (!kiln::testing::have_fashion_mnist()) return;
    const std::string& run = two_runs()[0];
    const std::string before = read_text(run + "/report.html");
    fs::remove(run + "/report.html");
    const ToolRun r = run_tool("kiln-report", {"page", run});
    BOOST_REQUIRE_EQUAL(r.status, 0);
    BOOST_TEST(r.out == "wrote " + run + "/report.html\n");
    BOOST_TEST(read_text(run + "/report.html") == before);
    BOOST_TEST(!contains(before, "http-equiv=\"refresh\""));

    // A run still training (as training.json says while kiln-train runs): the page reloads itself.
    const std::string facts = read_text(run + "/training.json");
    std::string training = facts;
    training.replace(training.find("\"completed\""), 11, "\"training\"");
    std::ofstream(run + "/training.json") << training;
    BOOST_REQUIRE_EQUAL(run_tool("kiln-report", {"page", run}).status, 0);
    const std::string reloading = read_text(run + "/report.html");
    BOOST_TEST(contains(reloading, "<meta http-equiv=\"refresh\" content=\"10\">"));
    BOOST_TEST(contains(reloading, "<p>training: 2 of 2 epochs done (this page reloads itself every 10 s)</p>"), reloading);
    std::ofstream(run + "/training.json") << facts;
    BOOST_REQUIRE_EQUAL(run_tool("kiln-report", {"page", run}).status, 0);
}

BOOST_AUTO_TEST_CASE(what_is_not_a_run_is_named) {
    TempDir dir;
    fs::create_directories(dir / "empty");
    ToolRun r = run_tool("kiln-report", {"compare", dir / "empty", "--out", dir / "compare.html"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err == "kiln-report: error: " + dir / "empty" +
                            ": not a kiln-train run directory (no training.json, last.safetensors or history.json)\n");
    r = run_tool("kiln-report", {"compare", dir / "missing"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err == "kiln-report: error: " + dir / "missing" + ": not a directory (expected a kiln-train run directory)\n");
    BOOST_TEST(!fs::exists(dir / "compare.html"));

    // A run whose training.json is not what kiln-train writes: the file and the field.
    fs::create_directories(dir / "bad");
    std::ofstream(dir / "bad/training.json") << "{\"model\": 7}";
    r = run_tool("kiln-report", {"page", dir / "bad"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err == "kiln-report: error: " + dir / "bad/training.json" + ": model: expected text\n");
    std::ofstream(dir / "bad/training.json") << "{\"model\": ";
    r = run_tool("kiln-report", {"page", dir / "bad"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(contains(r.err, dir / "bad/training.json: not valid JSON: "), r.err);

    r = run_tool("kiln-report", {"compare"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "kiln-report: error: missing <run>\nusage: kiln-report compare <run>…"), r.err);
    r = run_tool("kiln-report", {"draw"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "unknown command 'draw'"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()
