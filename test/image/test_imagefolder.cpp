// The imagefolder plugin through its C entry points, as the loader calls them, and through the
// registry and the DataLoader for on_error=skip.
#include <boost/test/unit_test.hpp>

#include <png.h>
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "alloc_counter.h"
#include "kiln/data/dataloader.h"
#include "kiln/data/plugin.h"
#include "kiln/data/plugin_registry.h"
#include "kiln/image/codec.h"
#include "make_images.h"

extern "C" const kiln_plugin* kiln_plugin_entry(void);

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

const kiln_dataset_api& api() { return *kiln_plugin_entry()->dataset; }

struct Dataset {
    kiln_dataset* ds = nullptr;
    std::string error;
    explicit Dataset(const std::string& config) {
        char err[2048] = "";
        ds = api().open(config.c_str(), err, sizeof err);
        error = err;
    }
    ~Dataset() {
        if (ds) api().close(ds);
    }
    Dataset(const Dataset&) = delete;
    Dataset& operator=(const Dataset&) = delete;
};

struct Sample {
    kiln_status status = KILN_OK;
    kiln_array array{};
    size_t needed = 0;
    int64_t label = -1;
    std::string error;
    Bytes pixels;
};

Sample get(const Dataset& d, int64_t i, size_t capacity = 1 << 20) {
    Sample s;
    s.pixels.resize(capacity);
    s.array.data = s.pixels.data();
    char err[2048] = "";
    s.status = api().get(d.ds, i, &s.array, capacity, &s.needed, &s.label, err, sizeof err);
    s.error = err;
    if (s.status == KILN_OK) s.pixels.resize(s.needed);
    return s;
}

// The error open() reports for a configuration (it must fail).
std::string open_error(const std::string& config) {
    Dataset d(config);
    BOOST_TEST(!d.ds);
    return d.error;
}

// A w×h grey PNG or JPEG (by extension) of one value.
void write_flat(const std::string& path, uint8_t value, int w = 8, int h = 8) {
    kiln::image::Image img{h, w, 1, Bytes(static_cast<size_t>(w) * h, value)};
    fs::create_directories(fs::path(path).parent_path());
    std::string ext = fs::path(path).extension().string();
    if (ext == ".png" || ext == ".PNG")
        kiln::image::write_png(path, kiln::image::view(img));
    else
        kiln::image::write_jpeg(path, kiln::image::view(img), {100});
}

}  // namespace

BOOST_AUTO_TEST_CASE(plugin_identifies_itself) {
    const kiln_plugin* p = kiln_plugin_entry();
    BOOST_TEST(p->abi_version == KILN_PLUGIN_ABI_VERSION);
    BOOST_TEST(std::string(p->name) == "imagefolder");
    BOOST_TEST(p->dataset != nullptr);
    BOOST_TEST(p->n_transforms == 0);
}

BOOST_AUTO_TEST_CASE(classes_and_samples_are_ordered_as_torchvision_orders_them) {
    TempDir dir;
    std::string root = dir / "train";
    // Every file holds a flat grey value 10·(its expected index), so the decoded pixel tells the order.
    // Classes in code-point order: 'Z' < 'a' < 'p' < 's' < 'ä' (UTF-8 C3 A4).
    // In "pizza": names sort '.' < 'A' < 'a'; folders sort by path, and "sub-x" < "sub/z" because
    // '-' < '/' (a depth-first walk would give sub/z first).
    const std::vector<std::pair<std::string, int>> files = {
        {"Zebra/img.png", 0},        {"a b/img.jpeg", 1},       {"pizza/.hidden.png", 2}, {"pizza/A.png", 3},
        {"pizza/a.JPG", 4},          {"pizza/b.png", 5},        {"pizza/sub/c.Jpeg", 6},  {"pizza/sub-x/d.png", 7},
        {"pizza/sub/z/e.PNG", 8},    {"steak/img.png", 9},      {"sushi/img.jpg", 10},    {"äpfel/img.png", 11},
    };
    for (const auto& [name, index] : files) write_flat(root + "/" + name, static_cast<uint8_t>(10 * index));
    write_bytes(root + "/pizza/notes.txt", {'x'});
    write_bytes(root + "/pizza/anim.gif", {'G', 'I', 'F'});
    write_bytes(root + "/pizza/sub/old.BMP", {'B', 'M'});
    write_bytes(root + "/pizza/README", {'r'});
    write_flat(root + "/stray.png", 7);  // not inside a class folder: ignored, as torchvision does
    BOOST_REQUIRE(::mkfifo((root + "/pizza/pipe.png").c_str(), 0600) == 0);  // left out: reading it would block

    Dataset d(root + ",mode=grey");
    BOOST_REQUIRE_MESSAGE(d.ds, d.error);
    const std::vector<std::string> classes = {"Zebra", "a b", "pizza", "steak", "sushi", "äpfel"};
    BOOST_TEST(api().num_classes(d.ds) == 6);
    for (int c = 0; c < 6; ++c) BOOST_TEST(api().class_name(d.ds, c) == classes[c]);
    BOOST_TEST(api().class_name(d.ds, 6) == nullptr);
    BOOST_TEST(api().class_name(d.ds, -1) == nullptr);
    BOOST_REQUIRE(api().length(d.ds) == 12);
    // Files left out for their extension are counted in the notes (torchvision says nothing).
    BOOST_TEST(std::string(api().notes(d.ds)) ==
               "left out 4 files whose extension kiln does not read: no extension (1), .bmp (1), .gif (1), .txt (1) "
               "(kiln reads .png, .jpg and .jpeg)");
    const int labels[12] = {0, 1, 2, 2, 2, 2, 2, 2, 2, 3, 4, 5};
    for (int i = 0; i < 12; ++i) {
        Sample s = get(d, i);
        BOOST_REQUIRE_MESSAGE(s.status == KILN_OK, s.error);
        BOOST_TEST(std::abs(s.pixels[0] - 10 * i) <= 1, "sample " << i << " holds " << int(s.pixels[0]));
        BOOST_TEST(s.label == labels[i]);
    }
}

