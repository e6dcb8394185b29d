#include "kiln/image/codec.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "kiln/core/error.h"
#include "kiln/image/color.h"
#include "kiln/image/formats.h"

namespace kiln::image {

namespace detail {

int samples_per_pixel(Samples samples) {
    switch (samples) {
    case Samples::grey: return 1;
    case Samples::rgb: return 3;
    case Samples::cmyk:
    case Samples::inverted_cmyk: return 4;
    }
    return 0;
}

void convert_row(const uint8_t* src, Samples samples, uint8_t* dst, int dst_channels, int64_t width) {
    switch (samples) {
    case Samples::grey:
        if (dst_channels == 1) {
            std::memcpy(dst, src, width);
        } else {
            for (int64_t x = 0; x < width; ++x, dst += 3) dst[0] = dst[1] = dst[2] = src[x];
        }
        return;
    case Samples::rgb:
        if (dst_channels == 3) {
            std::memcpy(dst, src, width * 3);
        } else {
            for (int64_t x = 0; x < width; ++x, src += 3) dst[x] = luma(src[0], src[1], src[2]);
        }
        return;
    case Samples::cmyk:
    case Samples::inverted_cmyk: {
        // Adobe-inverted files store 255 − ink.
        const uint8_t flip = samples == Samples::inverted_cmyk ? 255 : 0;
        for (int64_t x = 0; x < width; ++x, src += 4) {
            uint8_t k = src[3] ^ flip;
            uint8_t r = cmyk_component(src[0] ^ flip, k);
            uint8_t g = cmyk_component(src[1] ^ flip, k);
            uint8_t b = cmyk_component(src[2] ^ flip, k);
            if (dst_channels == 3) {
                dst[0] = r;
                dst[1] = g;
                dst[2] = b;
                dst += 3;
            } else {
                *dst++ = luma(r, g, b);
            }
        }
        return;
    }
    }
}

void check_pixel_limit(const std::string& name, int64_t width, int64_t height, uint64_t max_pixels) {
    if (static_cast<uint64_t>(width) * static_cast<uint64_t>(height) > max_pixels)
        fail(Errc::format, name + ": image is " + std::to_string(width) + "×" + std::to_string(height) +
                               " pixels, over the limit of " + std::to_string(max_pixels) + " (max_pixels)");
}

void check_output_size(const std::string& name, const ImageInfo& info, std::span<const uint8_t> out) {
    if (out.size() < info.bytes())
        fail(Errc::invalid_argument, name + ": the output buffer holds " + std::to_string(out.size()) +
                                         " bytes, the image needs " + std::to_string(info.bytes()));
}

void check_view(ImageView image, const char* what) {
    if (!image.pixels || image.height <= 0 || image.width <= 0 || (image.channels != 1 && image.channels != 3))
        fail(Errc::invalid_argument, std::string(what) + ": needs pixels, a positive size and 1 or 3 channels, got " +
                                         std::to_string(image.height) + "×" + std::to_string(image.width) + "×" +
                                         std::to_string(image.channels));
}

}  // namespace detail

namespace {

constexpr uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
constexpr uint8_t jpeg_signature[3] = {0xff, 0xd8, 0xff};

bool starts_with(std::span<const uint8_t> bytes, std::span<const uint8_t> prefix) {
    return bytes.size() >= prefix.size() && std::memcmp(bytes.data(), prefix.data(), prefix.size()) == 0;
}

// The format, or an error that says what the file is instead.
Format require_format(std::span<const uint8_t> bytes, const std::string& name) {
    Format format;
    if (detect_format(bytes, format)) return format;
    if (bytes.empty()) fail(Errc::format, name + ": empty file (0 bytes), not an image");
    // A file cut inside the signature is a truncated image, not some other kind of file.
    if (bytes.size() >= 2 && bytes.size() < sizeof png_signature && starts_with(png_signature, bytes))
        fail(Errc::format, name + ": PNG file is truncated (" + std::to_string(bytes.size()) + " bytes)");
    if (bytes.size() == 2 && starts_with(jpeg_signature, bytes))
        fail(Errc::format, name + ": JPEG file is truncated (2 bytes)");
    static const char hex[] = "0123456789abcdef";
    std::string first;
    for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
        if (i) first += ' ';
        first += hex[bytes[i] >> 4];
        first += hex[bytes[i] & 15];
    }
    fail(Errc::format, name + ": not a PNG or JPEG file (it starts with bytes " + first +
                           "); the format is read from the contents, not the name");
}

std::string system_reason() { return std::system_category().message(errno); }

}  // namespace

