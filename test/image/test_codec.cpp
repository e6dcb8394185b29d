#define BOOST_TEST_MODULE image
#include <boost/test/unit_test.hpp>

#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "kiln/core/error.h"
#include "kiln/image/codec.h"
#include "kiln/image/color.h"
#include "make_images.h"

using namespace kiln;
using namespace kiln::image;
using Bytes = std::vector<uint8_t>;

namespace {

const DecodeOptions rgb{ColorMode::rgb};
const DecodeOptions grey{ColorMode::grey};

Bytes pixels(const Bytes& file, const DecodeOptions& options) { return decode(file, "t.png", options).pixels; }

// The Error's message, or "" if `f` does not throw one with the given code.
template <class F>
std::string error_of(F f, Errc code = Errc::format) {
    try {
        f();
    } catch (const Error& e) {
        BOOST_TEST(e.code() == code);
        return e.what();
    }
    BOOST_ERROR("expected an Error");
    return "";
}

// A smooth RGB test picture (JPEG's favourite kind).
Image gradient(int h, int w) {
    Image img{h, w, 3, Bytes(static_cast<size_t>(h) * w * 3)};
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            uint8_t* p = img.pixels.data() + (y * w + x) * 3;
            p[0] = static_cast<uint8_t>(x * 255 / (w - 1));
            p[1] = static_cast<uint8_t>(y * 255 / (h - 1));
            p[2] = static_cast<uint8_t>(128 + (x - y) / 2);
        }
    return img;
}

int max_abs_diff(const Bytes& a, const Bytes& b) {
    BOOST_REQUIRE(a.size() == b.size());
    int worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
    return worst;
}

}  // namespace

BOOST_AUTO_TEST_CASE(luma_matches_pil_fixed_point) {
    // (R·19595 + G·38470 + B·7471 + 32768) >> 16, worked by hand:
    BOOST_TEST(luma(255, 0, 0) == 76);     // 4996725 + 32768 = 5029493 → 76.7 → 76
    BOOST_TEST(luma(0, 255, 0) == 150);    // 9809850 + 32768 → 150.2; 587·255/1000 truncated would be 149
    BOOST_TEST(luma(0, 0, 255) == 29);     // 1905105 + 32768 → 29.6 → 29
    BOOST_TEST(luma(100, 150, 200) == 141);  // 0.299·100 + 0.587·150 + 0.114·200 = 140.75 → 141
    BOOST_TEST(luma(255, 255, 255) == 255);
    BOOST_TEST(luma(37, 37, 37) == 37);  // the weights sum to 65536: grey stays grey
    // CMYK → RGB as PIL's cmyk2rgb: nk = 255 − K, nk − round(ink·nk/255).
    BOOST_TEST(cmyk_component(0, 0) == 255);
    BOOST_TEST(cmyk_component(255, 0) == 0);
    BOOST_TEST(cmyk_component(128, 64) == 95);  // nk = 191; 128·191/255 = 95.9 → 96; 191 − 96
    BOOST_TEST(cmyk_component(0, 255) == 0);
}

BOOST_AUTO_TEST_CASE(detects_format_from_magic_bytes) {
    Format f;
    BOOST_TEST(detect_format(Bytes{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0}, f));
    BOOST_TEST((f == Format::png));
    BOOST_TEST(detect_format(Bytes{0xff, 0xd8, 0xff, 0xe0}, f));
    BOOST_TEST((f == Format::jpeg));
    BOOST_TEST(!detect_format(Bytes{'G', 'I', 'F', '8', '9', 'a'}, f));
    BOOST_TEST(!detect_format(Bytes{}, f));
}

