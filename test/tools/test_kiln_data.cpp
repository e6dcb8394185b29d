// kiln-data run as a user runs it, on a small IDX dataset the test writes: what info prints, the
// pixels of the grid it draws, the ImageFolder tree export writes (read back through the
// imagefolder plugin), the plugins it lists, and its exit statuses. The tool's folder reaches the
// test as a compile definition; in a cross build it starts through KILN_EXE_WRAPPER (qemu).
#define BOOST_TEST_MODULE kiln_data
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "kiln/data/plugin_registry.h"
#include "kiln/image/codec.h"
#include "kiln/image/draw.h"
#include "temp_dir.h"
#include "tool_process.h"

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

const std::string tool = std::string(KILN_TOOLS_DIR) + "/kiln-data";

struct Run {
    int status = -1;
    std::string out, err;  // stdout, stderr
};

using kiln::testing::read_text;
using kiln::testing::shell_quoted;

// Runs kiln-data with `args`; `env` is prepended to the command line ("NAME=value ").
Run kiln_data(const std::vector<std::string>& args, const std::string& env = "") {
    BOOST_REQUIRE_MESSAGE(fs::exists(tool), tool << " is not built");
    static TempDir scratch;
    std::string cmd = env + kiln::testing::tool_command(tool, args);
    BOOST_TEST_MESSAGE(cmd);
    cmd += " 2>";
    cmd += shell_quoted(scratch / "stderr");
    Run r;
    FILE* p = ::popen(cmd.c_str(), "r");
    BOOST_REQUIRE(p);
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
    const int status = ::pclose(p);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.err = read_text(scratch / "stderr");
    BOOST_TEST_MESSAGE("→ " << r.status << "\n" << r.out << r.err);
    return r;
}

bool has_line(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        if (l == line) return true;
    return false;
}

// ---- a small IDX dataset: 12 images of 5 rows × 4 columns, Fashion-MNIST class names ----
constexpr int64_t count = 12, rows = 5, cols = 4;
const std::vector<uint8_t> labels = {0, 1, 1, 9, 0, 8, 8, 8, 3, 1, 0, 9};  // 3 × class 0, 3 × 1, 1 × 3, 3 × 8, 2 × 9

uint8_t pixel(int64_t i, int64_t y, int64_t x) { return uint8_t(i * 17 + y * 40 + x * 9 + 3); }

void put_u32(Bytes& b, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

void write_bytes(const std::string& path, const Bytes& b) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    BOOST_REQUIRE(f.good());
}

struct SmallIdx {
    TempDir dir;
    std::string spec = "idx:" + dir.path.string() + ",classes=fashion";
    SmallIdx() {
        Bytes images{0, 0, 0x08, 3}, label_file{0, 0, 0x08, 1};  // magic 0x00000803 / 0x00000801
        put_u32(images, count), put_u32(images, rows), put_u32(images, cols);
        for (int64_t i = 0; i < count; ++i)
            for (int64_t y = 0; y < rows; ++y)
                for (int64_t x = 0; x < cols; ++x) images.push_back(pixel(i, y, x));
        put_u32(label_file, count);
        label_file.insert(label_file.end(), labels.begin(), labels.end());
        write_bytes(dir / "train-images-idx3-ubyte", images);
        write_bytes(dir / "train-labels-idx1-ubyte", label_file);
    }
};

// "  sample 7 (Sneaker) at x=10 y=6, 8 × 10" lines of grid's output.
struct Placed {
    int64_t index, x, y, w, h;
    std::string label;
};
std::vector<Placed> placements(const std::string& out) {
    static const std::regex line(R"(  sample (\d+) \((.*)\) at x=(\d+) y=(\d+), (\d+) × (\d+))");
    std::vector<Placed> p;
    std::istringstream in(out);
    for (std::string l; std::getline(in, l);)
        if (std::smatch m; std::regex_match(l, m, line))
            p.push_back({std::stoll(m[1]), std::stoll(m[3]), std::stoll(m[4]), std::stoll(m[5]), std::stoll(m[6]), m[2]});
    return p;
}

}  // namespace

