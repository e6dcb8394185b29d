// The idx plugin: the real Fashion-MNIST files, hand-made IDX files (raw and gzip), and every kind
// of bad input, each with a file the test makes. Every error must name the file and the problem,
// and a lying header must not cause a big allocation: the largest single allocation in this binary
// is tracked (plugins allocate through the same global operator new).
#include <boost/test/unit_test.hpp>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>

#include "data/precondition.h"
#include "kiln/data/plugin_registry.h"
#include "temp_dir.h"

// The replacements below pair malloc with free on purpose.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<size_t> largest_allocation{0};
void note(size_t n) {
    size_t seen = largest_allocation.load(std::memory_order_relaxed);
    while (n > seen && !largest_allocation.compare_exchange_weak(seen, n)) {
    }
}
}  // namespace

void* operator new(std::size_t n) {
    note(n);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

using namespace kiln;
using namespace kiln::data;
namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

const std::string fashion_dir = "/usr/share/datasets/fashion-mnist";

PluginRegistry& plugins() {
    static PluginRegistry r({KILN_TEST_PLUGIN_DIR});
    return r;
}

void put_u32(Bytes& b, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

Bytes idx_header(uint8_t ndim, std::vector<uint32_t> dims, uint8_t type = 0x08) {
    Bytes b{0, 0, type, ndim};
    for (uint32_t d : dims) put_u32(b, d);
    return b;
}

Bytes images_file(uint32_t n, uint32_t rows, uint32_t cols) {
    Bytes b = idx_header(3, {n, rows, cols});
    for (uint32_t i = 0; i < n * rows * cols; ++i) b.push_back(uint8_t(i * 5 + 1));
    return b;
}

Bytes labels_file(std::vector<uint8_t> labels) {
    Bytes b = idx_header(1, {uint32_t(labels.size())});
    b.insert(b.end(), labels.begin(), labels.end());
    return b;
}

void write(const std::string& path, const Bytes& b) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

Bytes gzip(const Bytes& b) {
    z_stream zs{};
    deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    Bytes out(deflateBound(&zs, uLong(b.size())) + 64);
    zs.next_in = const_cast<Bytes::value_type*>(b.data());
    zs.avail_in = uInt(b.size());
    zs.next_out = out.data();
    zs.avail_out = uInt(out.size());
    BOOST_REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The message of opening `config` with the idx plugin, which must fail.
std::string open_error(const std::string& config) {
    try {
        plugins().open_dataset("idx:" + config);
    } catch (const Error& e) {
        return e.what();
    }
    return "(opened without an error)";
}

// A folder with the train split's two files as given.
struct SplitDir {
    TempDir dir;
    std::string images = dir / "train-images-idx3-ubyte", labels = dir / "train-labels-idx1-ubyte";
    SplitDir(const Bytes& image_bytes, const Bytes& label_bytes, bool gz = false) {
        if (gz) images += ".gz", labels += ".gz";
        write(images, gz ? gzip(image_bytes) : image_bytes);
        write(labels, gz ? gzip(label_bytes) : label_bytes);
    }
    std::string config() const { return dir.path.string(); }
};

boost::test_tools::assertion_result fashion_mnist_installed(boost::unit_test::test_unit_id id) {
    return run_if(fs::exists(fashion_dir + "/t10k-images-idx3-ubyte.gz"), id,
                  fashion_dir + " is missing (Debian package dataset-fashion-mnist; scripts/setup.sh installs it)");
}

boost::test_tools::assertion_result not_root(boost::unit_test::test_unit_id id) {
    return run_if(::geteuid() != 0, id, "running as root, which reads a chmod 000 file anyway");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(idx)

BOOST_AUTO_TEST_CASE(fashion_mnist_test_split, *boost::unit_test::precondition(fashion_mnist_installed)) {
    Dataset d = plugins().open_dataset("idx:" + fashion_dir + ",split=test");
    BOOST_TEST(d.size() == 10000);
    BOOST_TEST(array_description(d.sample_shape()) == "u8 [28, 28, 1]");
    BOOST_TEST(d.num_classes() == 10);
    std::vector<std::string> want{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                  "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    BOOST_TEST(d.class_names() == want, boost::test_tools::per_element());

    // The pixels are the file's own bytes (read here with zlib's gz API, independently).
    gzFile gz = gzopen((fashion_dir + "/t10k-images-idx3-ubyte.gz").c_str(), "rb");
    BOOST_TEST_REQUIRE(gz != nullptr);
    Bytes head(16 + 2 * 784);
    BOOST_TEST_REQUIRE(gzread(gz, head.data(), unsigned(head.size())) == int(head.size()));
    gzclose(gz);
    SampleBuffer buf;
    int64_t label = -1;
    kiln_array a = d.get(0, buf, label);
    BOOST_TEST(label == 9);  // the first test image is an ankle boot
    BOOST_TEST(d.class_name(int32_t(label)) == "Ankle boot");
    BOOST_TEST(array_description(a) == "u8 [28, 28, 1]");
    BOOST_TEST(std::memcmp(a.data, head.data() + 16, 784) == 0);
    d.get(1, buf, label);
    BOOST_TEST(label == 2);  // a pullover
    BOOST_TEST(std::memcmp(buf.data(), head.data() + 16 + 784, 784) == 0);
    d.get(9999, buf, label);
    BOOST_TEST(contains([&] {
        try {
            d.get(10000, buf, label);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    }(), "index 10000 is outside the dataset's 10000 samples"));
}

BOOST_AUTO_TEST_CASE(fashion_mnist_train_split, *boost::unit_test::precondition(fashion_mnist_installed)) {
    Dataset d = plugins().open_dataset("idx:" + fashion_dir);
    BOOST_TEST(d.size() == 60000);
    BOOST_TEST(d.class_name(0) == "T-shirt/top");
}

BOOST_AUTO_TEST_CASE(raw_and_gzip_files_give_the_same_samples) {
    SplitDir raw(images_file(3, 2, 3), labels_file({4, 0, 9}));
    SplitDir gz(images_file(3, 2, 3), labels_file({4, 0, 9}), true);
    for (const SplitDir* s : {&raw, &gz}) {
        Dataset d = plugins().open_dataset("idx:" + s->config() + ",classes=10");
        BOOST_TEST(d.size() == 3);
        BOOST_TEST(d.num_classes() == 10);
        BOOST_TEST(d.class_name(9) == "9");
        SampleBuffer buf;
        int64_t label = -1;
        kiln_array a = d.get(2, buf, label);
        BOOST_TEST(label == 9);
        BOOST_TEST(array_description(a) == "u8 [2, 3, 1]");
        const auto* p = static_cast<const uint8_t*>(a.data);
        for (int k = 0; k < 6; ++k) BOOST_TEST(int(p[k]) == int(uint8_t((12 + k) * 5 + 1)));
    }
}

BOOST_AUTO_TEST_CASE(splits_explicit_files_and_class_names) {
    TempDir dir;
    write(dir / "t10k-images-idx3-ubyte.gz", gzip(images_file(2, 1, 1)));
    write(dir / "t10k-labels-idx1-ubyte", labels_file({1, 7}));  // compressed and raw mixed
    write(dir / "mine.idx3", images_file(4, 1, 2));
    write(dir / "mine.idx1", labels_file({0, 1, 2, 3}));
    BOOST_TEST(plugins().open_dataset("idx:" + dir.path.string() + ",split=test,classes=8").size() == 2);
    Dataset digits = plugins().open_dataset("idx:" + dir.path.string() + ",split=test,classes=digits");
    BOOST_TEST(digits.class_name(7) == "7 - seven");
    Dataset fashion = plugins().open_dataset("idx:" + dir.path.string() + ",split=test,classes=fashion");
    BOOST_TEST(fashion.class_name(1) == "Trouser");
    Dataset own = plugins().open_dataset("idx:" + dir.path.string() + ",images=mine.idx3,labels=mine.idx1");
    BOOST_TEST(own.size() == 4);
    BOOST_TEST(own.num_classes() == 4);
    Dataset abs = plugins().open_dataset("idx:images=" + (dir / "mine.idx3") + ",labels=" + (dir / "mine.idx1"));
    BOOST_TEST(abs.size() == 4);
    // EMNIST's naming, and its transposed storage on request.
    write(dir / "emnist-digits-train-images-idx3-ubyte", images_file(1, 2, 3));
    write(dir / "emnist-digits-train-labels-idx1-ubyte", labels_file({5}));
    Dataset em = plugins().open_dataset("idx:" + dir.path.string() + ",transpose=yes,classes=6");
    BOOST_TEST(array_description(em.sample_shape()) == "u8 [3, 2, 1]");
    SampleBuffer buf;
    int64_t label = 0;
    const auto* p = static_cast<const uint8_t*>(em.get(0, buf, label).data);
    // stored rows (1 6 11)(16 21 26) → transposed rows (1 16)(6 21)(11 26)
    std::vector<int> got(p, p + 6), want{1, 16, 6, 21, 11, 26};
    BOOST_TEST(got == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(configuration_errors) {
    TempDir dir;
    BOOST_TEST(contains(open_error(dir.path.string()), dir.path.string() + ": no train images file"));
    BOOST_TEST(contains(open_error("/no/such/folder"), "/no/such/folder: no such folder"));
    BOOST_TEST(contains(open_error(dir.path.string() + ",split=valid"), "split must be train or test, not 'valid'"));
    BOOST_TEST(contains(open_error(dir.path.string() + ",colour=red"), "unknown setting 'colour'"));
    BOOST_TEST(contains(open_error("images=a"), "give both images=<file> and labels=<file>"));
    write(dir / "train-images-idx3-ubyte", images_file(1, 1, 1));
    BOOST_TEST(contains(open_error(dir.path.string()), dir / "train-labels-idx1-ubyte" + ": labels file not found"));
    write(dir / "train-labels-idx1-ubyte", labels_file({12}));
    BOOST_TEST(contains(open_error(dir.path.string() + ",classes=fashion"),
                        dir / "train-labels-idx1-ubyte" + ": label 12 of item 0 is outside the 10 fashion classes"));
}

// One corrupt byte must not turn 10 classes into 201: with classes=auto (numbers here) the labels
// must be 0..K−1 without gaps; a count says how many classes there are when a gap is meant.
BOOST_AUTO_TEST_CASE(a_stray_label_does_not_grow_the_classes) {
    std::vector<uint8_t> labels(40);
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = uint8_t(i % 10);
    labels[17] = 200;
    SplitDir s(images_file(40, 2, 2), labels_file(labels));
    const std::string cannot = "cannot open dataset 'idx:" + s.config();
    BOOST_TEST(open_error(s.config()) == cannot + "': idx: " + s.labels + ": no item has label 10, yet label 200 (item 17) would make 201 classes; labels are "
               "read as classes 0..200 without gaps (a corrupt file? give classes=201 if the gap is meant)");
    BOOST_TEST(open_error(s.config() + ",classes=10") == cannot + ",classes=10': idx: " + s.labels + ": label 200 of item 17 is outside the 10 classes given (0..9; classes=<count> for other data)");
    BOOST_TEST(open_error(s.config() + ",classes=fashion") == cannot + ",classes=fashion': idx: " + s.labels + ": label 200 of item 17 is outside the 10 fashion classes (0..9; classes=<count> for other data)");
    BOOST_TEST(plugins().open_dataset("idx:" + s.config() + ",classes=201").num_classes() == 201);
    BOOST_TEST(contains(open_error(s.config() + ",classes=0"), "classes=0: a class count is 1 to 256"));
    BOOST_TEST(contains(open_error(s.config() + ",classes=1000"), "not '1000'"));
    labels[17] = 7;  // every class 0..9 occurs: ten classes, as before
    SplitDir fine(images_file(40, 2, 2), labels_file(labels));
    BOOST_TEST(plugins().open_dataset("idx:" + fine.config()).num_classes() == 10);
}

// ---- bad input: each case makes its file; the message names the file and the problem ----

BOOST_AUTO_TEST_CASE(wrong_magic) {
    Bytes img = images_file(1, 2, 2);
    img[0] = 0x12, img[1] = 0x34;
    SplitDir s(img, labels_file({0}));
    std::string msg = open_error(s.config());
    BOOST_TEST(contains(msg, s.images + ": not an IDX file: wrong magic (first bytes 12 34 08 03, expected 00 00 08 03)"));
    // A labels file given as images: right magic, wrong dimension count.
    SplitDir swapped(labels_file({0}), labels_file({0}));
    BOOST_TEST(contains(open_error(swapped.config()), swapped.images + ": has 1 dimensions, an IDX images file has 3"));
    // Another element type.
    Bytes floats = idx_header(3, {1, 1, 1}, 0x0D);
    floats.insert(floats.end(), 4, 0);
    SplitDir f(floats, labels_file({0}));
    BOOST_TEST(contains(open_error(f.config()), f.images + ": IDX data type 0x0d (f32) is not supported"));
}

BOOST_AUTO_TEST_CASE(header_truncated) {
    Bytes img = images_file(1, 2, 2);
    for (size_t keep : {size_t(3), size_t(10)}) {
        SplitDir s(Bytes(img.begin(), img.begin() + long(keep)), labels_file({0}));
        BOOST_TEST(contains(open_error(s.config()), s.images + ": header truncated: the file holds " +
                                                        std::to_string(keep) + " bytes"));
    }
}

BOOST_AUTO_TEST_CASE(data_truncated_and_trailing_bytes) {
    Bytes img = images_file(3, 2, 2);  // 12 data bytes
    img.resize(img.size() - 5);
    SplitDir s(img, labels_file({0, 1, 2}));
    BOOST_TEST(contains(open_error(s.config()),
                        s.images + ": data truncated: the header says 3 × 2 × 2 = 12 bytes of images, the file holds 7 "
                                   "after its 16-byte header"));
    SplitDir gz(img, labels_file({0, 1, 2}), true);
    BOOST_TEST(contains(open_error(gz.config()), gz.images + ": data truncated: the header says 3 × 2 × 2 = 12 bytes of "
                                                             "images, the decompressed data holds 7"));
    Bytes longer = images_file(3, 2, 2);
    longer.push_back(0), longer.push_back(0);
    SplitDir t(longer, labels_file({0, 1, 2}));
    BOOST_TEST(contains(open_error(t.config()), t.images + ": 2 unexpected bytes after the data"));
    SplitDir tg(longer, labels_file({0, 1, 2}), true);
    BOOST_TEST(contains(open_error(tg.config()), tg.images + ": the decompressed data continues past what the header describes"));
}

BOOST_AUTO_TEST_CASE(header_claiming_far_more_than_the_file_holds) {
    for (bool gz : {false, true}) {
        Bytes img = idx_header(3, {4000000000u, 60000, 60000});  // ~10^19 bytes claimed
        for (int i = 0; i < 1000; ++i) img.push_back(uint8_t(i));
        Bytes fake = idx_header(3, {2000000000u, 28, 28});        // 1.5 TB claimed
        fake.insert(fake.end(), 784 * 3, 7);
        for (const Bytes* b : {&img, &fake}) {
            SplitDir s(*b, labels_file({0}), gz);
            largest_allocation = 0;
            auto t0 = std::chrono::steady_clock::now();
            std::string msg = open_error(s.config());
            double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            BOOST_TEST(contains(msg, s.images + ": data truncated: the header says "));
            BOOST_TEST(seconds < 1.0);
            BOOST_TEST(largest_allocation.load() < size_t(16) << 20, "largest allocation " << largest_allocation.load());
        }
    }
}

BOOST_AUTO_TEST_CASE(image_and_label_counts_differ) {
    SplitDir s(images_file(3, 1, 1), labels_file({0, 1}));
    BOOST_TEST(contains(open_error(s.config()), s.images + " holds 3 images but " + s.labels + " holds 2 labels"));
}

BOOST_AUTO_TEST_CASE(zero_dimensions) {
    SplitDir rows(idx_header(3, {2, 0, 5}), labels_file({0, 1}));
    BOOST_TEST(contains(open_error(rows.config()), rows.images + ": dimension 1 (rows) is 0"));
    SplitDir count(idx_header(3, {0, 28, 28}), idx_header(1, {0}));
    BOOST_TEST(contains(open_error(count.config()), count.images + ": dimension 0 (count) is 0"));
    SplitDir labels(images_file(1, 1, 1), idx_header(1, {0}));
    BOOST_TEST(contains(open_error(labels.config()), labels.labels + ": dimension 0 (count) is 0"));
}

BOOST_AUTO_TEST_CASE(corrupt_truncated_and_empty_gzip) {
    // A gzip header followed by a deflate block of the reserved type 3.
    Bytes corrupt{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    SplitDir c(images_file(1, 1, 1), labels_file({0}));
    write(c.images, corrupt);
    BOOST_TEST(contains(open_error(c.config()), c.images + ": corrupt gzip data (zlib: invalid block type)"));

    // A real gzip whose CRC does not match its data.
    Bytes big = images_file(50, 8, 8);
    Bytes bad_crc = gzip(big);
    bad_crc[bad_crc.size() - 8] ^= 0xff;
    write(c.images, bad_crc);
    BOOST_TEST(contains(open_error(c.config()), c.images + ": corrupt gzip data (zlib: incorrect data check)"));
    // Bytes flipped in the middle: whatever zlib or the header checks notice, it names the file.
    Bytes flipped = gzip(big);
    for (size_t i = 20; i < 40; ++i) flipped[i] ^= 0x5a;
    write(c.images, flipped);
    BOOST_TEST(contains(open_error(c.config()), "idx: " + c.images + ": "));

    Bytes cut = gzip(big);
    cut.resize(cut.size() / 2);
    write(c.images, cut);
    BOOST_TEST(contains(open_error(c.config()), c.images + ": gzip data truncated"));

    write(c.images, gzip({}));
    BOOST_TEST(contains(open_error(c.config()), c.images + ": header truncated: the decompressed data holds 0 bytes"));
}

BOOST_AUTO_TEST_CASE(zero_byte_file) {
    SplitDir s(images_file(1, 1, 1), {});
    BOOST_TEST(contains(open_error(s.config()), s.labels + ": the file is empty (0 bytes)"));
    SplitDir gz(images_file(1, 1, 1), labels_file({0}), true);
    write(gz.images, {});  // an empty .gz: not even a gzip header
    BOOST_TEST(contains(open_error(gz.config()), gz.images + ": the file is empty (0 bytes)"));
}

BOOST_AUTO_TEST_CASE(unreadable_file, *boost::unit_test::precondition(not_root)) {
    SplitDir s(images_file(1, 1, 1), labels_file({0}));
    ::chmod(s.images.c_str(), 0);
    BOOST_TEST(contains(open_error(s.config()), s.images + ": cannot open: Permission denied"));
}

BOOST_AUTO_TEST_CASE(a_folder_in_place_of_a_file) {
    TempDir dir;
    fs::create_directory(dir / "train-images-idx3-ubyte");
    write(dir / "train-labels-idx1-ubyte", labels_file({0}));
    std::string msg = open_error("images=" + (dir / "train-images-idx3-ubyte") + ",labels=" + (dir / "train-labels-idx1-ubyte"));
    BOOST_TEST(contains(msg, dir / "train-images-idx3-ubyte" + ": is not a regular file"));
}

BOOST_AUTO_TEST_SUITE_END()
