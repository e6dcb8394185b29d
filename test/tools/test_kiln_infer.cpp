// kiln-infer run as a user runs it, on a tiny kiln-train run over a slice of the real
// Fashion-MNIST (Debian's dataset-fashion-mnist; without it the cases that need it say why they
// are skipped): the evaluation's numbers against the confusion matrix it prints and against a
// forward pass of the same weights done here, the pictures and report.html it writes, --predict on
// images of another size and colour mode, --filters, --logits (the per-sample CSV), and its errors. In a cross build the tools
// start through KILN_EXE_WRAPPER (qemu). Prediction is also checked on photo-like pictures drawn
// from test images (test/photo_like.h: dark products in colour on wood, 640×480) with a TinyVGG
// trained on the whole training set: what --fit object and --invert auto make of them against the
// old preparation (--fit stretch --invert no), the picture of what the model got, the warning for
// an image unlike the training images, and a file that cannot be read among good ones.
#define BOOST_TEST_MODULE kiln_infer
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "kiln/data/dataloader.h"
#include "kiln/data/plugin_registry.h"
#include "kiln/runtime/program.h"
#include "kiln/image/codec.h"
#include "kiln/io/checkpoint.h"
#include "kiln/nn/model_file.h"
#include "kiln/report/confusion.h"
#include "kiln/report/grid.h"
#include "kiln/train/metrics.h"
#include "photo_like.h"
#include "quick.h"
#include "report/html_page.h"
#include "temp_dir.h"
#include "tool_process.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using kiln::testing::contains;
using kiln::testing::embedded_pictures;
using kiln::testing::EmbeddedPicture;
using kiln::testing::section_of;
using kiln::testing::run_tool;
using kiln::testing::ToolRun;
using kiln::testing::fmnist;
using kiln::testing::read_text;
const std::string test_data = "idx:" + fmnist + ",split=test";

bool have_data() { return kiln::testing::have_fashion_mnist(); }

ToolRun infer(const std::vector<std::string>& args) { return run_tool("kiln-infer", args); }

kiln::image::Image decode(const std::string& path) {
    BOOST_REQUIRE_MESSAGE(fs::exists(path), path << " was not written");
    return kiln::image::decode_file(path, {.mode = kiln::image::ColorMode::rgb});
}

size_t count(const std::string& s, const std::string& part) {
    size_t n = 0;
    for (size_t at = s.find(part); at != std::string::npos; at = s.find(part, at + 1)) ++n;
    return n;
}

// The mean cross-entropy and accuracy of the run's best weights over the first n test samples,
// computed here with a program and batches of 50 of its own (kiln-infer's batches are 64).
std::pair<double, double> reference(const std::string& run_dir, int64_t n) {
    const kiln::nn::ModelSpec spec = kiln::nn::read_model_file(run_dir + "/model.json");
    kiln::data::PluginRegistry plugins({KILN_TEST_PLUGIN_DIR});
    kiln::data::DataLoaderOptions opt;
    opt.batch_size = 50, opt.workers = 0;
    for (int64_t i = 0; i < n; ++i) opt.indices.push_back(i);
    kiln::data::DataLoader loader(plugins.open_dataset(test_data), plugins.pipeline(spec.eval_transforms), opt);
    kiln::Graph g(0);
    const kiln::Value x = g.input("x", {50, 1, 28, 28});
    const kiln::Value y = g.input("y", {50}, kiln::DType::i64);
    const kiln::Value logits = kiln::nn::build_model(g, spec, x, 10);
    kiln::CompileOptions o;
    o.loss = g.cross_entropy(logits, y);
    o.outputs = {logits};
    auto prog = kiln::compile(g, o);
    kiln::io::load_state(*prog, run_dir + "/best.safetensors");
    double loss = 0;
    int64_t correct = 0;
    while (const kiln::data::Batch* b = loader.next()) {
        prog->write_input(x, b->x, b->size);
        prog->write_input(y, b->labels, b->size);
        prog->forward(b->size);
        loss += double(prog->loss()) * double(b->size);
        const std::vector<float> l = prog->read(logits);
        for (int64_t i = 0; i < b->size; ++i) {
            const float* row = &l[size_t(i * 10)];
            correct += std::max_element(row, row + 10) - row == b->labels[i];
        }
    }
    return {loss / double(n), double(correct) / double(n)};
}

// A --logits file: its header line and its rows, each field parsed (the logits with strtof, which
// reads %.9g back as the float that was printed).
struct LogitsRow {
    int64_t index = -1, label = -1, predicted = -1;
    std::vector<float> logits;
};
struct LogitsFile {
    std::string header;
    std::vector<LogitsRow> rows;
};