const char* format_name(Format format) { return format == Format::png ? "PNG" : "JPEG"; }

bool detect_format(std::span<const uint8_t> bytes, Format& format) {
    if (starts_with(bytes, png_signature)) {
        format = Format::png;
        return true;
    }
    if (starts_with(bytes, jpeg_signature)) {
        format = Format::jpeg;
        return true;
    }
    return false;
}

ImageInfo probe(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options) {
    return require_format(bytes, name) == Format::png ? detail::png_probe(bytes, name, options)
                                                      : detail::jpeg_probe(bytes, name, options);
}

ImageInfo decode_into(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options,
                      std::span<uint8_t> out) {
    return require_format(bytes, name) == Format::png ? detail::png_decode(bytes, name, options, out)
                                                      : detail::jpeg_decode(bytes, name, options, out);
}

Image decode(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options) {
    ImageInfo info = probe(bytes, name, options);
    Image image{info.height, info.width, info.channels, std::vector<uint8_t>(info.bytes())};
    decode_into(bytes, name, options, image.pixels);
    return image;
}

uint64_t max_file_bytes(uint64_t max_pixels) {
    constexpr uint64_t metadata = 64ull << 20;
    return max_pixels > (UINT64_MAX - metadata) / 9 ? UINT64_MAX : 9 * max_pixels + metadata;
}

Image decode_file(const std::string& path, const DecodeOptions& options) {
    return decode(read_file(path, max_file_bytes(options.max_pixels)), path, options);
}

std::vector<uint8_t> encode_png(ImageView image) { return detail::png_encode(image); }

std::vector<uint8_t> encode_jpeg(ImageView image, const JpegOptions& options) {
    return detail::jpeg_encode(image, options);
}

void write_png(const std::string& path, ImageView image) { write_file(path, encode_png(image)); }

void write_jpeg(const std::string& path, ImageView image, const JpegOptions& options) {
    write_file(path, encode_jpeg(image, options));
}

std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes) {
    std::vector<uint8_t> bytes;
    read_file(path, max_bytes, bytes);
    return bytes;
}

void read_file(const std::string& path, uint64_t max_bytes, std::vector<uint8_t>& bytes) {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below like a folder.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) fail(Errc::io, path + ": cannot open: " + system_reason());
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        std::string reason = system_reason();
        ::close(fd);
        fail(Errc::io, path + ": cannot stat: " + reason);
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(Errc::io, path + (S_ISDIR(st.st_mode) ? ": is a folder, not a file" : ": not a regular file"));
    }
    if (static_cast<uint64_t>(st.st_size) > max_bytes) {
        ::close(fd);
        fail(Errc::format, path + ": file is " + std::to_string(st.st_size) +
                               " bytes, more than an image within the pixel limit can take (" +
                               std::to_string(max_bytes) + " bytes)");
    }
    bytes.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < bytes.size()) {
        ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            std::string reason = n < 0 ? system_reason() : "the file shrank while it was read";
            ::close(fd);
            fail(Errc::io, path + ": cannot read: " + reason);
        }
        got += static_cast<size_t>(n);
    }
    ::close(fd);
}

void write_file(const std::string& path, std::span<const uint8_t> bytes) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail(Errc::io, path + ": cannot create: " + system_reason());
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            std::string reason = system_reason();
            ::close(fd);
            fail(Errc::io, path + ": cannot write: " + reason);
        }
        done += static_cast<size_t>(n);
    }
    if (::close(fd) != 0) fail(Errc::io, path + ": cannot write: " + system_reason());
}

}  // namespace kiln::image