BOOST_AUTO_TEST_CASE(get_decodes_into_the_callers_buffer) {
    TempDir dir;
    fs::create_directories(dir / "r/one");
    fs::create_directories(dir / "r/two");
    PngSpec spec{3, 2, PNG_COLOR_TYPE_RGB, 8, {255, 0, 0, 0, 255, 0, 0, 0, 255, 1, 2, 3, 100, 150, 200, 9, 9, 9}};
    write_bytes(dir / "r/one/a.png", make_png(spec));
    write_flat(dir / "r/two/b.png", 42, 5, 4);

    Dataset d(dir / "r");
    BOOST_REQUIRE_MESSAGE(d.ds, d.error);
    kiln_array shape{};
    BOOST_TEST(api().sample_shape(d.ds, &shape) == KILN_OK);
    BOOST_TEST(shape.elem == KILN_U8);
    BOOST_TEST(shape.rank == 3);
    BOOST_TEST(shape.shape[0] == 0);  // height and width vary between files
    BOOST_TEST(shape.shape[1] == 0);
    BOOST_TEST(shape.shape[2] == 3);

    Sample s = get(d, 0);
    BOOST_REQUIRE_MESSAGE(s.status == KILN_OK, s.error);
    BOOST_TEST(s.array.elem == KILN_U8);
    BOOST_TEST(s.array.rank == 3);
    BOOST_TEST(s.array.shape[0] == 2);
    BOOST_TEST(s.array.shape[1] == 3);
    BOOST_TEST(s.array.shape[2] == 3);
    BOOST_TEST(s.needed == 18u);
    BOOST_TEST(s.label == 0);
    BOOST_TEST(s.pixels == Bytes(spec.samples.begin(), spec.samples.end()), boost::test_tools::per_element());

    // Too small a buffer: KILN_ERR_CAPACITY, the bytes needed and the shape; then a retry succeeds.
    Sample small = get(d, 1, 59);
    BOOST_TEST(small.status == KILN_ERR_CAPACITY);
    BOOST_TEST(small.needed == 60u);  // 4 × 5 × 3
    BOOST_TEST(small.array.shape[0] == 4);
    BOOST_TEST(small.array.shape[1] == 5);
    BOOST_TEST(small.error == dir / "r/two/b.png" + ": needs 60 bytes, the buffer holds 59");
    Sample retry = get(d, 1, small.needed);
    BOOST_TEST(retry.status == KILN_OK);
    BOOST_TEST(retry.label == 1);
    BOOST_TEST(retry.pixels == Bytes(60, 42), boost::test_tools::per_element());

    Sample out_of_range = get(d, 2);
    BOOST_TEST(out_of_range.status == KILN_ERR_INVALID);
    BOOST_TEST(out_of_range.error == "imagefolder: sample 2 is outside [0, 2)");

    Dataset g(dir / "r" + ",mode=grey,max_pixels=6");
    BOOST_REQUIRE_MESSAGE(g.ds, g.error);
    BOOST_TEST(api().sample_shape(g.ds, &shape) == KILN_OK);
    BOOST_TEST(shape.shape[2] == 1);
    Sample grey = get(g, 0);
    BOOST_TEST(grey.status == KILN_OK);
    BOOST_TEST(grey.pixels == (Bytes{76, 150, 29, 2, 141, 9}), boost::test_tools::per_element());
    Sample over = get(g, 1);  // 5×4 = 20 pixels > 6
    BOOST_TEST(over.status == KILN_ERR_FORMAT);
    BOOST_TEST(over.error == dir / "r/two/b.png" + ": image is 5×4 pixels, over the limit of 6 (max_pixels)");
}