LogitsFile read_logits(const std::string& path) {
    BOOST_REQUIRE_MESSAGE(fs::exists(path), path << " was not written");
    std::istringstream in(read_text(path));
    LogitsFile f;
    std::getline(in, f.header);
    for (std::string line; std::getline(in, line);) {
        std::vector<std::string> fields;
        std::istringstream cells(line);
        for (std::string cell; std::getline(cells, cell, ',');) fields.push_back(cell);
        BOOST_REQUIRE_MESSAGE(fields.size() > 3, path << ": a short row: " << line);
        LogitsRow r;
        r.index = std::stoll(fields[0]), r.label = std::stoll(fields[1]), r.predicted = std::stoll(fields[2]);
        for (size_t k = 3; k < fields.size(); ++k) {
            char* end = nullptr;
            r.logits.push_back(std::strtof(fields[k].c_str(), &end));
            BOOST_REQUIRE_MESSAGE(end && *end == '\0' && end != fields[k].c_str(), path << ": not a number: " << fields[k]);
        }
        f.rows.push_back(std::move(r));
    }
    return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(end_to_end)

BOOST_AUTO_TEST_CASE(kiln_train_writes_curves_and_a_report) {
    if (!have_data()) return;
    const std::string& dir = kiln::testing::tiny_tinyvgg_run(1000);
    const kiln::image::Image curves = decode(dir + "/curves.png");
    BOOST_TEST(curves.width == 1920);  // report::CurvesOptions' default size, 960 × 360, at density 2
    BOOST_TEST(curves.height == 720);
    const std::string html = read_text(dir + "/report.html");
    const std::vector<EmbeddedPicture> pictures = embedded_pictures(html);
    BOOST_REQUIRE_EQUAL(pictures.size(), 1u);
    BOOST_TEST((pictures[0].width == 960 && pictures[0].height == 360));  // shown at half its pixels
    BOOST_TEST(contains(section_of(html, "history"), "<td>2</td>"));  // the history table's second epoch
    BOOST_TEST(contains(section_of(html, "run"), "<p>completed: 2 of 2 epochs</p>"), section_of(html, "run"));
    BOOST_TEST(contains(section_of(html, "settings"), "<td>--optimizer</td><td>adam</td>"));
    BOOST_TEST(!contains(html, "http-equiv=\"refresh\""));  // training has ended: no more reloading
    const json facts = json::parse(read_text(dir + "/training.json"));
    BOOST_TEST(facts["status"] == "completed");
    BOOST_TEST(facts["model"] == "tinyvgg");
}

BOOST_AUTO_TEST_CASE(both_tools_work_on_an_image_folder_the_test_exports) {
    // The course's ImageFolder chapter: 300 real test images exported as JPEG class folders, a
    // 64×64 RGB TinyVGG trained on them with TrivialAugmentWide, then evaluated on the folder.
    if (!have_data()) return;
    TempDir dir;
    const std::string folder = dir / "folder", run_dir = dir / "run";
    BOOST_REQUIRE_EQUAL(run_tool("kiln-data", {"export", test_data, folder, "--format", "jpg", "--limit", "300"}).status, 0);
    const std::string spec = "imagefolder:" + folder + ",mode=rgb";
    std::ofstream(folder + "/Bag/scan.bmp") << "BM";  // left out, and the tools say so
    const ToolRun trained = run_tool("kiln-train", {"--data", spec, "--model", "tinyvgg", "--epochs", "1", "--threads", "2",
                                           "--train-transforms", "trivial_augment_wide;resize=64x64;to_tensor",
                                           "--eval-transforms", "resize=64x64;to_tensor", "--out", run_dir});
    BOOST_REQUIRE_EQUAL(trained.status, 0);
    BOOST_TEST(contains(trained.err, "kiln-train: warning: " + spec + ": left out 1 file whose extension kiln does not read: .bmp (1)"),
               trained.err);
    const json model = json::parse(read_text(run_dir + "/model.json"));
    BOOST_TEST(model.dump().find("resize=64x64") != std::string::npos, "the eval transforms are recorded");
    const ToolRun r = infer({run_dir, "--data", spec, "--json"});
    BOOST_REQUIRE_EQUAL(r.status, 0);
    const json j = json::parse(r.out);
    BOOST_TEST(j["samples"].get<int64_t>() == 300);
    int64_t total = 0;
    for (const json& row : j["confusion"])
        for (const json& cell : row) total += cell.get<int64_t>();
    BOOST_TEST(total == 300);
    BOOST_TEST(j["classes"].size() == 10u);  // the folder names, in torchvision's sorted order
    BOOST_TEST(j["classes"][0].get<std::string>() == "Ankle boot");
}

BOOST_AUTO_TEST_CASE(evaluation_numbers_agree_with_the_matrix_and_a_forward_pass) {
    if (!have_data()) return;
    const std::string& dir = kiln::testing::tiny_tinyvgg_run(1000);
    TempDir out;
    const ToolRun r = infer({dir, "--data", test_data, "--limit", "300", "--batch", "64", "--misclassified", "5", "--json", "--out", out.path});
    BOOST_REQUIRE_EQUAL(r.status, 0);
    const json j = json::parse(r.out);
    BOOST_TEST(j["samples"].get<int64_t>() == 300);

    const json& m = j["confusion"];
    BOOST_REQUIRE_EQUAL(m.size(), 10u);
    kiln::train::ConfusionMatrix cm(10);
    int64_t total = 0, trace = 0;
    for (int t = 0; t < 10; ++t)
        for (int p = 0; p < 10; ++p) {
            const int64_t c = m[size_t(t)][size_t(p)];
            total += c, trace += t == p ? c : 0;
            for (int64_t k = 0; k < c; ++k) cm.add(std::vector<int64_t>{t}, std::vector<int64_t>{p});
        }
    BOOST_TEST(total == 300);
    BOOST_TEST(j["accuracy"].get<double>() == double(trace) / 300, boost::test_tools::tolerance(1e-12));
    for (int c = 0; c < 10; ++c) {
        int64_t row = 0, col = 0;
        for (int k = 0; k < 10; ++k) row += m[size_t(c)][size_t(k)].get<int64_t>(), col += m[size_t(k)][size_t(c)].get<int64_t>();
        const int64_t tp = m[size_t(c)][size_t(c)];
        const json& pc = j["per_class"][size_t(c)];
        BOOST_TEST(pc["support"].get<int64_t>() == row);
        BOOST_TEST(pc["precision"].get<double>() == (col ? double(tp) / double(col) : 0.0), boost::test_tools::tolerance(1e-12));
        BOOST_TEST(pc["recall"].get<double>() == (row ? double(tp) / double(row) : 0.0), boost::test_tools::tolerance(1e-12));
    }

    const auto [loss, accuracy] = reference(dir, 300);
    BOOST_TEST(j["loss"].get<double>() == loss, boost::test_tools::tolerance(1e-4));
    BOOST_TEST(j["accuracy"].get<double>() == accuracy, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(accuracy > 0.3);  // it learnt something in two epochs

    BOOST_TEST(j["misclassified_total"].get<int64_t>() == 300 - trace);
    const json& wrong = j["misclassified"];
    BOOST_REQUIRE_EQUAL(wrong.size(), size_t(std::min<int64_t>(5, 300 - trace)));
    std::vector<kiln::report::GridCell> cells;
    for (const json& w : wrong) {
        BOOST_TEST(w["true"] != w["predicted"]);
        BOOST_TEST(w["index"].get<int64_t>() < 300);
        BOOST_TEST(w["p_predicted"].get<double>() >= w["p_true"].get<double>());
        BOOST_TEST(w["top"][0]["class"] == w["predicted"]);
        cells.push_back({kiln::image::Image{28, 28, 1, std::vector<uint8_t>(784)},
                         kiln::report::prediction_caption(w["true"].get<std::string>(), w["predicted"].get<std::string>(),
                                                          w["p_predicted"].get<double>())});
    }

    // The pictures have the sizes the report module gives this matrix and these captions.
    const std::vector<std::string> names = j["classes"];
    const kiln::image::Canvas heat = kiln::report::draw_confusion_matrix(cm, names, 2).canvas;
    const kiln::image::Image confusion = decode(out / "confusion.png");
    BOOST_TEST(confusion.width == heat.view().width);  // drawn at density 2: twice its units
    BOOST_TEST(confusion.height == heat.view().height);
    const kiln::image::Canvas grid = kiln::report::draw_image_grid(cells, {.density = 2}).canvas;
    const kiln::image::Image misclassified = decode(out / "misclassified.png");
    BOOST_TEST(misclassified.width == grid.view().width);
    BOOST_TEST(misclassified.height == grid.view().height);

    // report.html in --out: the evaluation, the run's curves, the matrix and the samples.
    const std::string html = read_text(out / "report.html");
    BOOST_TEST(count(html, "data:image/png;base64,") == 3u);
    const std::string evaluation = section_of(html, "evaluation");
    char accuracy_fact[64];
    std::snprintf(accuracy_fact, sizeof accuracy_fact, "<dd>%.2f %%</dd>", 100 * j["accuracy"].get<double>());
    BOOST_TEST(contains(evaluation, accuracy_fact), accuracy_fact);
    BOOST_TEST(contains(evaluation, "confusion matrix"));
    BOOST_TEST(contains(evaluation, "misclassified samples"));
    // The per-class table: a row per class with the numbers of --json, then the macro average.
    char row[160];
    const json& first = j["per_class"][0];
    std::snprintf(row, sizeof row, "<tr><td>T-shirt/top</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%lld</td></tr>",
                  first["precision"].get<double>(), first["recall"].get<double>(), first["f1"].get<double>(),
                  static_cast<long long>(first["support"].get<int64_t>()));
    BOOST_TEST(contains(evaluation, row), row);
    BOOST_TEST(contains(evaluation, "<tr class=\"marked\"><td>macro avg</td>"));
    BOOST_TEST(contains(html, "<td>--optimizer</td>"));  // the run's settings, from the run directory

    // The table says the same.
    const ToolRun table = infer({dir, "--data", test_data, "--limit", "300", "--out", out.path});
    BOOST_REQUIRE_EQUAL(table.status, 0);
    char line[64];
    std::snprintf(line, sizeof line, "accuracy  %.4f\nloss      %.4f\n", j["accuracy"].get<double>(), j["loss"].get<double>());
    BOOST_TEST(contains(table.out, line), table.out);
    BOOST_TEST(contains(table.out, "macro avg"));
    const ToolRun csv = infer({dir, "--data", test_data, "--limit", "300", "--csv", "--out", out.path});
    BOOST_REQUIRE_EQUAL(csv.status, 0);
    BOOST_TEST(csv.out.rfind("metric,value\nsamples,300\n", 0) == 0u, csv.out);
    BOOST_TEST(contains(csv.out, "\nclass,precision,recall,f1,support\nT-shirt/top,"), csv.out);

    // The evaluation stays in the report when --filters refreshes it.
    BOOST_TEST(json::parse(read_text(out / "evaluation.json"))["confusion"] == j["confusion"]);
    const std::string evaluated = section_of(read_text(out / "report.html"), "evaluation");
    BOOST_REQUIRE_EQUAL(infer({dir, "--filters", "--out", out.path}).status, 0);
    const std::string refreshed = read_text(out / "report.html");
    BOOST_TEST(count(refreshed, "data:image/png;base64,") == 4u);
    BOOST_TEST(section_of(refreshed, "evaluation") == evaluated);
}

BOOST_AUTO_TEST_CASE(the_run_page_keeps_what_every_tool_wrote) {
    // kiln-train, then kiln-infer's evaluation and filters into the run directory itself: the page
    // gains their sections and keeps kiln-train's word for word; every picture decodes, drawn at
    // density 2 and shown at half its pixel size.
    if (!have_data()) return;
    TempDir dir;
    const std::string run = dir / "run";
    BOOST_REQUIRE_EQUAL(run_tool("kiln-train", {"--data", "idx:" + fmnist, "--limit", "400", "--model", "tinyvgg", "--epochs", "2",
                                                "--threads", "2", "--schedule", "cosine", "--valid-split", "0.25", "--out", run})
                            .status,
                        0);
    const std::string trained = read_text(run + "/report.html");
    for (const char* id : {"run", "settings", "history"}) BOOST_TEST(!section_of(trained, id).empty(), id);
    BOOST_TEST(section_of(trained, "evaluation").empty());
    const std::string facts = section_of(trained, "run");
    BOOST_TEST(contains(facts, "<dt>model</dt><dd>tinyvgg ("), facts);
    BOOST_TEST(contains(facts, "<dt>started</dt><dd>20"), facts);
    BOOST_TEST(contains(facts, "<dt>training time</dt>"), facts);
    BOOST_TEST(contains(facts, "<dt>best epoch</dt><dd>"), facts);
    BOOST_TEST(contains(facts, "<dt>device</dt><dd>cpu"), facts);
    const std::string settings = section_of(trained, "settings");
    BOOST_TEST(contains(settings, "<tr><td>--schedule</td><td>cosine</td></tr>"), settings);
    BOOST_TEST(contains(settings, "<tr><td>--seed</td><td>42</td></tr>"), settings);
    BOOST_TEST(contains(settings, "<tr><td>--batch</td><td>32</td></tr>"), settings);
    BOOST_TEST(contains(section_of(trained, "history"), "<tr class=\"marked\">"));  // the best epoch's row

    BOOST_REQUIRE_EQUAL(infer({run, "--data", test_data, "--limit", "200"}).status, 0);
    BOOST_REQUIRE_EQUAL(infer({run, "--filters"}).status, 0);
    const std::string page = read_text(run + "/report.html");
    for (const char* id : {"run", "settings", "history"}) BOOST_TEST(section_of(page, id) == section_of(trained, id), id);
    const std::string evaluation = section_of(page, "evaluation");
    BOOST_TEST(contains(evaluation, "<th>class</th><th>precision</th><th>recall</th><th>f1</th><th>support</th>"));
    BOOST_TEST(count(evaluation, "<tr><td>") + count(evaluation, "<tr class=\"marked\"><td>") == 11u);  // 10 classes, the average
    BOOST_TEST(contains(evaluation, "<dd>" + test_data + " (200 samples)</dd>"), evaluation);
    BOOST_TEST(!section_of(page, "filters").empty());
    BOOST_TEST(page.find("id=\"history\"") < page.find("id=\"evaluation\""));

    // Every picture: curves, confusion matrix, misclassified samples, filters — PNGs whose pixels
    // are twice the size the page shows them at.
    const std::vector<EmbeddedPicture> pictures = embedded_pictures(page);
    BOOST_REQUIRE_EQUAL(pictures.size(), 4u);
    for (const EmbeddedPicture& p : pictures) {
        const kiln::image::Image img = kiln::image::decode(p.png, "embedded picture");
        BOOST_TEST((img.width == 2 * p.width && img.height == 2 * p.height), img.width << "×" << img.height << " shown as "
                                                                                       << p.width << "×" << p.height);
    }
    BOOST_TEST(pictures[0].png == kiln::image::read_file(run + "/curves.png"));
    BOOST_TEST(pictures[3].png == kiln::image::read_file(run + "/filters.png"));
    BOOST_TEST(pictures[3].width >= 8 * 60);  // eight filters a row, each about 64 units wide

    // A malformed training.json stops the page, naming the file and the field.
    std::ofstream(run + "/training.json") << json{{"model", "tinyvgg"}, {"parameters", "many"}}.dump();
    const ToolRun bad = infer({run, "--filters"});
    BOOST_TEST(bad.status == 1);
    BOOST_TEST(bad.err == "kiln-infer: error: " + run + "/training.json: parameters: expected a whole number from 0 to 268435456\n");
}

BOOST_AUTO_TEST_CASE(logits_csv_holds_every_sample_in_dataset_order) {
    // What scripts/test-device.sh compares a device's logits with: --limit N --batch 1 --logits.
    // 70 samples: at --batch 32 the last batch is a partial one.
    if (!have_data()) return;
    const std::string& dir = kiln::testing::tiny_tinyvgg_run(1000);
    TempDir out;
    const int64_t n = 70;
    const std::string one = out / "batch1.csv", many = out / "batch32.csv";
    const ToolRun r = infer({dir, "--data", test_data, "--limit", std::to_string(n), "--batch", "1", "--logits", one, "--json",
                         "--out", out.path});
    BOOST_REQUIRE_EQUAL(r.status, 0);
    const json j = json::parse(r.out);
    BOOST_TEST(contains(j["files"].dump(), one), j["files"].dump());
    const LogitsFile f = read_logits(one);
    BOOST_TEST(f.header == "index,label,predicted,logit_0,logit_1,logit_2,logit_3,logit_4,logit_5,logit_6,logit_7,logit_8,logit_9");
    BOOST_REQUIRE_EQUAL(f.rows.size(), size_t(n));

    // Indices 0..n-1 in order, the dataset's labels, predicted = the first largest logit.
    kiln::data::PluginRegistry plugins({KILN_TEST_PLUGIN_DIR});
    const kiln::data::Dataset data = plugins.open_dataset(test_data);
    kiln::data::SampleBuffer buf;
    int64_t correct = 0;
    for (int64_t i = 0; i < n; ++i) {
        const LogitsRow& row = f.rows[size_t(i)];
        BOOST_TEST(row.index == i);
        int64_t label = -1;
        data.get(i, buf, label);
        BOOST_TEST(row.label == label, "sample " << i);
        BOOST_REQUIRE_EQUAL(row.logits.size(), 10u);
        BOOST_TEST(row.predicted == kiln::train::argmax(row.logits), "sample " << i);
        correct += row.predicted == row.label;
    }
    BOOST_TEST(j["accuracy"].get<double>() == double(correct) / double(n), boost::test_tools::tolerance(1e-12));

    // Another batch size gives the same logits up to rounding: the CPU kernels fix their summation
    // order per shape, not across batch sizes, so bit equality is not promised. The tolerance is
    // relative to the row's largest logit (a logit near 0 carries the rounding of larger terms).
    BOOST_REQUIRE_EQUAL(infer({dir, "--data", test_data, "--limit", std::to_string(n), "--batch", "32", "--logits", many,
                               "--out", out.path})
                            .status,
                        0);
    const LogitsFile g = read_logits(many);
    BOOST_TEST(g.header == f.header);
    BOOST_REQUIRE_EQUAL(g.rows.size(), size_t(n));
    float worst = 0;
    for (size_t i = 0; i < size_t(n); ++i) {
        BOOST_TEST(g.rows[i].index == f.rows[i].index);
        BOOST_TEST(g.rows[i].label == f.rows[i].label);
        BOOST_REQUIRE_EQUAL(g.rows[i].logits.size(), 10u);
        float scale = 0;
        for (float v : f.rows[i].logits) scale = std::max(scale, std::fabs(v));
        for (size_t c = 0; c < 10; ++c) {
            const float d = std::fabs(g.rows[i].logits[c] - f.rows[i].logits[c]);
            worst = std::max(worst, d / scale);
            BOOST_TEST(d <= 1e-5f * scale, "sample " << i << " logit " << c << ": " << f.rows[i].logits[c] << " at --batch 1, "
                                                      << g.rows[i].logits[c] << " at --batch 32");
        }
    }
    BOOST_TEST_MESSAGE("largest difference between --batch 1 and 32, relative to the row's largest logit: " << worst);
}

BOOST_AUTO_TEST_CASE(predict_images_of_another_size_and_mode) {
    if (!have_data()) return;
    const std::string& dir = kiln::testing::tiny_tinyvgg_run(1000);
    TempDir tmp;
    kiln::image::Image grey{40, 50, 1, std::vector<uint8_t>(2000)};
    for (size_t i = 0; i < grey.pixels.size(); ++i) grey.pixels[i] = uint8_t(i % 50 < 25 ? 30 : 220);
    kiln::image::Image rgb{64, 48, 3, std::vector<uint8_t>(64 * 48 * 3)};
    for (size_t i = 0; i < rgb.pixels.size(); ++i) rgb.pixels[i] = uint8_t((i * 7) % 256);
    const std::string png = tmp / "grey.png", jpg = tmp / "colour.jpg";
    const auto write = [](const std::string& path, const std::vector<uint8_t>& bytes) {
        std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    };
    write(png, kiln::image::encode_png(kiln::image::view(grey)));
    write(jpg, kiln::image::encode_jpeg(kiln::image::view(rgb)));

    const ToolRun r = infer({dir, "--predict", png, jpg, "--top-k", "3", "--json"});
    BOOST_REQUIRE_EQUAL(r.status, 0);
    const json j = json::parse(r.out);
    const kiln::nn::ModelSpec spec = kiln::nn::read_model_file(dir + "/model.json");
    BOOST_REQUIRE_EQUAL(j["predictions"].size(), 2u);
    BOOST_TEST(j["predictions"][0]["image"] == png);
    BOOST_TEST(j["predictions"][1]["image"] == jpg);
    for (const json& p : j["predictions"]) {
        BOOST_REQUIRE_EQUAL(p["top"].size(), 3u);
        double sum = 0, previous = 1;
        for (const json& t : p["top"]) {
            const double prob = t["probability"];
            BOOST_TEST(prob <= previous);
            BOOST_TEST(prob >= 0);
            previous = prob, sum += prob;
            BOOST_TEST(t["class"] == spec.class_names[t["index"].get<size_t>()]);
        }
        BOOST_TEST(sum <= 1 + 1e-6);
    }

    const ToolRun table = infer({dir, "--predict", png, "--top-k", "2"});
    BOOST_REQUIRE_EQUAL(table.status, 0);
    BOOST_TEST(table.out.rfind(png + "\n  1. ", 0) == 0u, table.out);
    BOOST_TEST(contains(table.out, "\n  2. "));
    BOOST_TEST(!contains(table.out, "\n  3. "));
}

BOOST_AUTO_TEST_CASE(filters_of_the_first_convolution) {
    if (!have_data()) return;
    const std::string& dir = kiln::testing::tiny_tinyvgg_run(1000);
    TempDir out;
    const ToolRun r = infer({dir, "--filters", "--json", "--out", out.path});
    BOOST_REQUIRE_EQUAL(r.status, 0);
    const json j = json::parse(r.out);
    const std::vector<int64_t> shape = j["shape"];
    BOOST_REQUIRE_EQUAL(shape.size(), 4u);
    BOOST_TEST(shape[1] == 1);  // grey input
    kiln::Shape s;
    for (int64_t d : shape) s.push_back(d);
    const kiln::image::Canvas expected = kiln::report::draw_filters(std::vector<float>(size_t(s.numel())), s, {.density = 2}).canvas;
    const kiln::image::Image filters = decode(out / "filters.png");
    BOOST_TEST(filters.width == expected.view().width);
    BOOST_TEST(filters.height == expected.view().height);
    BOOST_TEST(contains(section_of(read_text(out / "report.html"), "filters"), "filters of the first convolution"));
}

BOOST_AUTO_TEST_CASE(a_run_without_validation_or_convolution) {
    if (!have_data()) return;
    TempDir dir;
    BOOST_REQUIRE_EQUAL(run_tool("kiln-train", {"--data", "idx:" + fmnist, "--limit", "200", "--model", "fmnist_linear", "--epochs",
                                           "1", "--threads", "2", "--valid-split", "0", "--out", dir / "linear"})
                            .status,
                        0);
    BOOST_TEST(decode(dir / "linear/curves.png").width == 1920);  // the training curves alone
    BOOST_TEST(count(read_text(dir / "linear/report.html"), "data:image/png;base64,") == 1u);
    const ToolRun r = infer({dir / "linear/best.safetensors", "--filters"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err == "kiln-infer: error: " + dir / "linear" + "/model.json: the model has no convolution, so no filters to draw\n");
}

BOOST_AUTO_TEST_CASE(usage_mistakes_and_a_missing_checkpoint) {
    TempDir dir;
    ToolRun r = infer({});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.rfind("kiln-infer: error: missing <run>\nusage: kiln-infer <run>", 0) == 0u, r.err);
    r = infer({dir.path, "--data", test_data, "--filters"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "give one of --data SPEC, --predict IMG… or --filters"), r.err);
    r = infer({dir.path, "--predict", "--json"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "--predict needs at least one image"), r.err);
    for (const char* mode : {"--predict", "--filters"}) {  // --logits belongs to an evaluation
        std::vector<std::string> args{dir.path, mode};
        if (std::string(mode) == "--predict") args.push_back(dir / "some.png");
        for (const std::string& w : {std::string("--logits"), dir / "logits.csv"}) args.push_back(w);
        r = infer(args);
        BOOST_TEST(r.status == 2, mode);
        BOOST_TEST(contains(r.err, "kiln-infer: error: --logits FILE goes with --data SPEC"), r.err);
        BOOST_TEST(contains(r.err, "usage: kiln-infer"), r.err);
        BOOST_TEST(!fs::exists(dir / "logits.csv"));
    }
    r = infer({dir.path, "--filters", "--invert", "yes"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "--fit, --invert and --background go with --predict IMG…"), r.err);
    r = infer({dir.path, "--predict", dir / "some.png", "--fit", "squash"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "--fit squash: expected one of object, pad, crop, stretch"), r.err);
    r = infer({dir.path, "--data", test_data, "--batch", "0"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "--batch 0: expected a whole number from 1"), r.err);
    r = infer({dir / "nothing-here", "--filters"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err == "kiln-infer: error: " + dir / "nothing-here" + "/best.safetensors: not found (is " + dir / "nothing-here" +
                            " a kiln-train run directory?)\n");
    r = infer({"--help"});
    BOOST_TEST(r.status == 0);
    BOOST_TEST(contains(r.out, "--top-k K"), r.out);
    BOOST_TEST(contains(r.out, "--logits FILE"), r.out);
}

// The run after the images, and more classes asked for than the run has: refused with a hint.
BOOST_AUTO_TEST_CASE(a_misplaced_run_and_too_many_classes) {
    if (!have_data()) return;
    const std::string& dir = kiln::testing::tiny_tinyvgg_run(1000);
    TempDir tmp;
    const std::string png = tmp / "shirt.png";
    const kiln::image::Image grey{28, 28, 1, std::vector<uint8_t>(28 * 28, 100)};
    const std::vector<uint8_t> bytes = kiln::image::encode_png(kiln::image::view(grey));
    std::ofstream(png, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    ToolRun r = infer({"--predict", png, dir});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "kiln-infer: error: the run comes first: "), r.err);
    BOOST_TEST(contains(r.err, " " + dir + " --predict " + png + "\n"), r.err);
    r = infer({dir, "--predict", png, "--top-k", "20"});
    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "--top-k 20: the run has 10 classes"), r.err);
    r = infer({dir, "--predict", png, "--top-k", "10"});
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(contains(r.out, "\n   1. "), r.out);  // the ranks right-aligned under " 10. "
    BOOST_TEST(contains(r.out, "\n  10. "), r.out);
}