BOOST_AUTO_TEST_CASE(info_prints_size_classes_and_counts_per_class) {
    SmallIdx data;
    const Run r = kiln_data({"info", data.spec});
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(has_line(r.out, "samples       12"));
    BOOST_TEST(has_line(r.out, "classes       10"));
    BOOST_TEST(has_line(r.out, "images        5 × 4 (height × width), 1 channel (grey)"));
    const std::map<std::string, int> expected = {{"T-shirt/top", 3}, {"Trouser", 3}, {"Pullover", 0}, {"Dress", 1},
                                                 {"Coat", 0},        {"Sandal", 0},  {"Shirt", 0},    {"Sneaker", 0},
                                                 {"Bag", 3},         {"Ankle boot", 2}};
    std::map<std::string, int> counted;
    static const std::regex row(R"(\s*(\d+)  (.*\S)\s+(\d+))");
    std::istringstream in(r.out.substr(r.out.find("class  name")));
    for (std::string l; std::getline(in, l);)
        if (std::smatch m; std::regex_match(l, m, row)) counted[m[2]] = std::stoi(m[3]);
    BOOST_TEST((counted == expected), r.out);
}

BOOST_AUTO_TEST_CASE(grid_draws_the_chosen_samples_with_their_labels) {
    SmallIdx data;
    TempDir out;
    const Run r = kiln_data({"grid", data.spec, "--out", out / "grid.png", "--n", "5", "--cols", "2", "--seed", "7",
                             "--scale", "2"});
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    const std::vector<Placed> cells = placements(r.out);
    BOOST_TEST_REQUIRE(cells.size() == 5u);

    // The layout: cells as wide as the widest image or label, 6 pixels apart and from the edges;
    // a cell is the image, a 2-pixel gap and a line of text.
    int64_t cell_w = cols * 2;
    for (const Placed& c : cells) cell_w = std::max(cell_w, kiln::image::text_width(c.label));
    const int64_t cell_h = rows * 2 + 2 + kiln::image::text_height();
    const kiln::image::Image png = kiln::image::decode_file(out / "grid.png");
    BOOST_TEST(png.width == 2 * (cell_w + 6) + 6);
    BOOST_TEST(png.height == 3 * (cell_h + 6) + 6);

    kiln::data::PluginRegistry plugins({KILN_TEST_PLUGIN_DIR});
    const kiln::data::Dataset ds = plugins.open_dataset(data.spec);
    std::vector<int64_t> indices;
    for (const Placed& c : cells) {
        indices.push_back(c.index);
        BOOST_TEST(c.label == std::string(ds.class_name(labels[size_t(c.index)])));
        BOOST_TEST((c.w == cols * 2 && c.h == rows * 2));
        bool same = true;  // every canvas pixel of the image is the sample's grey value
        for (int64_t y = 0; y < c.h; ++y)
            for (int64_t x = 0; x < c.w; ++x) {
                const uint8_t* p = &png.pixels[size_t(((c.y + y) * png.width + c.x + x) * 3)];
                const uint8_t v = pixel(c.index, y / 2, x / 2);
                same &= p[0] == v && p[1] == v && p[2] == v;
            }
        BOOST_TEST(same, "sample " << c.index << " at (" << c.x << ", " << c.y << ")");
        int dark = 0;  // the label is drawn in black in the cell's text line, under the image
        const int64_t cell_x = c.x - (cell_w - c.w) / 2;
        for (int64_t y = c.y + c.h + 2; y < c.y + c.h + 2 + kiln::image::text_height(); ++y)
            for (int64_t x = cell_x; x < cell_x + cell_w; ++x) dark += png.pixels[size_t((y * png.width + x) * 3)] == 0;
        BOOST_TEST(dark > 10);
    }
    std::sort(indices.begin(), indices.end());
    BOOST_TEST((std::adjacent_find(indices.begin(), indices.end()) == indices.end()), "a sample drawn twice");
    BOOST_TEST(indices.back() < count);

    const Run again = kiln_data({"grid", data.spec, "--out", out / "again.png", "--n", "5", "--cols", "2", "--seed",
                                 "7", "--scale", "2"});
    BOOST_TEST(kiln::image::read_file(out / "again.png") == kiln::image::read_file(out / "grid.png"));
}

