// JPEG through libjpeg(-turbo)'s classic API.
//
// libjpeg's default error handler calls exit(). Ours formats the message and longjmps back to the
// setjmp of the step that called libjpeg; as in png.cpp, each step is a small function whose
// locals are plain data, and buffers live in the caller.
#include <cstdio>  // before jpeglib.h, which uses FILE
#include <jpeglib.h>
#include <jerror.h>  // after jpeglib.h: its message list depends on jconfig.h's settings

#include <csetjmp>
#include <cstring>

#include "kiln/core/error.h"
#include "kiln/image/formats.h"

namespace kiln::image::detail {
namespace {

struct JpegError {
    jpeg_error_mgr mgr;  // first, so libjpeg's pointer to it is a pointer to the whole
    std::jmp_buf jump;
    char text[JMSG_LENGTH_MAX];
    bool truncated;
};

[[noreturn]] void on_error_exit(j_common_ptr cinfo) {
    auto* e = reinterpret_cast<JpegError*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, e->text);
    std::longjmp(e->jump, 1);
}

// libjpeg-turbo only warns when data is missing or damaged, and fills the image with grey: those
// warnings are errors here. Warnings that cost no pixels (unknown JFIF revision, a bad ICC marker,
// stray bytes between segments) are ignored, as PIL ignores them; so are trace messages.
void on_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
        reinterpret_cast<JpegError*>(cinfo->err)->truncated = true;
        on_error_exit(cinfo);
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC: on_error_exit(cinfo);
    default: return;
    }
}

void install(JpegError& error, jpeg_error_mgr*& slot) {
    slot = jpeg_std_error(&error.mgr);
    error.mgr.error_exit = on_error_exit;
    error.mgr.emit_message = on_message;
}

// Used from inside a step, to fail through the same jump as libjpeg's own errors.
[[noreturn]] void fail_step(JpegError& error, const char* text) {
    std::snprintf(error.text, sizeof error.text, "%s", text);
    std::longjmp(error.jump, 1);
}

[[noreturn]] void fail_jpeg(const JpegError& e, const std::string& name) {
    if (e.truncated) fail(Errc::format, name + ": JPEG file is truncated (it ends before the image data is complete)");
    fail(Errc::format, name + ": not a valid JPEG: " + e.text);
}

// A progressive file can repeat scans without end, each costing a pass over the whole image: a
// small file that decodes for minutes. No encoder writes anywhere near this many (libjpeg's
// standard progression has 10), so more is an error, caught by libjpeg's progress callback.
constexpr int max_scans = 1000;
constexpr char too_many_scans[] = "more than 1000 progressive scans";  // a literal: no string to free after the jump

struct JpegReader {
    jpeg_decompress_struct cinfo;
    JpegError error;
    jpeg_progress_mgr progress;
    JpegReader() {
        std::memset(&cinfo, 0, sizeof cinfo);  // so destroying a never-created decoder is a no-op
        std::memset(&error, 0, sizeof error);
        install(error, cinfo.err);
        std::memset(&progress, 0, sizeof progress);
        progress.progress_monitor = [](j_common_ptr c) {
            auto* d = reinterpret_cast<j_decompress_ptr>(c);
            if (d->input_scan_number > max_scans) fail_step(*reinterpret_cast<JpegError*>(c->err), too_many_scans);
        };
    }
    ~JpegReader() { jpeg_destroy_decompress(&cinfo); }
    JpegReader(const JpegReader&) = delete;
    JpegReader& operator=(const JpegReader&) = delete;
};

// Everything up to the first scan: size, components, colour space, Adobe marker.
bool read_header(JpegReader& r, std::span<const uint8_t> bytes) {
    if (setjmp(r.error.jump)) return false;
    jpeg_create_decompress(&r.cinfo);
    r.cinfo.progress = &r.progress;
    jpeg_mem_src(&r.cinfo, bytes.data(), bytes.size());
    jpeg_read_header(&r.cinfo, TRUE);
    return true;
}

// Decodes every scanline: straight into `out` when row_buffer is null, else through row_buffer
// (samples as libjpeg gives them) and convert_row. jpeg_finish_decompress is not called: a file
// whose pixels are all there but whose end marker is missing decodes, as it does with PIL.
bool read_rows(JpegReader& r, Samples samples, uint8_t* row_buffer, uint8_t* out, int out_channels) {
    if (setjmp(r.error.jump)) return false;
    jpeg_start_decompress(&r.cinfo);
    if (r.cinfo.output_components != (row_buffer ? samples_per_pixel(samples) : out_channels))
        fail_step(r.error, "unexpected number of components after colour conversion");
    size_t stride = static_cast<size_t>(r.cinfo.output_width) * out_channels;
    while (r.cinfo.output_scanline < r.cinfo.output_height) {
        uint8_t* dst = out + r.cinfo.output_scanline * stride;
        JSAMPROW row = row_buffer ? row_buffer : dst;
        jpeg_read_scanlines(&r.cinfo, &row, 1);
        if (row_buffer) convert_row(row_buffer, samples, dst, out_channels, r.cinfo.output_width);
    }
    return true;
}