BOOST_AUTO_TEST_CASE(an_unreadable_image_names_the_file) {
    if (!have_data()) return;
    TempDir tmp;
    std::ofstream(tmp / "not-an-image.png") << "hello";
    const ToolRun r = infer({kiln::testing::tiny_tinyvgg_run(1000), "--predict", tmp / "not-an-image.png"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err.rfind("kiln-infer: error: ", 0) == 0u, r.err);
    BOOST_TEST(contains(r.err, "not-an-image.png"), r.err);
}

// ---- predicting photos ----

namespace {

// A product as a user photographs it: the first test image of a class, drawn dark in a colour
// on wood (photo_like.h), saved as a 640×480 JPEG — and the sample itself as a 28×28 PNG.
struct Product {
    int64_t label;
    const char* name;
    kiln::image::Rgb colour;
};
const Product products[] = {
    {7, "sneaker", {200, 30, 40}},  // the user's red sneaker
    {9, "ankle_boot", {95, 60, 35}},
    {1, "trouser", {55, 75, 140}},
    {8, "bag", {60, 120, 70}},
};

// The photo; the sample as a 28×28 PNG; the sample pasted as it is — a black tile 336 pixels wide —
// on a light page, 640×480 (the report's "Fashion-MNIST ankle boot pasted onto a light background").
struct ProductFiles {
    std::string photo, sample, tile;
};

std::vector<ProductFiles> write_products(const TempDir& dir) {
    kiln::data::PluginRegistry plugins({KILN_TEST_PLUGIN_DIR});
    const kiln::data::Dataset data = plugins.open_dataset(test_data);
    kiln::data::SampleBuffer buf;
    std::vector<ProductFiles> files;
    for (const Product& p : products) {
        int64_t label = -1;
        kiln_array a{};
        for (int64_t i = 0; label != p.label; ++i) a = data.get(i, buf, label);
        const uint8_t* pixels = static_cast<const uint8_t*>(a.data);
        const kiln::image::Image sample{28, 28, 1, std::vector<uint8_t>(pixels, pixels + 784)};
        ProductFiles f{dir / (std::string(p.name) + ".jpg"), dir / (std::string(p.name) + "_28.png"),
                       dir / (std::string(p.name) + "_tile.png")};
        kiln::image::write_jpeg(f.photo, kiln::image::view(kiln::testing::photo_on_wood(sample, {.colour = p.colour})));
        kiln::image::write_png(f.sample, kiln::image::view(sample));
        kiln::image::Canvas page(640, 480, {235, 235, 230});
        page.blit(kiln::image::view(sample), 320 - 168, 240 - 168, 12);
        page.save_png(f.tile);
        files.push_back(f);
    }
    return files;
}

// "Sneaker 0.910, Sandal 0.050, Bag 0.020"
std::string top3(const json& prediction) {
    std::string s;
    for (size_t k = 0; k < 3 && k < prediction["top"].size(); ++k) {
        const json& t = prediction["top"][k];
        char p[16];
        std::snprintf(p, sizeof p, " %.3f", t["probability"].get<double>());
        s += (s.empty() ? "" : ", ") + t["class"].get<std::string>() + p;
    }
    return s;
}

// The probability the prediction gives `cls` (0 when it is not among the top).
double probability_of(const json& prediction, const std::string& cls) {
    for (const json& t : prediction["top"])
        if (t["class"] == cls) return t["probability"];
    return 0;
}

}  // namespace

// The photo cases need a model trained on all of Fashion-MNIST (2 epochs, ~20 s natively); where
// the tests run slowed down (sanitizers, qemu) they are left to the native run, and say so.
bool full_model_affordable() {
    if (!kiln::testing::quick()) return true;
    std::printf("skipped under KILN_TEST_QUICK: training the 60,000-image model these photo cases need; the native run checks them\n");
    return false;
}

BOOST_AUTO_TEST_CASE(photos_on_wood_are_predicted_as_what_they_show) {
    if (!have_data() || !full_model_affordable()) return;
    const std::string& run = kiln::testing::fashion_tinyvgg_run();
    TempDir dir;
    const std::vector<ProductFiles> files = write_products(dir);
    std::vector<std::string> photos, samples, tiles;
    for (const ProductFiles& f : files) photos.push_back(f.photo), samples.push_back(f.sample), tiles.push_back(f.tile);
    const auto predict = [&](const std::vector<std::string>& images, const std::vector<std::string>& options) {
        std::vector<std::string> args{run, "--predict"};
        args.insert(args.end(), images.begin(), images.end());
        args.insert(args.end(), options.begin(), options.end());
        for (const std::string& a : {std::string("--top-k"), std::string("10"), std::string("--json"), std::string("--out"), dir.path.string()})
            args.push_back(a);
        const ToolRun r = infer(args);
        BOOST_REQUIRE_EQUAL(r.status, 0);
        return std::pair{json::parse(r.out)["predictions"], r.err};
    };
    const kiln::nn::ModelSpec spec = kiln::nn::read_model_file(run + "/model.json");

    // The samples themselves, as the model was trained on them: right, and not inverted.
    const auto [as_trained, no_warning] = predict(samples, {});
    BOOST_TEST(no_warning.empty(), no_warning);
    // The photos, prepared (--fit object, --invert auto), and as kiln prepared them before.
    const auto [now, now_err] = predict(photos, {});
    const std::vector<std::string> old_preparation = {"--fit", "stretch", "--invert", "no", "--background", "keep"};
    const auto [before, before_err] = predict(photos, old_preparation);
    // The tiles: their black square is the object's own background, so they are not inverted.
    const auto [tiles_now, tiles_err] = predict(tiles, {});
    const auto [tiles_before, tiles_before_err] = predict(tiles, old_preparation);
    double p_now = 0, p_before = 0, p_tiles_now = 0, p_tiles_before = 0;
    int right_before = 0, tiles_right_before = 0;
    for (size_t k = 0; k < files.size(); ++k) {
        const std::string truth = spec.class_names[size_t(products[k].label)];
        std::printf("%-10s  28×28 sample: %s\n            photo now:    %s\n            photo before: %s\n"
                    "            tile now:     %s\n            tile before:  %s\n",
                    products[k].name, top3(as_trained[k]).c_str(), top3(now[k]).c_str(), top3(before[k]).c_str(),
                    top3(tiles_now[k]).c_str(), top3(tiles_before[k]).c_str());
        BOOST_TEST(as_trained[k]["top"][0]["class"] == truth, products[k].name);
        BOOST_TEST(!as_trained[k]["inverted"].get<bool>());
        BOOST_TEST(now[k]["top"][0]["class"] == truth, products[k].name << ": " << top3(now[k]));
        BOOST_TEST(now[k]["inverted"].get<bool>());
        BOOST_TEST(!before[k]["inverted"].get<bool>());
        BOOST_TEST(tiles_now[k]["top"][0]["class"] == truth, products[k].name << " tile: " << top3(tiles_now[k]));
        BOOST_TEST(!tiles_now[k]["inverted"].get<bool>());
        p_now += probability_of(now[k], truth), p_before += probability_of(before[k], truth);
        p_tiles_now += probability_of(tiles_now[k], truth), p_tiles_before += probability_of(tiles_before[k], truth);
        right_before += before[k]["top"][0]["class"] == truth;
        tiles_right_before += tiles_before[k]["top"][0]["class"] == truth;
    }
    // Before, the sneaker on wood and the pasted ankle boot were the report's mistakes; the photos
    // and tiles as a whole were less right.
    BOOST_TEST(before[0]["top"][0]["class"] != "Sneaker", top3(before[0]));
    BOOST_TEST(tiles_before[1]["top"][0]["class"] != "Ankle boot", top3(tiles_before[1]));
    BOOST_TEST(right_before < int(files.size()));
    BOOST_TEST(tiles_right_before < int(files.size()));
    BOOST_TEST(p_before < p_now);
    BOOST_TEST(p_tiles_before < p_tiles_now);
    BOOST_TEST(tiles_err.empty(), tiles_err);
    BOOST_TEST(now_err.empty(), now_err);
    // Photos of products on a table prepared as before are unlike the training images, and the
    // tool says so.
    BOOST_TEST(contains(before_err, "kiln-infer: warning: " + photos[0] + " is unlike the training images"), before_err);
    BOOST_TEST(contains(before_err, "its background is light"), before_err);

    // What the model got, beside its top classes, for the report.
    const kiln::image::Image picture = decode(dir / "predictions.png");
    BOOST_TEST(picture.width >= 2 * 4 * 28);  // 2 columns of 4 images scaled 4 times
    BOOST_TEST(contains(read_text(dir / "report.html"), "predicted images as the model got them"));
}

BOOST_AUTO_TEST_CASE(an_image_that_cannot_be_read_leaves_the_others_predicted) {
    if (!have_data() || !full_model_affordable()) return;
    const std::string& run = kiln::testing::fashion_tinyvgg_run();
    TempDir dir;
    const std::vector<ProductFiles> files = write_products(dir);
    std::ofstream(dir / "text.png") << "not an image";
    const std::string missing = dir / "missing.jpg", text = dir / "text.png";
    ToolRun r = infer({run, "--predict", files[0].photo, missing, text, files[1].photo, "--out", dir.path});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(contains(r.out, files[0].photo + " (inverted)\n  1. Sneaker"), r.out);
    BOOST_TEST(contains(r.out, files[1].photo + " (inverted)\n  1. Ankle boot"), r.out);
    BOOST_TEST(contains(r.err, "kiln-infer: error: " + missing), r.err);
    BOOST_TEST(contains(r.err, "kiln-infer: error: " + text), r.err);
    BOOST_TEST(contains(r.err, "kiln-infer: 2 of 4 images could not be predicted"), r.err);
    BOOST_TEST(fs::exists(dir / "predictions.png"));
    r = infer({run, "--predict", missing, files[2].photo, "--json", "--out", dir.path});
    BOOST_TEST(r.status == 1);
    const json j = json::parse(r.out);
    BOOST_REQUIRE_EQUAL(j["predictions"].size(), 2u);
    BOOST_TEST(j["predictions"][0]["image"] == missing);
    BOOST_TEST(contains(j["predictions"][0]["error"].get<std::string>(), missing));
    BOOST_TEST(j["predictions"][1]["top"][0]["class"] == "Trouser");
}

BOOST_AUTO_TEST_CASE(a_run_without_statistics_inverts_nothing_and_says_so_once) {
    if (!have_data() || !full_model_affordable()) return;
    const std::string& run = kiln::testing::fashion_tinyvgg_run();
    TempDir dir;
    const std::vector<ProductFiles> files = write_products(dir);
    // A run from before kiln-train measured its images.
    json model = json::parse(read_text(run + "/model.json"));
    BOOST_REQUIRE(model.contains("input_statistics"));
    model.erase("input_statistics");
    fs::create_directories(dir / "old");
    std::ofstream(dir / "old/model.json") << model.dump(2);
    fs::copy_file(run + "/best.safetensors", dir / "old/best.safetensors");
    const ToolRun r = infer({dir / "old", "--predict", files[0].photo, files[1].photo, "--json"});
    BOOST_REQUIRE_EQUAL(r.status, 0);
    BOOST_TEST(count(r.err, "records no input statistics") == 1u, r.err);
    const json j = json::parse(r.out);
    for (const json& p : j["predictions"]) BOOST_TEST(!p["inverted"].get<bool>());
    const ToolRun yes = infer({dir / "old", "--predict", files[0].photo, "--invert", "yes", "--json"});
    BOOST_REQUIRE_EQUAL(yes.status, 0);
    BOOST_TEST(!contains(yes.err, "records no input statistics"), yes.err);
    BOOST_TEST(json::parse(yes.out)["predictions"][0]["inverted"].get<bool>());
}

BOOST_AUTO_TEST_SUITE_END()
