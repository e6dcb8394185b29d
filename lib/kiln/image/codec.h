// PNG and JPEG decoding to 8-bit grey or RGB, and encoding, for the imagefolder plugin, the tools
// and pictures. libpng and libjpeg(-turbo) stay behind this header.
//
// Decoding gives the pixels PIL's `Image.open(f).convert("RGB")` / `.convert("L")` gives
// (torchvision's ImageFolder loader), with these choices:
// - The format comes from the file's first bytes, never its name: a JPEG named .png decodes.
// - Alpha (an alpha channel or a tRNS chunk) is dropped, not composited, as PIL's convert does.
// - 16-bit PNG samples become round(v·255/65535) = (v·255 + 32767) / 65535, libpng's scaling.
//   Here kiln departs from PIL on purpose: PIL keeps the high byte of 16-bit RGB and clips 16-bit
//   grey at 255 (so 1000 of 65535 becomes white). Gamma chunks are ignored, as PIL ignores them.
// - RGB → grey is ITU-R 601-2 luma in PIL's fixed point: (R·19595 + G·38470 + B·7471 + 32768) >> 16.
// - CMYK JPEGs: with an Adobe APP14 marker the samples are Adobe-inverted (Photoshop's convention,
//   which PIL assumes for every CMYK JPEG); without one they are plain. Either way RGB is
//   PIL's (255 − K) − (C·(255 − K))/255 with C, M, Y, K the amounts of ink.
// - A truncated file is an error (libjpeg-turbo alone would warn and fill the rest with grey), and
//   so is entropy-coded JPEG data that libjpeg reports as corrupt; warnings about metadata or
//   stray bytes between segments, which cost no pixels, are ignored as PIL ignores them. A JPEG
//   with more than 1000 progressive scans (a few-KB file that decodes for minutes) is refused.
// - Width × height is checked against DecodeOptions::max_pixels before anything is allocated.
// Every error is a kiln::Error whose message starts with the file's name: Errc::io when the file
// cannot be read, Errc::format when its contents are not a decodable PNG or JPEG (or too large).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln::image {

enum class Format { png, jpeg };
enum class ColorMode { grey, rgb };

inline int channels(ColorMode mode) { return mode == ColorMode::grey ? 1 : 3; }
const char* format_name(Format format);  // "PNG", "JPEG"

// PIL's Image.MAX_IMAGE_PIXELS: 1024 · 1024 · 1024 / 4 / 3 (about a 250 MB RGB image).
inline constexpr uint64_t default_max_pixels = 89478485;

struct DecodeOptions {
    ColorMode mode = ColorMode::rgb;
    uint64_t max_pixels = default_max_pixels;  // a larger width × height is refused
};

// What a file will decode to: H×W×channels bytes, row-major, tightly packed.
struct ImageInfo {
    Format format = Format::png;
    int64_t height = 0;
    int64_t width = 0;
    int channels = 0;  // of the output: 1 (grey) or 3 (RGB), as DecodeOptions::mode asks
    size_t bytes() const { return static_cast<size_t>(height * width * channels); }
};

// An image in memory: H×W×C u8, C = 1 or 3.
struct Image {
    int64_t height = 0;
    int64_t width = 0;
    int channels = 0;
    std::vector<uint8_t> pixels;
};

// Pixels owned elsewhere, for encoding.
struct ImageView {
    const uint8_t* pixels = nullptr;
    int64_t height = 0;
    int64_t width = 0;
    int channels = 0;  // 1 or 3
};
inline ImageView view(const Image& image) { return {image.pixels.data(), image.height, image.width, image.channels}; }

// The format of a file from its first bytes; false if it is neither PNG nor JPEG.
bool detect_format(std::span<const uint8_t> bytes, Format& format);

// Reads only the header: format, size and output channels, after the max_pixels check.
// `name` (usually the path) starts every error message.
ImageInfo probe(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options = {});

// Decodes into `out`, which must hold probe(...).bytes() bytes (a smaller span is invalid_argument).
ImageInfo decode_into(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options,
                      std::span<uint8_t> out);

Image decode(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options = {});
Image decode_file(const std::string& path, const DecodeOptions& options = {});

// 8-bit PNG (grey or RGB, zlib's default compression) and baseline or progressive JPEG (4:2:0
// chroma subsampling for RGB, as PIL saves). Throw Error(invalid_argument) for a bad view.
std::vector<uint8_t> encode_png(ImageView image);
struct JpegOptions {
    int quality = 90;  // 1..100, libjpeg's scale
    bool progressive = false;
};
std::vector<uint8_t> encode_jpeg(ImageView image, const JpegOptions& options = {});

void write_png(const std::string& path, ImageView image);
void write_jpeg(const std::string& path, ImageView image, const JpegOptions& options = {});

// The largest file that can hold an image of max_pixels: 9 bytes a pixel (16-bit RGBA PNG stored
// without compression) plus 64 MiB of metadata. decode_file and the imagefolder plugin refuse a
// larger file before reading it, so a huge file named .jpg costs no huge allocation.
uint64_t max_file_bytes(uint64_t max_pixels);

// Whole-file reading and writing; Error(io) names the path and the system's reason. A file over
// max_bytes is Error(format), unread.
std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes = UINT64_MAX);
// The same into `bytes`, resized to the file's length: a buffer kept from file to file only grows.
void read_file(const std::string& path, uint64_t max_bytes, std::vector<uint8_t>& bytes);
void write_file(const std::string& path, std::span<const uint8_t> bytes);

}  // namespace kiln::image