BOOST_AUTO_TEST_CASE(gets_from_many_threads_agree) {
    TempDir dir;
    make_image_folder(dir / "f", {"a", "b"}, 8);
    Dataset d(dir / "f");
    BOOST_REQUIRE_MESSAGE(d.ds, d.error);
    std::vector<Bytes> first;
    for (int64_t i = 0; i < api().length(d.ds); ++i) first.push_back(get(d, i).pixels);
    std::vector<std::thread> threads;
    std::vector<int> mismatches(4, 0);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int round = 0; round < 5; ++round)
                for (int64_t i = 0; i < api().length(d.ds); ++i)
                    if (get(d, i).pixels != first[i]) ++mismatches[t];
        });
    for (auto& t : threads) t.join();
    for (int m : mismatches) BOOST_TEST(m == 0);
}

BOOST_AUTO_TEST_CASE(configuration_errors_say_what_is_wrong) {
    TempDir dir;
    make_image_folder(dir / "f", {"a"}, 1);
    std::string root = dir / "f";
    BOOST_TEST(open_error("").starts_with("imagefolder: no root folder given; use imagefolder:<root>"));
    BOOST_TEST(open_error(",mode=rgb").starts_with("imagefolder: no root folder given"));
    BOOST_TEST(open_error(root + ",mode=cmyk") == "imagefolder: option 'mode=cmyk': mode is rgb or grey");
    BOOST_TEST(open_error(root + ",on_error=ignore") == "imagefolder: option 'on_error=ignore': on_error is stop or skip");
    BOOST_TEST(open_error(root + ",max_pixels=0") ==
               "imagefolder: option 'max_pixels=0': max_pixels is a whole number from 1 to 2^48");
    BOOST_TEST(open_error(root + ",max_pixels=12x").find("max_pixels is a whole number") != std::string::npos);
    BOOST_TEST(open_error(root + ",split=train") ==
               "imagefolder: option 'split=train': unknown; the options are mode, on_error and max_pixels");
    for (const char* ok : {",mode=gray", ",on_error=skip", ",on_error=stop,mode=rgb,max_pixels=1000"}) {
        Dataset d(root + ok);
        BOOST_TEST(d.ds != nullptr, ok << ": " << d.error);
    }
}

BOOST_AUTO_TEST_CASE(roots_without_classes_are_errors_naming_the_root) {
    TempDir dir;
    BOOST_TEST(open_error(dir / "nowhere") == dir / "nowhere" + ": folder does not exist");
    write_bytes(dir / "file", {1});
    BOOST_TEST(open_error(dir / "file") == dir / "file" + ": not a folder");
    fs::create_directories(dir / "flat");
    write_flat(dir / "flat/a.png", 1);  // images, but no class folders
    BOOST_TEST(open_error(dir / "flat") == dir / "flat" + ": no class folders found; an image folder holds " +
                                               dir / "flat" + "/<class>/<image files>");
    fs::create_directories(dir / "empty");
    BOOST_TEST(open_error(dir / "empty") == dir / "empty" + ": no class folders found; an image folder holds " +
                                                dir / "empty" + "/<class>/<image files>");
}

BOOST_AUTO_TEST_CASE(empty_class_folders_are_named) {
    TempDir dir;
    std::string root = dir / "r";
    write_flat(root + "/full/a.png", 1);
    fs::create_directories(root + "/empty one");
    write_bytes(root + "/only text/readme.txt", {'x'});
    fs::create_directories(root + "/nested/deeper");  // sub-folders, but no image in any
    BOOST_TEST(open_error(root) == root + ": found no valid file for the classes in " + root + "/empty one, " + root +
                                       "/nested, " + root + "/only text (image files end in .png, .jpg or .jpeg, "
                                       "in any case)");
}

