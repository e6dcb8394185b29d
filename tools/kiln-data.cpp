// kiln-data: look at datasets and plugins from the command line.
//   kiln-data plugins                       the plugins found, and the files that could not be used
//   kiln-data info <dataset>                size, classes, count per class, image shape
//   kiln-data grid <dataset> --out F.png    a picture of random samples with their class names
//   kiln-data export <dataset> <out-root>   an ImageFolder tree of PNG or JPEG files
// A dataset is "<plugin>:<config>" (kiln/data/README.md), e.g. idx:/usr/share/datasets/fashion-mnist.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "args.h"
#include "kiln/core/error.h"
#include "kiln/core/rng.h"
#include "kiln/data/plugin_registry.h"
#include "kiln/image/codec.h"
#include "kiln/report/grid.h"
#include "kiln/report/save.h"

namespace {

namespace fs = std::filesystem;
namespace image = kiln::image;
using kiln::Errc;
using kiln::fail;
using kiln::data::Dataset;
using kiln::data::PluginRegistry;
using kiln::tools::Args;
using kiln::tools::Command;
using kiln::tools::Required;

// Prints a command's help; the exit status of a command asked for --help.
int print(const std::string& help) {
    std::fputs(help.c_str(), stdout);
    return 0;
}

const char* const dataset_help = "<plugin>:<config>, e.g. idx:/usr/share/datasets/fashion-mnist,split=test";

// The text under a sample: its class name, or the target of a regression dataset (whose plugin
// returns the f32 bit pattern in the label's low 32 bits).
std::string label_text(const Dataset& ds, int64_t label) {
    if (ds.num_classes() == 0) {
        const uint32_t bits = uint32_t(label);
        float target;
        std::memcpy(&target, &bits, sizeof target);
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.4g", target);
        return buf;
    }
    if (label < 0 || label >= ds.num_classes()) return "label " + std::to_string(label);
    return std::string(ds.class_name(int32_t(label)));
}

// ---- plugins ----

int plugins_command(int argc, char** argv) {
    Command cmd("kiln-data plugins",
                "Lists the plugins found on the search path (KILN_PLUGIN_PATH, the program's folder,\n"
                "../plugins beside it, the install folder) with the transforms each offers, and every\n"
                "kiln-*.so that could not be used, with the reason.");
    const Args a = cmd.parse(argc, argv, 2);
    if (a.help) return print(cmd.help());

    PluginRegistry registry;
    std::printf("search path:\n");
    for (const std::string& folder : registry.search_path()) std::printf("  %s\n", folder.c_str());
    std::printf("\nplugins (%zu):\n", registry.plugins().size());
    for (const kiln::data::PluginInfo& p : registry.plugins()) {
        std::printf("  %s %s%s\n    %s\n    %s\n", p.name.c_str(), p.version.c_str(), p.has_dataset ? " (dataset)" : "",
                    p.path.c_str(), p.description.c_str());
        if (!p.transforms.empty()) std::printf("    transforms:\n");
        for (const std::string& t : p.transforms)
            std::printf("      %-24s %s\n", t.c_str(), registry.find_transform(t)->description);
    }
    std::printf("\nproblems (%zu):%s\n", registry.problems().size(), registry.problems().empty() ? " none" : "");
    for (const kiln::data::PluginProblem& p : registry.problems())
        std::printf("  %s\n    %s\n", p.path.c_str(), p.message.c_str());
    return 0;
}

// ---- info ----

// "28 × 28" or "16..32 × 20..40" from the smallest and largest value of each dimension.
std::string dims_text(const std::vector<int64_t>& lo, const std::vector<int64_t>& hi, size_t from, size_t to) {
    std::string s;
    for (size_t d = from; d < to; ++d) {
        s += d == from ? "" : " × ";
        s += std::to_string(lo[d]) + (lo[d] == hi[d] ? "" : ".." + std::to_string(hi[d]));
    }
    return s;
}

int info_command(int argc, char** argv) {
    Command cmd("kiln-data info",
                "Reads every sample of a dataset and prints its size, classes, the number of samples\n"
                "in each class and the shape of its samples.");
    cmd.positional("dataset", dataset_help);
    const Args a = cmd.parse(argc, argv, 2);
    if (a.help) return print(cmd.help());

    PluginRegistry registry;
    const Dataset ds = registry.open_dataset(a.positionals[0]);
    const int32_t classes = ds.num_classes();
    std::vector<int64_t> per_class(size_t(classes), 0);
    int64_t other_labels = 0;
    // Every sample is read: sizes may vary (photos) and labels are known only by reading them.
    kiln::data::SampleBuffer buf;
    kiln_array first{};
    std::vector<int64_t> lo, hi;
    for (int64_t i = 0; i < ds.size(); ++i) {
        int64_t label = 0;
        const kiln_array s = ds.get(i, buf, label);
        if (i == 0) {
            first = s;
            lo.assign(s.shape, s.shape + s.rank), hi = lo;
        } else if (s.elem != first.elem || s.rank != first.rank) {
            fail(Errc::format, ds.spec() + ": sample " + std::to_string(i) + " is " + kiln::data::array_description(s) +
                                   ", sample 0 is " + kiln::data::array_description(first));
        }
        for (int d = 0; d < s.rank; ++d) lo[d] = std::min(lo[d], s.shape[d]), hi[d] = std::max(hi[d], s.shape[d]);
        if (label >= 0 && label < classes) ++per_class[size_t(label)];
        else if (classes > 0) ++other_labels;
    }

    std::printf("dataset       %s\n", ds.spec().c_str());
    std::printf("samples       %lld\n", static_cast<long long>(ds.size()));
    std::printf("classes       %d%s\n", classes, classes == 0 ? " (regression targets)" : "");
    std::printf("sample shape  %s (what the plugin declares; 0 = varies)\n",
                kiln::data::array_description(ds.sample_shape()).c_str());
    if (ds.size() > 0 && first.elem == KILN_U8) {
        const int64_t c = lo[2];
        std::printf("images        %s (height × width), %lld channel%s%s\n", dims_text(lo, hi, 0, 2).c_str(),
                    static_cast<long long>(c), c == 1 ? "" : "s", c == 1 ? " (grey)" : c == 3 ? " (RGB)" : "");
    } else if (ds.size() > 0) {
        std::printf("tensors       f32 [%s]\n", dims_text(lo, hi, 0, lo.size()).c_str());
    }
    if (classes > 0) std::printf("\n%5s  %-24s %s\n", "class", "name", "samples");
    for (int32_t c = 0; c < classes; ++c)
        std::printf("%5d  %-24s %lld\n", c, std::string(ds.class_name(c)).c_str(), static_cast<long long>(per_class[size_t(c)]));
    if (other_labels > 0)
        std::printf("%lld samples have labels outside 0..%d\n", static_cast<long long>(other_labels), classes - 1);
    if (!ds.notes().empty()) std::printf("\nnotes (from the plugin):\n");  // e.g. files it left out and why
    for (const std::string& note : ds.notes()) std::printf("  %s\n", note.c_str());
    return 0;
}

// ---- grid ----

// n different indices of [0, size), drawn with a seeded partial Fisher-Yates shuffle.
std::vector<int64_t> draw_indices(int64_t size, int64_t n, uint64_t seed) {
    std::vector<int64_t> all(static_cast<size_t>(size));
    std::iota(all.begin(), all.end(), int64_t(0));
    kiln::Generator gen(seed);
    for (int64_t i = 0; i < n; ++i) std::swap(all[size_t(i)], all[size_t(i + int64_t(gen.below(uint64_t(size - i))))]);
    all.resize(size_t(n));
    return all;
}

int grid_command(int argc, char** argv) {
    Command cmd("kiln-data grid",
                "Draws N random samples of a dataset into a PNG, each with its class name under it,\n"
                "optionally after a transform pipeline (to preview augmentation). Sample i is\n"
                "transformed with the seed the DataLoader gives it in epoch 0 of a run seeded with S.\n"
                "f32 tensors (after to_tensor/normalize) are min-max scaled to 0..255 for display.");
    cmd.positional("dataset", dataset_help)
        .option("out", "FILE.png", "the PNG to write", Required::yes)
        .option("n", "N", "number of samples", "9")
        .option("cols", "C", "samples per row (default: the square root of N, rounded up)")
        .option("seed", "S", "picks the samples and seeds their augmentation", "42")
        .option("transform", "PIPELINE", "transforms applied first, e.g. \"random_crop=28,padding=4;random_horizontal_flip\"")
        .option("scale", "K", "each pixel drawn K×K (default: images about 96 pixels high)");
    const Args a = cmd.parse(argc, argv, 2);
    if (a.help) return print(cmd.help());
    const int64_t n = a.integer("n", 1, 1024);
    const int64_t cols = a.given("cols") ? a.integer("cols", 1, 1024) : int64_t(std::ceil(std::sqrt(double(n))));
    const uint64_t seed = uint64_t(a.integer("seed", 0, INT64_MAX));

    PluginRegistry registry;
    const Dataset ds = registry.open_dataset(a.positionals[0]);
    const kiln::data::TransformPipeline pipeline = registry.pipeline(a.text("transform"));
    if (n > ds.size())
        fail(Errc::invalid_argument, "--n " + std::to_string(n) + ": " + ds.spec() + " has only " +
                                         std::to_string(ds.size()) + " samples");

    const std::vector<int64_t> indices = draw_indices(ds.size(), n, seed);
    std::vector<kiln::report::GridCell> cells;
    kiln::data::SampleBuffer buf;
    kiln::data::PipelineScratch scratch;
    for (int64_t index : indices) {
        int64_t label = 0;
        const kiln_array raw = ds.get(index, buf, label);
        const kiln_array s = pipeline.apply(raw, scratch, kiln::data::sample_seed(seed, 0, index));
        cells.push_back({kiln::report::to_picture(s, "sample " + std::to_string(index)), label_text(ds, label)});
    }
    kiln::report::GridOptions layout{.cols = cols};
    if (a.given("scale")) layout.scale = int(a.integer("scale", 1, 64));
    const kiln::report::ImageGrid grid = kiln::report::draw_image_grid(cells, layout);
    std::printf("%s: %lld samples of %s, %lld × %lld cells, each pixel %d×%d\n", a.text("out").c_str(),
                static_cast<long long>(n), ds.spec().c_str(), static_cast<long long>(grid.rows),
                static_cast<long long>(grid.cols), grid.scale, grid.scale);
    for (size_t k = 0; k < cells.size(); ++k) {
        const kiln::report::Placement& p = grid.placements[k];
        std::printf("  sample %lld (%s) at x=%lld y=%lld, %lld × %lld\n", static_cast<long long>(indices[k]),
                    cells[k].caption.c_str(), static_cast<long long>(p.x), static_cast<long long>(p.y),
                    static_cast<long long>(p.width), static_cast<long long>(p.height));
    }
    if (const fs::path parent = fs::path(a.text("out")).parent_path(); !parent.empty()) fs::create_directories(parent);
    kiln::report::save_png(a.text("out"), grid.canvas);
    return 0;
}

// ---- export ----

// A class name as a folder name: '/', '\' and control characters become '_', and "", "." and ".."
// get a leading '_' so that no class folder lands outside the root.
std::string folder_name(std::string_view class_name) {
    std::string s(class_name);
    for (char& ch : s)
        if (ch == '/' || ch == '\\' || static_cast<unsigned char>(ch) < 32 || ch == 127) ch = '_';
    if (s.empty() || s == "." || s == "..") s = "_" + s;
    return s;
}

int export_command(int argc, char** argv) {
    Command cmd("kiln-data export",
                "Writes a dataset as an ImageFolder tree, <out-root>/<class name>/<index>.png|jpg, which\n"
                "imagefolder:<out-root> reads back. Class names are made safe for file names\n"
                "(T-shirt/top becomes T-shirt_top); indices are zero-padded so that files sort in\n"
                "dataset order. <out-root> must not exist or be empty.");
    cmd.positional("dataset", dataset_help)
        .positional("out-root", "the folder to create")
        .option("format", "png|jpg", "file format (PNG is lossless)", "png")
        .option("limit", "N", "only the first N samples (default: all)")
        .option("quality", "Q", "JPEG quality, 1..100", "90");
    const Args a = cmd.parse(argc, argv, 2);
    if (a.help) return print(cmd.help());
    const bool jpeg = a.choice("format", {"png", "jpg"}) == "jpg";
    if (a.given("quality") && !jpeg) throw a.usage_error("--quality applies only to --format jpg");
    const int quality = int(a.integer("quality", 1, 100));
    const fs::path root = a.positionals[1];

    PluginRegistry registry;
    const Dataset ds = registry.open_dataset(a.positionals[0]);
    const int64_t count = a.given("limit") ? std::min(a.integer("limit", 1, INT64_MAX), ds.size()) : ds.size();
    if (ds.num_classes() == 0) fail(Errc::unsupported, ds.spec() + " has no classes: an ImageFolder needs them");
    std::vector<std::string> folders;
    std::map<std::string, int32_t> owner;  // folder → the class written there
    for (int32_t c = 0; c < ds.num_classes(); ++c) {
        folders.push_back(folder_name(ds.class_name(c)));
        auto [it, fresh] = owner.emplace(folders.back(), c);
        if (!fresh)
            fail(Errc::invalid_argument, "classes '" + std::string(ds.class_name(it->second)) + "' and '" +
                                             std::string(ds.class_name(c)) + "' would share the folder " + folders.back());
    }
    std::error_code ec;
    if (fs::exists(root, ec) && !fs::is_empty(root, ec))
        fail(Errc::io, root.string() + ": exists and is not empty (export writes a new tree)");

    const int digits = int(std::to_string(std::max<int64_t>(count - 1, 0)).size());
    std::vector<int64_t> per_class(folders.size(), 0);
    kiln::data::SampleBuffer buf;
    bool grey = false;
    for (int64_t i = 0; i < count; ++i) {
        int64_t label = 0;
        const kiln_array s = ds.get(i, buf, label);
        if (label < 0 || label >= ds.num_classes())
            fail(Errc::format, ds.spec() + ": sample " + std::to_string(i) + " has label " + std::to_string(label) +
                                   ", outside its " + std::to_string(ds.num_classes()) + " classes");
        if (s.elem != KILN_U8 || s.rank != 3 || (s.shape[2] != 1 && s.shape[2] != 3))
            fail(Errc::unsupported, ds.spec() + ": sample " + std::to_string(i) + " is " +
                                        kiln::data::array_description(s) + "; export writes u8 grey or RGB images");
        grey = s.shape[2] == 1;
        const fs::path folder = root / folders[size_t(label)];
        if (per_class[size_t(label)]++ == 0) {
            fs::create_directories(folder, ec);
            if (ec) fail(Errc::io, folder.string() + ": cannot create folder: " + ec.message());
        }
        std::string name = std::to_string(i);
        name = std::string(size_t(digits) - name.size(), '0') + name + (jpeg ? ".jpg" : ".png");
        const image::ImageView view{static_cast<const uint8_t*>(s.data), s.shape[0], s.shape[1], int(s.shape[2])};
        if (jpeg) image::write_jpeg((folder / name).string(), view, {.quality = quality});
        else image::write_png((folder / name).string(), view);
    }

    // imagefolder numbers the class folders in sorted order (as torchvision does).
    std::vector<std::string> written;
    for (size_t c = 0; c < folders.size(); ++c)
        if (per_class[c] > 0) written.push_back(folders[c]);
    std::sort(written.begin(), written.end());
    std::printf("wrote %lld %s files into %s, %zu class folders\n", static_cast<long long>(count), jpeg ? "JPEG" : "PNG",
                root.string().c_str(), written.size());
    std::printf("read them with imagefolder:%s%s\n", root.string().c_str(), grey ? ",mode=grey" : "");
    bool renumbered = written.size() != folders.size();
    for (size_t k = 0; k < written.size(); ++k) renumbered |= written[k] != folders[k];
    if (renumbered) {
        std::printf("note: imagefolder numbers classes by sorted folder name, not as %s does:\n", ds.spec().c_str());
        for (size_t c = 0; c < folders.size(); ++c) {
            const auto at = std::find(written.begin(), written.end(), folders[c]);
            const std::string now = at == written.end() ? "not written (no samples)"
                                                        : "imagefolder class " + std::to_string(at - written.begin());
            std::printf("  class %zu %-16s -> %s/, %s\n", c, std::string(ds.class_name(int32_t(c))).c_str(),
                        folders[c].c_str(), now.c_str());
        }
    }
    return 0;
}

const char* const top_help =
    "usage: kiln-data <command> [arguments] [options]\n"
    "\n"
    "Looks at datasets and the plugins that read them.\n"
    "\n"
    "commands:\n"
    "  plugins     the plugins found (with their transforms) and the files that could not be used\n"
    "  info        size, classes, samples per class and image shape of a dataset\n"
    "  grid        a PNG of random samples with their class names, optionally transformed\n"
    "  export      a dataset written as an ImageFolder tree of PNG or JPEG files\n"
    "\n"
    "A dataset is <plugin>:<config>, e.g. idx:/usr/share/datasets/fashion-mnist,split=test or\n"
    "imagefolder:/data/pizza_steak_sushi/train. 'kiln-data <command> --help' describes a command.\n";

}  // namespace

int main(int argc, char** argv) {
    return kiln::tools::run_tool("kiln-data", [&] {
        const std::string command = argc > 1 ? argv[1] : "";
        if (command == "-h" || command == "--help") return print(top_help);
        if (command == "plugins") return plugins_command(argc, argv);
        if (command == "info") return info_command(argc, argv);
        if (command == "grid") return grid_command(argc, argv);
        if (command == "export") return export_command(argc, argv);
        throw kiln::tools::UsageError(command.empty() ? "no command given" : "unknown command '" + command + "'",
                                      "usage: kiln-data plugins|info|grid|export ...");
    });
}