BOOST_AUTO_TEST_CASE(png_grey_8bit_in_both_modes) {
    Bytes file = make_png({3, 2, PNG_COLOR_TYPE_GRAY, 8, {0, 1, 2, 127, 128, 255}});
    BOOST_TEST(pixels(file, grey) == (Bytes{0, 1, 2, 127, 128, 255}), boost::test_tools::per_element());
    Image img = decode(file, "t.png", rgb);
    BOOST_TEST(img.height == 2);
    BOOST_TEST(img.width == 3);
    BOOST_TEST(img.channels == 3);
    BOOST_TEST(img.pixels == (Bytes{0, 0, 0, 1, 1, 1, 2, 2, 2, 127, 127, 127, 128, 128, 128, 255, 255, 255}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(png_low_bit_depths_scale_to_full_range) {
    // 1-bit: 0, 255; 2-bit: v·85; 4-bit: v·17. Odd widths check the packing at row ends.
    BOOST_TEST(pixels(make_png({3, 1, PNG_COLOR_TYPE_GRAY, 1, {1, 0, 1}}), grey) == (Bytes{255, 0, 255}),
               boost::test_tools::per_element());
    BOOST_TEST(pixels(make_png({5, 1, PNG_COLOR_TYPE_GRAY, 2, {0, 1, 2, 3, 1}}), grey) ==
                   (Bytes{0, 85, 170, 255, 85}),
               boost::test_tools::per_element());
    BOOST_TEST(pixels(make_png({3, 2, PNG_COLOR_TYPE_GRAY, 4, {0, 1, 7, 8, 14, 15}}), grey) ==
                   (Bytes{0, 17, 119, 136, 238, 255}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(png_16bit_uses_libpng_rounding) {
    // (v·255 + 32767) / 65535: 128 → 0 and 129 → 1 (the rounding boundary); 65406 → 254 and
    // 65407 → 255 (PIL's high byte would give 255 for both); 0x1234 → 18.
    Bytes file = make_png({3, 2, PNG_COLOR_TYPE_GRAY, 16, {128, 129, 65406, 65407, 0x1234, 65535}});
    BOOST_TEST(pixels(file, grey) == (Bytes{0, 1, 254, 255, 18, 255}), boost::test_tools::per_element());

    // 16-bit RGBA, 2×1: alpha is dropped after scaling; grey is the luma of the scaled values.
    Bytes rgba = make_png({2, 1, PNG_COLOR_TYPE_RGB_ALPHA, 16, {65535, 129, 25700, 0, 0, 65535, 0, 32768}});
    BOOST_TEST(pixels(rgba, rgb) == (Bytes{255, 1, 100, 0, 255, 0}), boost::test_tools::per_element());
    BOOST_TEST(pixels(rgba, grey) == (Bytes{luma(255, 1, 100), 150}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(png_alpha_is_dropped_not_composited) {
    // RGBA with alpha 0 keeps its colour (compositing on black would give 0, 0, 0).
    Bytes rgba = make_png({2, 1, PNG_COLOR_TYPE_RGB_ALPHA, 8, {10, 20, 30, 0, 200, 100, 50, 128}});
    BOOST_TEST(pixels(rgba, rgb) == (Bytes{10, 20, 30, 200, 100, 50}), boost::test_tools::per_element());
    BOOST_TEST(pixels(rgba, grey) == (Bytes{luma(10, 20, 30), luma(200, 100, 50)}), boost::test_tools::per_element());

    Bytes grey_alpha = make_png({2, 2, PNG_COLOR_TYPE_GRAY_ALPHA, 8, {9, 0, 50, 255, 100, 17, 255, 1}});
    BOOST_TEST(pixels(grey_alpha, grey) == (Bytes{9, 50, 100, 255}), boost::test_tools::per_element());
    BOOST_TEST(pixels(grey_alpha, rgb) == (Bytes{9, 9, 9, 50, 50, 50, 100, 100, 100, 255, 255, 255}),
               boost::test_tools::per_element());

    Bytes rgb8 = make_png({1, 2, PNG_COLOR_TYPE_RGB, 8, {1, 2, 3, 0, 255, 0}});
    BOOST_TEST(pixels(rgb8, rgb) == (Bytes{1, 2, 3, 0, 255, 0}), boost::test_tools::per_element());
    BOOST_TEST(pixels(rgb8, grey) == (Bytes{2, 150}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(png_palette_gives_palette_colours) {
    PngSpec s{3, 2, PNG_COLOR_TYPE_PALETTE, 8, {0, 1, 2, 2, 1, 0}};
    s.palette = {255, 0, 0, 0, 255, 0, 10, 20, 30};
    Bytes expected = {255, 0, 0, 0, 255, 0, 10, 20, 30, 10, 20, 30, 0, 255, 0, 255, 0, 0};
    BOOST_TEST(pixels(make_png(s), rgb) == expected, boost::test_tools::per_element());
    BOOST_TEST(pixels(make_png(s), grey) == (Bytes{76, 150, luma(10, 20, 30), luma(10, 20, 30), 150, 76}),
               boost::test_tools::per_element());
    // A tRNS chunk gives palette entries alpha: dropped as well.
    s.trns = {0, 128};
    BOOST_TEST(pixels(make_png(s), rgb) == expected, boost::test_tools::per_element());
    // 4-bit palette, odd width.
    PngSpec p4{3, 1, PNG_COLOR_TYPE_PALETTE, 4, {2, 0, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
    BOOST_TEST(pixels(make_png(p4), rgb) == (Bytes{7, 8, 9, 1, 2, 3, 4, 5, 6}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(png_interlaced_equals_non_interlaced) {
    // 13×11 is not a multiple of Adam7's 8×8 grid, so every pass has partial blocks.
    PngSpec s{13, 11, PNG_COLOR_TYPE_RGB, 8, {}};
    std::srand(7);
    for (int i = 0; i < 13 * 11 * 3; ++i) s.samples.push_back(static_cast<uint16_t>(std::rand() % 256));
    Bytes plain = pixels(make_png(s), rgb);
    s.interlaced = true;
    Bytes interlaced_file = make_png(s);
    BOOST_TEST(pixels(interlaced_file, rgb) == plain, boost::test_tools::per_element());
    BOOST_TEST(Bytes(s.samples.begin(), s.samples.end()) == plain, boost::test_tools::per_element());
    Image g = decode(interlaced_file, "t.png", grey);
    BOOST_TEST(g.pixels[5] == luma(plain[15], plain[16], plain[17]));
}

BOOST_AUTO_TEST_CASE(png_encoder_round_trips_exactly) {
    Image img = gradient(9, 14);
    BOOST_TEST(decode(encode_png(view(img)), "e.png", rgb).pixels == img.pixels, boost::test_tools::per_element());
    Image g{2, 3, 1, {0, 10, 20, 30, 40, 255}};
    BOOST_TEST(decode(encode_png(view(g)), "e.png", grey).pixels == g.pixels, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(jpeg_round_trips_within_tolerance) {
    // A smooth 48×64 picture at quality 95: libjpeg's error stays within a few levels.
    Image img = gradient(48, 64);
    Bytes file = encode_jpeg(view(img), {95});
    Image back = decode(file, "t.jpg", rgb);
    BOOST_TEST(back.height == 48);
    BOOST_TEST(back.width == 64);
    BOOST_TEST(max_abs_diff(back.pixels, img.pixels) <= 6);

    // Grey mode is PIL's luma of the RGB decode, not libjpeg's Y channel.
    Bytes g = decode(file, "t.jpg", grey).pixels;
    for (size_t i = 0; i < g.size(); ++i)
        BOOST_TEST_REQUIRE(g[i] == luma(back.pixels[3 * i], back.pixels[3 * i + 1], back.pixels[3 * i + 2]));

    // A progressive file holds the same quantised coefficients: the same pixels exactly.
    Bytes progressive = encode_jpeg(view(img), {95, true});
    BOOST_TEST(progressive != file);
    BOOST_TEST(decode(progressive, "p.jpg", rgb).pixels == back.pixels, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(jpeg_grey_round_trip) {
    Image img{16, 16, 1, Bytes(256)};
    for (int i = 0; i < 256; ++i) img.pixels[i] = static_cast<uint8_t>((i % 16) * 8 + (i / 16) * 4);
    Bytes file = encode_jpeg(view(img), {95});
    Image back = decode(file, "g.jpg", grey);
    BOOST_TEST(back.channels == 1);
    BOOST_TEST(max_abs_diff(back.pixels, img.pixels) <= 3);
    Bytes as_rgb = decode(file, "g.jpg", rgb).pixels;  // grey replicated
    for (int i = 0; i < 256; ++i) {
        BOOST_TEST_REQUIRE(as_rgb[3 * i] == back.pixels[i]);
        BOOST_TEST_REQUIRE(as_rgb[3 * i + 2] == back.pixels[i]);
    }
}

BOOST_AUTO_TEST_CASE(jpeg_cmyk_plain_and_adobe_inverted) {
    // 16×8: left half red (C 0, M 255, Y 255, K 0), right half mid grey-blue (C 128, M 64, Y 0, K 64).
    // Expected RGB by PIL's formula: (255, 0, 0) and (95, 143, 191).
    const uint8_t left[4] = {0, 255, 255, 0}, right[4] = {128, 64, 0, 64};
    Bytes plain, inverted;
    for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 16; ++x)
            for (int k = 0; k < 4; ++k) {
                uint8_t v = x < 8 ? left[k] : right[k];
                plain.push_back(v);
                inverted.push_back(static_cast<uint8_t>(255 - v));
            }
    BOOST_TEST(cmyk_component(64, 64) == 143);
    BOOST_TEST(cmyk_component(0, 64) == 191);
    const int expected_left[3] = {255, 0, 0}, expected_right[3] = {95, 143, 191};
    // Photoshop stores inverted values with an Adobe marker; a file without the marker is plain.
    for (auto [file, what] : {std::pair{make_cmyk_jpeg(16, 8, inverted, true), "adobe"},
                              std::pair{make_cmyk_jpeg(16, 8, plain, false), "plain"}}) {
        BOOST_TEST_CONTEXT(what) {
            Image img = decode(file, "c.jpg", rgb);
            for (int y = 0; y < 8; ++y)
                for (int x : {0, 3, 12, 15})
                    for (int k = 0; k < 3; ++k)
                        BOOST_TEST_REQUIRE(std::abs(img.pixels[(y * 16 + x) * 3 + k] -
                                                    (x < 8 ? expected_left : expected_right)[k]) <= 2);
            Image g = decode(file, "c.jpg", grey);
            BOOST_TEST(std::abs(g.pixels[0] - 76) <= 2);
            BOOST_TEST(std::abs(g.pixels[15] - luma(95, 143, 191)) <= 2);
        }
    }
}

BOOST_AUTO_TEST_CASE(format_comes_from_contents_not_name) {
    TempDir dir;
    Image img = gradient(8, 8);
    write_bytes(dir / "photo.png", encode_jpeg(view(img)));  // a JPEG named .png
    BOOST_TEST(decode_file(dir / "photo.png").width == 8);
    write_bytes(dir / "notes.jpg", {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'});
    BOOST_TEST(error_of([&] { decode_file(dir / "notes.jpg"); }) ==
               dir / "notes.jpg" +
                   ": not a PNG or JPEG file (it starts with bytes 68 65 6c 6c 6f 20 77 6f); the format is read "
                   "from the contents, not the name");
}

BOOST_AUTO_TEST_CASE(empty_truncated_and_corrupt_files_name_the_problem) {
    Bytes png = encode_png(view(gradient(32, 32)));
    Bytes jpeg = encode_jpeg(view(gradient(32, 32)));

    BOOST_TEST(error_of([&] { decode(Bytes{}, "a.png"); }) == "a.png: empty file (0 bytes), not an image");
    BOOST_TEST(error_of([&] { decode(Bytes(png.begin(), png.begin() + 5), "a.png"); }) ==
               "a.png: PNG file is truncated (5 bytes)");
    BOOST_TEST(error_of([&] { decode(Bytes(png.begin(), png.begin() + png.size() / 2), "a.png"); }) ==
               "a.png: PNG file is truncated (it ends before the image data is complete)");
    BOOST_TEST(error_of([&] { decode(Bytes(jpeg.begin(), jpeg.begin() + jpeg.size() / 2), "a.jpg"); }) ==
               "a.jpg: JPEG file is truncated (it ends before the image data is complete)");
    // Cut inside the headers, before any pixel.
    BOOST_TEST(error_of([&] { decode(Bytes(jpeg.begin(), jpeg.begin() + 40), "a.jpg"); }) ==
               "a.jpg: JPEG file is truncated (it ends before the image data is complete)");

    // The file ends IDAT's zlib checksum, IDAT's CRC, IEND (12 bytes): damage each checksum.
    Bytes bad_png = png;
    bad_png[bad_png.size() - 13] ^= 0x55;
    BOOST_TEST(error_of([&] { decode(bad_png, "a.png"); }) == "a.png: not a valid PNG: IDAT: CRC error");
    bad_png = png;
    bad_png[bad_png.size() - 20] ^= 0x55;
    BOOST_TEST(error_of([&] { decode(bad_png, "a.png"); }) == "a.png: not a valid PNG: IDAT: incorrect data check");
    // IHDR with a colour type PNG does not have.
    Bytes bad_ihdr = png;
    bad_ihdr[25] = 5;
    BOOST_TEST(error_of([&] { decode(bad_ihdr, "a.png"); }) == "a.png: not a valid PNG: IHDR: CRC error");

    // JPEG: a marker no JPEG has, right after the start of image.
    Bytes bad_jpeg = {0xff, 0xd8, 0xff, 0x12, 0x00, 0x04, 0x00, 0x00};
    BOOST_TEST(error_of([&] { decode(bad_jpeg, "b.jpg"); }) == "b.jpg: not a valid JPEG: Unsupported marker type 0x12");
    // Damaged entropy-coded data (libjpeg-turbo alone would warn and decode grey): an end-of-image
    // marker in the middle of the scan, and bytes that are no Huffman code.
    size_t scan = 0;
    for (size_t i = 0; i + 1 < jpeg.size(); ++i)
        if (jpeg[i] == 0xff && jpeg[i + 1] == 0xda) scan = i;
    BOOST_REQUIRE(scan > 0 && scan + 40 < jpeg.size());
    Bytes damaged = jpeg;
    damaged[scan + 30] = 0xff;
    damaged[scan + 31] = 0xd9;
    BOOST_TEST(error_of([&] { decode(damaged, "c.jpg"); }) ==
               "c.jpg: not a valid JPEG: Corrupt JPEG data: premature end of data segment");
    damaged = jpeg;
    for (size_t i = scan + 20; i < scan + 40; ++i) damaged[i] = 0xfe;
    BOOST_TEST(error_of([&] { decode(damaged, "d.jpg"); }).starts_with("d.jpg: not a valid JPEG: Corrupt JPEG data: "));
}

BOOST_AUTO_TEST_CASE(endless_progressive_scans_are_refused) {
    // A progressive file whose first scan (DC coefficients, which decode the same however often
    // they come) is repeated 1200 times: each repeat is only a libjpeg warning ("inconsistent
    // progression") but costs a pass over the image. Refused past 1000.
    Bytes file = encode_jpeg(view(gradient(16, 16)), {90, true});
    size_t start = 0;
    while (!(file[start] == 0xff && file[start + 1] == 0xda)) ++start;
    size_t end = start + 2;  // the scan runs to the next marker that is not a stuffed 0xff00 or RSTn
    while (!(file[end] == 0xff && file[end + 1] != 0x00 && (file[end + 1] & 0xf8) != 0xd0)) ++end;
    auto repeated = [&](int times) {
        Bytes out(file.begin(), file.begin() + end);
        for (int i = 0; i < times; ++i) out.insert(out.end(), file.begin() + start, file.begin() + end);
        out.insert(out.end(), file.begin() + end, file.end());
        return out;
    };
    BOOST_TEST(error_of([&] { decode(repeated(1200), "many.jpg"); }) ==
               "many.jpg: not a valid JPEG: more than 1000 progressive scans");
    // A few repeats decode, as they do with libjpeg and PIL.
    BOOST_TEST(decode(repeated(3), "few.jpg").width == 16);
}

BOOST_AUTO_TEST_CASE(pixel_limit_is_checked_before_anything_is_allocated) {
    // Only a header claiming 100000×100000 RGB (30 GB decoded): refused from the IHDR bytes alone
    // (were libpng asked first it would report the missing image data instead), in well under
    // the time a 30 GB allocation would take.
    Bytes bomb = make_png_header_only(100000, 100000);
    auto start = std::chrono::steady_clock::now();
    BOOST_TEST(error_of([&] { decode(bomb, "file.png"); }) ==
               "file.png: image is 100000×100000 pixels, over the limit of 89478485 (max_pixels)");
    BOOST_TEST(error_of([&] { probe(bomb, "file.png"); }).find("over the limit") != std::string::npos);
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    BOOST_TEST(elapsed.count() < 100);

    // The limit is configurable, and applies to JPEG too: 64×48 = 3072 pixels.
    Bytes jpeg = encode_jpeg(view(gradient(48, 64)));
    BOOST_TEST(error_of([&] { decode(jpeg, "j.jpg", {ColorMode::rgb, 3071}); }) ==
               "j.jpg: image is 64×48 pixels, over the limit of 3071 (max_pixels)");
    BOOST_TEST(decode(jpeg, "j.jpg", {ColorMode::rgb, 3072}).width == 64);
    Bytes png = encode_png(view(gradient(48, 64)));
    BOOST_TEST(error_of([&] { decode(png, "p.png", {ColorMode::grey, 100}); }).find("over the limit of 100") !=
               std::string::npos);
    // Files far larger than any image within the limit are refused unread.
    TempDir dir;
    write_bytes(dir / "big.jpg", Bytes(5000, 0));
    BOOST_TEST(error_of([&] { read_file(dir / "big.jpg", 4096); }).find("file is 5000 bytes") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(decode_into_reports_sizes_and_checks_the_buffer) {
    Bytes png = encode_png(view(gradient(5, 7)));
    ImageInfo info = probe(png, "p.png", grey);
    BOOST_TEST(info.height == 5);
    BOOST_TEST(info.width == 7);
    BOOST_TEST(info.bytes() == 35u);
    BOOST_TEST((info.format == Format::png));
    Bytes small(34);
    BOOST_TEST(error_of([&] { decode_into(png, "p.png", grey, small); }, Errc::invalid_argument) ==
               "p.png: the output buffer holds 34 bytes, the image needs 35");
}

BOOST_AUTO_TEST_CASE(encoders_refuse_bad_input) {
    Bytes px(12);
    BOOST_TEST(error_of([&] { encode_png({px.data(), 2, 2, 2}); }, Errc::invalid_argument).find("1 or 3 channels") !=
               std::string::npos);
    BOOST_TEST(error_of([&] { encode_jpeg({px.data(), 2, 2, 3}, {0}); }, Errc::invalid_argument) ==
               "encode_jpeg: quality 0 is outside 1..100");
    BOOST_TEST(error_of([&] { encode_jpeg({px.data(), 1, 70000, 1}); }, Errc::invalid_argument)
                   .starts_with("encode_jpeg: Maximum supported image dimension"));
}

BOOST_AUTO_TEST_CASE(file_errors_name_the_path_and_reason) {
    TempDir dir;
    BOOST_TEST(error_of([&] { decode_file(dir / "missing.png"); }, Errc::io) ==
               dir / "missing.png" + ": cannot open: No such file or directory");
    BOOST_TEST(error_of([&] { decode_file(dir.path.string()); }, Errc::io) ==
               dir.path.string() + ": is a folder, not a file");
    BOOST_REQUIRE(::mkfifo((dir / "pipe.png").c_str(), 0600) == 0);
    BOOST_TEST(error_of([&] { decode_file(dir / "pipe.png"); }, Errc::io) == dir / "pipe.png" + ": not a regular file");
    BOOST_TEST(error_of([&] { write_png(dir / "no/such/dir.png", view(gradient(2, 2))); }, Errc::io) ==
               dir / "no/such/dir.png" + ": cannot create: No such file or directory");
}

BOOST_AUTO_TEST_CASE(unreadable_file_is_an_io_error, *boost::unit_test::precondition(chmod_works)) {
    TempDir dir;
    write_bytes(dir / "locked.png", encode_png(view(gradient(2, 2))));
    ::chmod((dir / "locked.png").c_str(), 0);
    BOOST_TEST(error_of([&] { decode_file(dir / "locked.png"); }, Errc::io) ==
               dir / "locked.png" + ": cannot open: Permission denied");
}