BOOST_AUTO_TEST_CASE(symlink_loops_terminate_and_each_folder_is_read_once) {
    TempDir dir;
    std::string root = dir / "r";
    write_flat(root + "/cls/a.png", 10);
    write_flat(root + "/cls/sub/b.png", 20);
    fs::create_directory_symlink("..", root + "/cls/sub/up");     // back to cls
    fs::create_directory_symlink(".", root + "/cls/self");        // to itself
    fs::create_directory_symlink("../sub", root + "/cls/sub/again");
    write_flat(root + "/other/x.png", 30);
    fs::create_directory_symlink("../cls/sub", root + "/other/shared");  // into another class
    Dataset d(root + ",mode=grey");
    BOOST_REQUIRE_MESSAGE(d.ds, d.error);
    // cls: a.png, sub/b.png. other: x.png, then shared/ (cls/sub) and shared/up/ (cls): each folder
    // once per class, folders in path order ("other" before "other/shared"), as torchvision lists
    // them (it would then go round the loops until the paths grow too long).
    BOOST_REQUIRE(api().length(d.ds) == 5);
    const int values[5] = {10, 20, 30, 20, 10};
    const int labels[5] = {0, 0, 1, 1, 1};
    for (int i = 0; i < 5; ++i) {
        Sample s = get(d, i);
        BOOST_TEST(s.status == KILN_OK);
        BOOST_TEST(std::abs(s.pixels[0] - values[i]) <= 1);
        BOOST_TEST(s.label == labels[i]);
    }
}

BOOST_AUTO_TEST_CASE(bad_files_fail_alone_naming_the_file) {
    TempDir dir;
    std::string cls = dir / "r/cls";
    kiln::image::Image img{16, 16, 3, Bytes(16 * 16 * 3, 99)};
    Bytes jpeg = kiln::image::encode_jpeg(kiln::image::view(img));
    fs::create_directories(cls);
    write_bytes(cls + "/bomb.png", make_png_header_only(100000, 100000));
    fs::create_symlink(cls + "/gone.png", cls + "/broken.png");
    write_bytes(cls + "/empty.png", {});
    write_flat(cls + "/good.png", 5);
    write_bytes(cls + "/jpeg.png", jpeg);  // a JPEG named .png: fine
    write_bytes(cls + "/notes.jpg", {'h', 'e', 'l', 'l', 'o', '\n'});
    write_bytes(cls + "/trunc.jpg", Bytes(jpeg.begin(), jpeg.begin() + jpeg.size() / 2));

    for (const char* option : {"", ",on_error=skip"}) {
        Dataset d(dir / "r" + option);  // open lists the files without decoding them
        BOOST_REQUIRE_MESSAGE(d.ds, d.error);
        BOOST_REQUIRE(api().length(d.ds) == 7);
        const std::vector<std::pair<kiln_status, std::string>> expected = {
            {KILN_ERR_FORMAT, cls + "/bomb.png: image is 100000×100000 pixels, over the limit of 89478485 (max_pixels)"},
            {KILN_ERR_IO, cls + "/broken.png: cannot open: No such file or directory"},
            {KILN_ERR_FORMAT, cls + "/empty.png: empty file (0 bytes), not an image"},
            {KILN_OK, ""},
            {KILN_OK, ""},
            {KILN_ERR_FORMAT, cls + "/notes.jpg: not a PNG or JPEG file (it starts with bytes 68 65 6c 6c 6f 0a); the "
                                    "format is read from the contents, not the name"},
            {KILN_ERR_FORMAT, cls + "/trunc.jpg: JPEG file is truncated (it ends before the image data is complete)"},
        };
        for (int i = 0; i < 7; ++i) {
            Sample s = get(d, i);
            BOOST_TEST(s.status == expected[i].first, "sample " << i << ": " << s.error);
            BOOST_TEST(s.error == expected[i].second);
            BOOST_TEST(s.label == 0);  // known even when the file fails
        }
    }
}