BOOST_AUTO_TEST_CASE(grid_scales_tensors_from_a_pipeline_back_to_0_255) {
    SmallIdx data;
    TempDir out;
    const Run r = kiln_data({"grid", data.spec, "--out", out / "t.png", "--n", "2", "--scale", "1", "--transform",
                             "to_tensor;normalize=mean=0.5,std=0.25"});
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    const kiln::image::Image png = kiln::image::decode_file(out / "t.png");
    for (const Placed& c : placements(r.out)) {
        int lo = 255, hi = 0;
        for (int64_t y = 0; y < rows; ++y)
            for (int64_t x = 0; x < cols; ++x) lo = std::min<int>(lo, pixel(c.index, y, x)), hi = std::max<int>(hi, pixel(c.index, y, x));
        for (int64_t y = 0; y < rows; ++y)
            for (int64_t x = 0; x < cols; ++x) {
                const double expected = (pixel(c.index, y, x) - lo) * 255.0 / (hi - lo);
                const int got = png.pixels[size_t(((c.y + y) * png.width + c.x + x) * 3)];
                BOOST_TEST(std::abs(got - expected) <= 0.51, "sample " << c.index << " (" << x << ", " << y << ")");
            }
    }
}

BOOST_AUTO_TEST_CASE(export_writes_an_image_folder_that_reads_back_the_same_pixels) {
    SmallIdx data;
    TempDir out;
    const std::string root = out / "tree";
    const Run r = kiln_data({"export", data.spec, root});
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    // Only classes with samples get a folder; names are made safe, files zero-padded indices.
    const std::map<std::string, std::vector<std::string>> expected = {
        {"T-shirt_top", {"00.png", "04.png", "10.png"}}, {"Trouser", {"01.png", "02.png", "09.png"}},
        {"Dress", {"08.png"}}, {"Bag", {"05.png", "06.png", "07.png"}}, {"Ankle boot", {"03.png", "11.png"}}};
    std::map<std::string, std::vector<std::string>> tree;
    for (const auto& folder : fs::directory_iterator(root))
        for (const auto& file : fs::directory_iterator(folder.path()))
            tree[folder.path().filename().string()].push_back(file.path().filename().string());
    for (auto& [folder, files] : tree) std::sort(files.begin(), files.end());
    BOOST_TEST((tree == expected));
    BOOST_TEST(r.out.find("class 0 T-shirt/top      -> T-shirt_top/, imagefolder class 3") != std::string::npos, r.out);
    BOOST_TEST(r.out.find("class 4 Coat             -> Coat/, not written (no samples)") != std::string::npos);

    kiln::data::PluginRegistry plugins({KILN_TEST_PLUGIN_DIR});
    const kiln::data::Dataset back = plugins.open_dataset("imagefolder:" + root + ",mode=grey");
    const std::vector<std::string> sorted = {"Ankle boot", "Bag", "Dress", "T-shirt_top", "Trouser"};
    BOOST_TEST((back.class_names() == sorted));
    BOOST_TEST_REQUIRE(back.size() == count);
    // imagefolder's order: by class folder (sorted), then by file name, i.e. by dataset index.
    const kiln::data::Dataset original = plugins.open_dataset(data.spec);
    std::vector<int64_t> order;
    for (const char* name : {"Ankle boot", "Bag", "Dress", "T-shirt/top", "Trouser"})
        for (int64_t i = 0; i < count; ++i)
            if (original.class_name(labels[size_t(i)]) == name) order.push_back(i);
    kiln::data::SampleBuffer buf;
    for (int64_t k = 0; k < count; ++k) {
        int64_t label = -1;
        const kiln_array s = back.get(k, buf, label);
        const int64_t i = order[size_t(k)];
        BOOST_TEST_REQUIRE((s.rank == 3 && s.shape[0] == rows && s.shape[1] == cols && s.shape[2] == 1));
        bool same = true;
        for (int64_t y = 0; y < rows; ++y)
            for (int64_t x = 0; x < cols; ++x) same &= static_cast<const uint8_t*>(s.data)[y * cols + x] == pixel(i, y, x);
        BOOST_TEST(same, "imagefolder sample " << k << " is not dataset sample " << i);
    }

    const Run twice = kiln_data({"export", data.spec, root});
    BOOST_TEST(twice.status == 1);
    BOOST_TEST(twice.err == "kiln-data: error: " + root + ": exists and is not empty (export writes a new tree)\n");
}