ImageInfo header(JpegReader& r, std::span<const uint8_t> bytes, const std::string& name,
                 const DecodeOptions& options) {
    if (!read_header(r, bytes)) fail_jpeg(r.error, name);
    ImageInfo info;
    info.format = Format::jpeg;
    info.width = r.cinfo.image_width;
    info.height = r.cinfo.image_height;
    info.channels = channels(options.mode);
    check_pixel_limit(name, info.width, info.height, options.max_pixels);
    return info;
}

// Collects the encoder's output in a vector, a fixed chunk at a time.
struct JpegWriter {
    jpeg_compress_struct cinfo;
    JpegError error;
    jpeg_destination_mgr destination;
    std::vector<uint8_t> bytes;
    bool out_of_memory = false;
    uint8_t chunk[16384];

    JpegWriter() {
        std::memset(&cinfo, 0, sizeof cinfo);
        std::memset(&error, 0, sizeof error);
        install(error, cinfo.err);
        cinfo.client_data = this;
        destination.init_destination = [](j_compress_ptr c) { static_cast<JpegWriter*>(c->client_data)->rewind(); };
        destination.empty_output_buffer = [](j_compress_ptr c) -> boolean {
            auto* w = static_cast<JpegWriter*>(c->client_data);
            w->append(sizeof w->chunk);
            w->rewind();
            return TRUE;
        };
        destination.term_destination = [](j_compress_ptr c) {
            auto* w = static_cast<JpegWriter*>(c->client_data);
            w->append(sizeof w->chunk - w->destination.free_in_buffer);
        };
    }
    ~JpegWriter() { jpeg_destroy_compress(&cinfo); }
    JpegWriter(const JpegWriter&) = delete;
    JpegWriter& operator=(const JpegWriter&) = delete;

    void rewind() {
        destination.next_output_byte = chunk;
        destination.free_in_buffer = sizeof chunk;
    }
    void append(size_t n) {
        try {
            bytes.insert(bytes.end(), chunk, chunk + n);
        } catch (...) {
            out_of_memory = true;
        }
        if (out_of_memory) fail_step(error, "out of memory");
    }
};

bool write_image(JpegWriter& w, ImageView image, const JpegOptions& options) {
    if (setjmp(w.error.jump)) return false;
    jpeg_create_compress(&w.cinfo);
    w.cinfo.dest = &w.destination;
    w.cinfo.image_width = static_cast<JDIMENSION>(image.width);
    w.cinfo.image_height = static_cast<JDIMENSION>(image.height);
    w.cinfo.input_components = image.channels;
    w.cinfo.in_color_space = image.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&w.cinfo);
    jpeg_set_quality(&w.cinfo, options.quality, TRUE);
    if (options.progressive) jpeg_simple_progression(&w.cinfo);
    jpeg_start_compress(&w.cinfo, TRUE);
    size_t stride = static_cast<size_t>(image.width) * image.channels;
    while (w.cinfo.next_scanline < w.cinfo.image_height) {
        JSAMPROW row = const_cast<uint8_t*>(image.pixels + w.cinfo.next_scanline * stride);
        jpeg_write_scanlines(&w.cinfo, &row, 1);
    }
    jpeg_finish_compress(&w.cinfo);
    return true;
}

}  // namespace

ImageInfo jpeg_probe(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options) {
    JpegReader r;
    return header(r, bytes, name, options);
}

ImageInfo jpeg_decode(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options,
                      std::span<uint8_t> out) {
    JpegReader r;
    ImageInfo info = header(r, bytes, name, options);
    check_output_size(name, info, out);

    // libjpeg converts YCbCr to RGB, grey to RGB and YCCK to CMYK; kiln does RGB → grey (PIL's
    // luma, not libjpeg's Y) and CMYK → RGB.
    Samples samples;
    switch (r.cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        samples = info.channels == 1 ? Samples::grey : Samples::rgb;
        r.cinfo.out_color_space = info.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        samples = Samples::rgb;
        r.cinfo.out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        samples = r.cinfo.saw_Adobe_marker ? Samples::inverted_cmyk : Samples::cmyk;
        r.cinfo.out_color_space = JCS_CMYK;
        break;
    default:
        fail(Errc::format, name + ": unsupported JPEG colour space (" + std::to_string(r.cinfo.num_components) +
                               " components)");
    }
    bool convert = samples_per_pixel(samples) != info.channels || samples == Samples::cmyk ||
                   samples == Samples::inverted_cmyk;
    std::vector<uint8_t> row(convert ? static_cast<size_t>(info.width) * samples_per_pixel(samples) : 0);
    if (!read_rows(r, samples, convert ? row.data() : nullptr, out.data(), info.channels)) fail_jpeg(r.error, name);
    return info;
}

std::vector<uint8_t> jpeg_encode(ImageView image, const JpegOptions& options) {
    check_view(image, "encode_jpeg");
    if (options.quality < 1 || options.quality > 100)
        fail(Errc::invalid_argument, "encode_jpeg: quality " + std::to_string(options.quality) + " is outside 1..100");
    JpegWriter w;
    if (!write_image(w, image, options)) fail(Errc::invalid_argument, std::string("encode_jpeg: ") + w.error.text);
    return std::move(w.bytes);
}

}  // namespace kiln::image::detail