// A class folder of zero-byte, truncated and corrupt PNG and JPEG files and a PNG of width 0, each
// made here, between two good files; errors[i] is what get(i) must say.
struct DamagedFolder {
    TempDir dir;
    std::string root = dir / "r", cls = root + "/cls";
    std::vector<std::string> errors;  // per sample: "" for the good ones, else get()'s message
    DamagedFolder() {
        kiln::image::Image img{8, 8, 3, Bytes(8 * 8 * 3)};
        for (size_t k = 0; k < img.pixels.size(); ++k) img.pixels[k] = static_cast<uint8_t>(k * 7);
        const Bytes png = kiln::image::encode_png(kiln::image::view(img));
        const Bytes jpeg = kiln::image::encode_jpeg(kiln::image::view(img), {95});
        Bytes bad_crc = png;
        bad_crc[bad_crc.size() - 13] ^= 0x55;  // the last byte of IDAT's CRC (IEND is the last 12 bytes)
        const std::vector<std::pair<std::string, Bytes>> files = {
            {"a_good.png", png},
            {"b_empty.jpg", {}},
            {"c_cut.png", Bytes(png.begin(), png.begin() + 5)},
            {"d_half.png", Bytes(png.begin(), png.begin() + long(png.size() / 2))},
            {"e_crc.png", bad_crc},
            {"f_marker.jpg", {0xff, 0xd8, 0xff, 0x12, 0x00, 0x04, 0x00, 0x00}},
            {"g_good.jpg", jpeg},
            {"h_cut.jpg", Bytes(jpeg.begin(), jpeg.begin() + 40)},
            {"i_zero_width.png", make_png_header_only(0, 10)},
        };
        for (const auto& [name, bytes] : files) write_bytes(cls + "/" + name, bytes);
        errors = {"",
                  cls + "/b_empty.jpg: empty file (0 bytes), not an image",
                  cls + "/c_cut.png: PNG file is truncated (5 bytes)",
                  cls + "/d_half.png: PNG file is truncated (it ends before the image data is complete)",
                  cls + "/e_crc.png: not a valid PNG: IDAT: CRC error",
                  cls + "/f_marker.jpg: not a valid JPEG: Unsupported marker type 0x12",
                  "",
                  cls + "/h_cut.jpg: JPEG file is truncated (it ends before the image data is complete)",
                  cls + "/i_zero_width.png: not a valid PNG: Invalid IHDR data"};
    }
};

BOOST_AUTO_TEST_CASE(empty_truncated_and_corrupt_png_and_jpeg_files_name_the_file) {
    DamagedFolder f;
    Dataset d(f.root);
    BOOST_REQUIRE_MESSAGE(d.ds, d.error);
    BOOST_REQUIRE(api().length(d.ds) == int64_t(f.errors.size()));
    for (size_t i = 0; i < f.errors.size(); ++i) {
        Sample s = get(d, int64_t(i));
        BOOST_TEST(s.status == (f.errors[i].empty() ? KILN_OK : KILN_ERR_FORMAT), "sample " << i << ": " << s.error);
        if (!f.errors[i].empty()) BOOST_TEST(s.error == f.errors[i]);
    }
}

BOOST_AUTO_TEST_CASE(the_loader_skips_bad_files_with_a_warning_when_asked_and_stops_otherwise) {
    DamagedFolder f;
    kiln::data::PluginRegistry plugins(std::vector<std::string>{});
    plugins.add(*kiln_plugin_entry(), "test");
    kiln::data::DataLoaderOptions o;
    o.batch_size = 9, o.workers = 2;
    std::vector<std::string> warnings;
    o.warn = [&](const std::string& w) { warnings.push_back(w); };
    {
        kiln::data::DataLoader loader(plugins.open_dataset("imagefolder:" + f.root + ",on_error=skip"), {}, o);
        const kiln::data::Batch* b = loader.next();
        BOOST_TEST_REQUIRE(b != nullptr);
        BOOST_TEST(b->size == 2);
        BOOST_TEST(b->indices[0] == 0);
        BOOST_TEST(b->indices[1] == 6);
        BOOST_TEST(loader.skipped() == 7);
        std::vector<std::string> want;
        for (size_t i = 0; i < f.errors.size(); ++i)
            if (!f.errors[i].empty()) want.push_back("skipped sample " + std::to_string(i) + ": " + f.errors[i]);
        BOOST_TEST(warnings == want, boost::test_tools::per_element());
    }
    kiln::data::DataLoader stop(plugins.open_dataset("imagefolder:" + f.root), {}, o);
    try {
        stop.next();
        BOOST_ERROR("expected an Error");
    } catch (const kiln::Error& e) {
        BOOST_TEST((e.code() == kiln::Errc::format));
        BOOST_TEST(std::string(e.what()) == f.errors[1] + " (sample 1)");
    }
}

