// safetensors reading and writing (io/safetensors.h): round trips, the byte layout checked
// independently of the reader, every kind of malformed file, and atomic saving.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#define BOOST_TEST_MODULE io
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>

#include "kiln/core/error.h"
#include "kiln/io/safetensors.h"
#include "temp_dir.h"

using namespace kiln;
using io::NamedTensor;

namespace {

template <class T> NamedTensor tensor(const std::string& name, Shape shape, const std::vector<T>& values) {
    NamedTensor t{name, dtype_of<T>(), shape, std::vector<uint8_t>(values.size() * sizeof(T))};
    if (!values.empty()) std::memcpy(t.data.data(), values.data(), t.data.size());
    return t;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// A file made by hand: the 8-byte length (given, or the header's), the header text, then data.
std::vector<uint8_t> raw_file(const std::string& header, size_t data_bytes, std::optional<uint64_t> length = {}) {
    uint64_t n = length.value_or(header.size());
    std::vector<uint8_t> out;
    for (int i = 0; i < 8; ++i) out.push_back(uint8_t(n >> (8 * i)));
    out.insert(out.end(), header.begin(), header.end());
    out.resize(out.size() + data_bytes, 0xAB);
    return out;
}

// Loading `bytes` must throw Error(code) whose message starts with the path and contains `what`.
void expect_load_error(const TempDir& dir, const std::vector<uint8_t>& bytes, const std::string& what,
                       Errc code = Errc::format) {
    std::string path = dir / "bad.safetensors";
    write_bytes(path, bytes);
    try {
        io::load_safetensors(path);
        BOOST_ERROR("no error for a file that should give: " << what);
    } catch (const Error& e) {
        std::string msg = e.what();
        BOOST_TEST_INFO("message: " << msg);
        BOOST_TEST(e.code() == code);
        BOOST_TEST(msg.rfind(path + ": ", 0) == 0);
        BOOST_TEST(msg.find(what) != std::string::npos);
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(round_trip_keeps_every_dtype_shape_and_byte) {
    TempDir dir;
    std::vector<NamedTensor> tensors = {
        tensor<float>("fc.weight", {2, 3}, {1, -2, 3.5f, 0, 1e-30f, -0.0f}),
        tensor<int64_t>("bn.num_batches_tracked", {}, {123456789012345}),
        tensor<int32_t>("labels", {4}, {0, -1, 7, 2147483647}),
        tensor<uint8_t>("image", {1, 3}, {0, 128, 255}),
        tensor<float>("empty", {0, 3}, {}),
    };
    io::Metadata meta{{"format", "pt"}, {"note", "héllo"}};
    std::string path = dir / "model.safetensors";
    io::save_safetensors(path, tensors, meta);

    io::SafetensorsFile file = io::load_safetensors(path);
    BOOST_TEST(file.metadata == meta);
    BOOST_TEST(file.tensors.size() == tensors.size());
    for (const NamedTensor& t : tensors) {
        const NamedTensor* got = file.find(t.name);
        BOOST_REQUIRE_MESSAGE(got, t.name);
        BOOST_TEST((got->dtype == t.dtype));
        BOOST_TEST(got->shape.str() == t.shape.str());
        BOOST_TEST(got->data == t.data);
    }
    BOOST_TEST(!file.find("missing"));
}

BOOST_AUTO_TEST_CASE(byte_layout_is_the_reference_format) {
    TempDir dir;
    std::string path = dir / "layout.safetensors";
    io::save_safetensors(path,
                         {tensor<uint8_t>("z", {3}, {1, 2, 3}), tensor<float>("b", {2}, {1.5f, 2.5f}),
                          tensor<int64_t>("a", {1}, {-7}), tensor<float>("a2", {1, 1}, {9.0f})},
                         {{"format", "pt"}});
    std::vector<uint8_t> bytes = read_bytes(path);

    // 8-byte little-endian length, then a header padded with spaces to a multiple of 8.
    BOOST_REQUIRE(bytes.size() >= 8u);
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(bytes[i]) << (8 * i);
    BOOST_TEST(n % 8 == 0u);
    BOOST_REQUIRE(8 + n <= bytes.size());
    std::string header(bytes.begin() + 8, bytes.begin() + 8 + long(n));
    BOOST_TEST(header.front() == '{');
    std::string trimmed = header.substr(0, header.find_last_not_of(' ') + 1);
    BOOST_TEST(header.size() - trimmed.size() < 8u);

    // Keys in the reference's order: metadata, then larger elements first, then by name; data
    // offsets contiguous from 0 in that order, and the file ends where the last tensor does.
    auto j = nlohmann::ordered_json::parse(trimmed);
    std::vector<std::string> keys;
    for (const auto& [k, v] : j.items()) keys.push_back(k);
    BOOST_TEST(keys == (std::vector<std::string>{"__metadata__", "a", "a2", "b", "z"}));
    BOOST_TEST(j["__metadata__"]["format"] == "pt");
    BOOST_TEST(j["a"]["dtype"] == "I64");
    BOOST_TEST(j["a2"]["dtype"] == "F32");
    BOOST_TEST(j["z"]["dtype"] == "U8");
    BOOST_TEST(j["a2"]["shape"] == nlohmann::ordered_json::array({1, 1}));
    uint64_t offset = 0;
    for (const char* k : {"a", "a2", "b", "z"}) {
        BOOST_TEST(j[k]["data_offsets"][0].get<uint64_t>() == offset);
        offset = j[k]["data_offsets"][1].get<uint64_t>();
    }
    BOOST_TEST(offset == 8u + 4 + 8 + 3);
    BOOST_TEST(bytes.size() == 8 + n + offset);

    // The data itself, little-endian at those offsets.
    const uint8_t* data = bytes.data() + 8 + n;
    int64_t a;
    std::memcpy(&a, data, 8);
    BOOST_TEST(a == -7);
    float b[2];
    std::memcpy(b, data + 12, 8);
    BOOST_TEST(b[0] == 1.5f);
    BOOST_TEST(b[1] == 2.5f);
    BOOST_TEST(data[20] == 1);
    BOOST_TEST(data[22] == 3);
}

BOOST_AUTO_TEST_CASE(a_file_written_by_pytorch_loads) {
    // The bytes safetensors 0.8's safetensors.torch.save_file wrote for
    // {"fc.weight": [[1, -2]], "fc.bias": [0.5], "bn.num_batches_tracked": tensor(7)} with
    // metadata {"format": "pt"}: a 232-byte header (two spaces of padding), then the data.
    const std::string header =
        R"({"__metadata__":{"format":"pt"},"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
        R"("fc.bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"fc.weight":{"dtype":"F32","shape":[1,2],)"
        R"("data_offsets":[12,20]}}  )";
    BOOST_REQUIRE_EQUAL(header.size(), 232u);
    std::vector<uint8_t> bytes{0xe8, 0, 0, 0, 0, 0, 0, 0};
    bytes.insert(bytes.end(), header.begin(), header.end());
    for (uint8_t b : {0x07, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0})
        bytes.push_back(b);
    TempDir dir;
    const std::string path = dir / "torch.safetensors";
    write_bytes(path, bytes);
    const io::SafetensorsFile file = io::load_safetensors(path);
    BOOST_TEST(file.metadata.at("format") == "pt");
    const NamedTensor* w = file.find("fc.weight");
    BOOST_REQUIRE(w);
    BOOST_TEST(w->shape.str() == "[1, 2]");
    float wv[2];
    std::memcpy(wv, w->data.data(), sizeof wv);
    BOOST_TEST(wv[0] == 1.0f);
    BOOST_TEST(wv[1] == -2.0f);
    const NamedTensor* count = file.find("bn.num_batches_tracked");
    BOOST_REQUIRE(count);
    BOOST_TEST((count->dtype == DType::i64));
    BOOST_TEST(count->shape.rank == 0);
    int64_t c = 0;
    std::memcpy(&c, count->data.data(), sizeof c);
    BOOST_TEST(c == 7);
}

BOOST_AUTO_TEST_CASE(malformed_files_are_rejected_with_the_file_and_the_problem) {
    TempDir dir;
    auto entry = [](const std::string& name, const std::string& dtype, const std::string& shape, uint64_t b, uint64_t e) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
               std::to_string(b) + "," + std::to_string(e) + "]}";
    };
    std::string good = "{" + entry("w", "F32", "[2]", 0, 8) + "}";
    // The well-formed file these cases spoil loads.
    write_bytes(dir / "good.safetensors", raw_file(good, 8));
    BOOST_TEST(io::load_safetensors(dir / "good.safetensors").tensors.size() == 1u);

    expect_load_error(dir, {1, 2, 3}, "too short for the 8-byte header length");
    expect_load_error(dir, raw_file(good, 8, 1000), "header length 1000 exceeds the file size");
    expect_load_error(dir, raw_file(good, 8, UINT64_MAX - 1), "exceeds the file size");
    expect_load_error(dir, raw_file("{\"w\": {\"dtype\": ", 8), "header is not valid JSON");
    expect_load_error(dir, raw_file("[1, 2]", 0), "header is not a JSON object");
    expect_load_error(dir, raw_file("{" + entry("w", "F99", "[2]", 0, 8) + "}", 8), "tensor 'w': unknown dtype 'F99'");
    expect_load_error(dir, raw_file("{" + entry("w", "F16", "[4]", 0, 8) + "}", 8), "dtype F16 is not supported",
                      Errc::unsupported);
    expect_load_error(dir, raw_file("{" + entry("w", "F32", "[2]", 0, 8) + "}", 4), "lie outside the data area (4 bytes)");
    expect_load_error(dir, raw_file("{" + entry("w", "F32", "[2]", 8, 4) + "}", 8), "end before they begin");
    expect_load_error(dir, raw_file("{" + entry("w", "F32", "[3]", 0, 8) + "}", 12), "shape [3] of F32 needs 12 bytes");
    expect_load_error(dir, raw_file("{" + entry("w", "F32", "[-2]", 0, 8) + "}", 8), "non-negative integers");
    expect_load_error(dir, raw_file("{" + entry("w", "F32", "[4611686018427387904, 4]", 0, 8) + "}", 8),
                      "dimension 4611686018427387904 of 'shape' is past kiln's limit of 2,147,483,647");
    expect_load_error(dir, raw_file("{" + entry("w", "F32", "[2147483647, 2147483647, 2147483647, 4]", 0, 8) + "}", 8), "too large");
    expect_load_error(dir, raw_file("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}", 12),
                      "tensors 'a' [0, 8] and 'b' [4, 12] overlap");
    expect_load_error(dir, raw_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8), "'data_offsets' must be [begin, end]");
    expect_load_error(dir, raw_file("{\"w\": 3}", 0), "tensor 'w': entry is not a JSON object");
    expect_load_error(dir, raw_file("{\"__metadata__\":{\"n\":1}}", 0), "__metadata__ value of 'n' is not a string");
    // A name twice (JSON parsers keep the last; the reference reader refuses it, and so does kiln).
    expect_load_error(dir, raw_file("{" + entry("w", "F32", "[2]", 0, 8) + "," + entry("w", "F32", "[1]", 8, 12) + "}", 12),
                      "tensor 'w' appears twice in the header");
    expect_load_error(dir, raw_file("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                      "the header's key 'dtype' appears twice in one entry");

    try {
        io::load_safetensors(dir / "does-not-exist.safetensors");
        BOOST_ERROR("expected an error");
    } catch (const Error& e) {
        BOOST_TEST(e.code() == Errc::io);
        BOOST_TEST(std::string(e.what()).find("does-not-exist.safetensors: cannot open") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(save_rejects_inconsistent_tensors) {
    TempDir dir;
    std::string path = dir / "x.safetensors";
    NamedTensor short_data = tensor<float>("w", {2, 2}, {1, 2, 3});
    BOOST_CHECK_THROW(io::save_safetensors(path, {short_data}), Error);
    auto t = tensor<float>("w", {1}, {1});
    BOOST_CHECK_THROW(io::save_safetensors(path, {t, t}), Error);
    BOOST_CHECK_THROW(io::save_safetensors(path, {tensor<float>("__metadata__", {1}, {1})}), Error);
    BOOST_TEST(!std::filesystem::exists(path));
}

BOOST_AUTO_TEST_CASE(a_failed_save_leaves_the_previous_file_intact) {
    TempDir dir;
    std::string path = dir / "ckpt.safetensors";
    io::save_safetensors(path, {tensor<float>("w", {2}, {1, 2})});
    const std::vector<uint8_t> before = read_bytes(path);
    auto leftovers = [&] {
        int n = 0;
        for (const auto& e : std::filesystem::directory_iterator(dir.path)) n += e.path().string() != path;
        return n;
    };

    // 1. The temporary file cannot be created (its name is taken by a directory).
    std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    std::filesystem::create_directory(tmp);
    try {
        io::save_safetensors(path, {tensor<float>("w", {2}, {3, 4})});
        BOOST_ERROR("expected an error");
    } catch (const Error& e) {
        BOOST_TEST(e.code() == Errc::io);
        BOOST_TEST(std::string(e.what()).rfind(path + ": cannot create temporary file", 0) == 0);
    }
    std::filesystem::remove(tmp);
    BOOST_TEST(read_bytes(path) == before);

    // 2. A write fails halfway (the file-size limit stands in for a full disk).
    std::vector<float> big(1 << 20, 5.0f);
    struct rlimit old_limit;
    BOOST_REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of being killed
    struct rlimit small = old_limit;
    small.rlim_cur = 64 * 1024;
    BOOST_REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    bool threw = false;
    try {
        io::save_safetensors(path, {tensor<float>("w", {int64_t(big.size())}, big)});
    } catch (const Error& e) {
        threw = true;
        BOOST_TEST(e.code() == Errc::io);
        BOOST_TEST(std::string(e.what()).rfind(path + ": write failed", 0) == 0);
    }
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    ::signal(SIGXFSZ, old_handler);
    BOOST_TEST(threw);
    BOOST_TEST(read_bytes(path) == before);
    BOOST_TEST(leftovers() == 0);  // the partial temporary file is removed

    // 3. The directory does not exist.
    BOOST_CHECK_THROW(io::save_safetensors(dir / "no/such/dir/x.safetensors", {tensor<float>("w", {1}, {1})}), Error);

    // A successful save replaces the file.
    io::save_safetensors(path, {tensor<float>("w", {2}, {3, 4})});
    BOOST_TEST(read_bytes(path) != before);
    BOOST_TEST(leftovers() == 0);
}