// Files an image folder holds that kiln cannot read are not left out silently: info counts them
// by extension (torchvision skips them without a word).
BOOST_AUTO_TEST_CASE(info_reports_the_files_an_image_folder_leaves_out) {
    SmallIdx data;
    TempDir out;
    const std::string root = out / "tree";
    BOOST_TEST_REQUIRE(kiln_data({"export", data.spec, root, "--limit", "3"}).status == 0);
    write_bytes(root + "/Trouser/scan.bmp", {'B', 'M'});
    write_bytes(root + "/Trouser/scan2.BMP", {'B', 'M'});
    write_bytes(root + "/T-shirt_top/labels.txt", {'x'});
    const Run r = kiln_data({"info", "imagefolder:" + root});
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    BOOST_TEST(r.out.find("\nnotes (from the plugin):\n  left out 3 files whose extension kiln does not read: .bmp (2), "
                          ".txt (1) (kiln reads .png, .jpg and .jpeg)\n") != std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(export_writes_jpeg_and_stops_at_the_limit) {
    SmallIdx data;
    TempDir out;
    const Run r = kiln_data({"export", data.spec, out / "jpg", "--format", "jpg", "--quality", "95", "--limit", "4"});
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    int files = 0;
    for (const auto& f : fs::recursive_directory_iterator(out.path / "jpg"))
        if (f.is_regular_file()) {
            ++files;
            BOOST_TEST(f.path().extension() == ".jpg");
            const kiln::image::Image img = kiln::image::decode_file(f.path().string(), {.mode = kiln::image::ColorMode::grey});
            BOOST_TEST((img.width == cols && img.height == rows));
        }
    BOOST_TEST(files == 4);
    BOOST_TEST(fs::exists(out.path / "jpg" / "Ankle boot" / "3.jpg"));
}

BOOST_AUTO_TEST_CASE(plugins_lists_plugins_transforms_and_files_it_could_not_use) {
    TempDir extra;
    write_bytes(extra / "kiln-broken.so", Bytes{'n', 'o', 't', ' ', 'E', 'L', 'F'});
    const Run r = kiln_data({"plugins"}, "KILN_PLUGIN_PATH=" + shell_quoted(extra.path.string()) + " ");
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    BOOST_TEST(r.out.find("  idx ") != std::string::npos);
    BOOST_TEST(r.out.find("  imagefolder ") != std::string::npos);
    BOOST_TEST(r.out.find("  transforms ") != std::string::npos);
    BOOST_TEST(r.out.find("      to_tensor ") != std::string::npos);
    BOOST_TEST(r.out.find("      random_horizontal_flip ") != std::string::npos);
    const size_t problems = r.out.find("\nproblems (");
    BOOST_TEST_REQUIRE(problems != std::string::npos, r.out);
    BOOST_TEST(r.out.find("\n  " + (extra / "kiln-broken.so") + "\n", problems) != std::string::npos, r.out);
}

// The plugins test/data builds to break the ABI: the ones kiln refuses are listed with the reason,
// and the one that loads but lies about a sample stops info with an error, not a crash.
BOOST_AUTO_TEST_CASE(plugins_that_break_the_abi_are_listed_or_refused_with_the_reason) {
    const std::string bad = KILN_TEST_BAD_PLUGIN_DIR, env = "KILN_PLUGIN_PATH=" + shell_quoted(bad) + " ";
    const Run r = kiln_data({"plugins"}, env);
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    BOOST_TEST(r.out.find("  misbehaving 0.0.1 (dataset)") != std::string::npos, r.out);
    BOOST_TEST(r.out.find("  " + bad + "/kiln-incomplete.so\n    plugin " + bad + "/kiln-incomplete.so: its dataset API has no get function") !=
                   std::string::npos, r.out);
    BOOST_TEST(r.out.find("built for plugin ABI 999, this kiln uses ABI 2") != std::string::npos, r.out);
    BOOST_TEST(r.out.find("has no kiln_plugin_entry function") != std::string::npos, r.out);
    const Run lie = kiln_data({"info", "misbehaving:lie"}, env);
    BOOST_TEST(lie.status == 1);
    BOOST_TEST(lie.err == "kiln-data: error: misbehaving:lie: delivered u8 [1000, 1000, 1], 1,000,000 bytes in a buffer of 64 bytes "
                          "(sample 0)\n", lie.err);
}

BOOST_AUTO_TEST_CASE(an_unknown_plugin_is_an_error_with_status_1) {
    const Run r = kiln_data({"info", "nosuch:/data"});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.out.empty());
    BOOST_TEST(r.err.rfind("kiln-data: error: no dataset plugin named 'nosuch' (available: idx, imagefolder", 0) == 0, r.err);
}

BOOST_AUTO_TEST_CASE(usage_mistakes_give_status_2_and_the_usage) {
    SmallIdx data;
    const Run flag = kiln_data({"grid", data.spec, "--out", "x.png", "--bogus"});
    BOOST_TEST(flag.status == 2);
    BOOST_TEST(flag.err.rfind("kiln-data: error: unknown option --bogus\nusage: kiln-data grid <dataset> --out FILE.png", 0) == 0,
               flag.err);
    const Run number = kiln_data({"grid", data.spec, "--out", "x.png", "--n", "many"});
    BOOST_TEST(number.status == 2);
    BOOST_TEST(number.err.find("--n many: expected a whole number from 1 to 1024") != std::string::npos, number.err);
    BOOST_TEST(kiln_data({"info"}).status == 2);                           // missing <dataset>
    BOOST_TEST(kiln_data({"grid", data.spec}).status == 2);                // --out is required
    BOOST_TEST(kiln_data({"export", data.spec, "o", "--quality", "80"}).status == 2);  // only for jpg
    BOOST_TEST(kiln_data({}).status == 2);
    BOOST_TEST(kiln_data({"frobnicate"}).status == 2);
}

BOOST_AUTO_TEST_CASE(every_command_has_help) {
    const Run top = kiln_data({"--help"});
    BOOST_TEST(top.status == 0);
    BOOST_TEST(top.out.rfind("usage: kiln-data <command>", 0) == 0);
    for (const std::string command : {"plugins", "info", "grid", "export"}) {
        const Run r = kiln_data({command, "--help"});
        BOOST_TEST(r.status == 0);
        BOOST_TEST(r.out.rfind("usage: kiln-data " + command, 0) == 0, r.out);
        BOOST_TEST(r.out.find("-h, --help") != std::string::npos);
    }
}

const std::string fashion_dir = "/usr/share/datasets/fashion-mnist";

boost::test_tools::assertion_result fashion_mnist_installed(boost::unit_test::test_unit_id) {
    boost::test_tools::assertion_result ok(fs::exists(fashion_dir));
    ok.message() << fashion_dir << " does not exist";
    return ok;
}

BOOST_AUTO_TEST_CASE(info_on_fashion_mnist, *boost::unit_test::precondition(fashion_mnist_installed)) {
    const Run r = kiln_data({"info", "idx:" + fashion_dir});
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    BOOST_TEST(has_line(r.out, "samples       60000"));
    BOOST_TEST(has_line(r.out, "classes       10"));
    BOOST_TEST(has_line(r.out, "    0  T-shirt/top              6000"));
    BOOST_TEST(has_line(r.out, "    9  Ankle boot               6000"));
}
