// Internal to kiln/image: the PNG and JPEG halves of codec.h, and what they share. Not installed.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kiln/image/codec.h"

namespace kiln::image::detail {

// The samples a decoder hands over, before conversion to the output mode. Alpha is already gone.
enum class Samples { grey, rgb, cmyk, inverted_cmyk };
int samples_per_pixel(Samples samples);

// Converts one row of `width` pixels to dst_channels (1 or 3) per pixel.
void convert_row(const uint8_t* src, Samples samples, uint8_t* dst, int dst_channels, int64_t width);

// Throws Error(format) "<name>: image is W×H pixels, over the limit of N (max_pixels)".
void check_pixel_limit(const std::string& name, int64_t width, int64_t height, uint64_t max_pixels);
// Throws Error(invalid_argument) if `out` is smaller than info.bytes().
void check_output_size(const std::string& name, const ImageInfo& info, std::span<const uint8_t> out);
// Throws Error(invalid_argument) unless the view has pixels, a positive size and 1 or 3 channels.
void check_view(ImageView image, const char* what);

ImageInfo png_probe(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options);
ImageInfo png_decode(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options,
                     std::span<uint8_t> out);
std::vector<uint8_t> png_encode(ImageView image);

ImageInfo jpeg_probe(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options);
ImageInfo jpeg_decode(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options,
                      std::span<uint8_t> out);
std::vector<uint8_t> jpeg_encode(ImageView image, const JpegOptions& options);

}  // namespace kiln::image::detail