BOOST_AUTO_TEST_CASE(a_symlink_to_itself_is_a_file_that_cannot_be_opened) {
    TempDir dir;
    std::string cls = dir / "r/cls";
    write_flat(cls + "/a.png", 1);
    fs::create_symlink("loop.png", cls + "/loop.png");
    Dataset d(dir / "r");
    BOOST_REQUIRE_MESSAGE(d.ds, d.error);
    BOOST_REQUIRE(api().length(d.ds) == 2);
    Sample s = get(d, 1);
    BOOST_TEST(s.status == KILN_ERR_IO);
    BOOST_TEST(s.error == cls + "/loop.png: cannot open: Too many levels of symbolic links");
}

BOOST_AUTO_TEST_CASE(reading_files_reuses_the_threads_buffer) {
    TempDir dir;
    kiln::image::Image big{48, 64, 3, Bytes(48 * 64 * 3)}, small{8, 8, 3, Bytes(8 * 8 * 3, 200)};
    for (size_t k = 0; k < big.pixels.size(); ++k) big.pixels[k] = static_cast<uint8_t>(k * 13);
    write_bytes(dir / "r/cls/a.jpg", kiln::image::encode_jpeg(kiln::image::view(big)));
    write_bytes(dir / "r/cls/b.jpg", kiln::image::encode_jpeg(kiln::image::view(small)));
    Dataset d(dir / "r");
    BOOST_REQUIRE_MESSAGE(d.ds, d.error);
    Bytes pixels(big.pixels.size());
    char err[512] = "";
    auto read = [&](int64_t i) {
        kiln_array a{};
        a.data = pixels.data();
        size_t needed = 0;
        int64_t label = 0;
        return api().get(d.ds, i, &a, pixels.size(), &needed, &label, err, sizeof err);
    };
    BOOST_TEST(read(0) == KILN_OK);  // the buffers grow to the larger file
    BOOST_TEST(read(1) == KILN_OK);
    // An RGB JPEG decodes without converting, so after that only libjpeg's own malloc remains.
    const long before = kiln::testing::allocations();
    for (int round = 0; round < 3; ++round)
        for (int64_t i : {1, 0}) BOOST_TEST_REQUIRE(read(i) == KILN_OK, err);
    BOOST_TEST(kiln::testing::allocations() == before);
}

BOOST_AUTO_TEST_CASE(unreadable_files_and_folders, *boost::unit_test::precondition(chmod_works)) {
    TempDir dir;
    std::string root = dir / "r";
    write_flat(root + "/cls/locked.png", 1);
    ::chmod((root + "/cls/locked.png").c_str(), 0);
    {
        Dataset d(root);
        BOOST_REQUIRE_MESSAGE(d.ds, d.error);
        Sample s = get(d, 0);
        BOOST_TEST(s.status == KILN_ERR_IO);
        BOOST_TEST(s.error == root + "/cls/locked.png: cannot open: Permission denied");
    }
    write_flat(root + "/cls/sub/a.png", 1);
    ::chmod((root + "/cls/sub").c_str(), 0);
    BOOST_TEST(open_error(root) == root + "/cls/sub: cannot read folder: Permission denied");
    ::chmod((root + "/cls/sub").c_str(), 0755);  // so that the temp folder can be removed
}

BOOST_AUTO_TEST_CASE(pizza_steak_sushi_like_folder) {
    TempDir dir;
    std::string root = dir / "pizza_steak_sushi/train";
    BOOST_TEST(make_image_folder(root, {"pizza", "steak", "sushi"}, 6) == 18);
    Dataset d(root);
    BOOST_REQUIRE_MESSAGE(d.ds, d.error);
    BOOST_REQUIRE(api().length(d.ds) == 18);
    int per_class[3] = {0, 0, 0};
    for (int64_t i = 0; i < 18; ++i) {
        Sample s = get(d, i);
        BOOST_REQUIRE_MESSAGE(s.status == KILN_OK, s.error);
        BOOST_TEST(s.array.shape[0] >= 16);
        BOOST_TEST(s.array.shape[0] <= 32);
        ++per_class[s.label];
    }
    for (int n : per_class) BOOST_TEST(n == 6);
    // Each class's first sample is its 1000.png; its top-left pixel is (80·class, 0, 200 − 60·class).
    for (int c = 0; c < 3; ++c) {
        Sample s = get(d, 6 * c);
        BOOST_TEST(s.pixels[0] == 80 * c);
        BOOST_TEST(s.pixels[1] == 0);
        BOOST_TEST(s.pixels[2] == 200 - 60 * c);
    }
}
