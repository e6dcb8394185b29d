// Colour conversions on 8-bit samples, exactly as PIL computes them, so that kiln's grey images and
// CMYK JPEGs match what torchvision's PIL-based pipeline sees.
#pragma once
#include <cstdint>

namespace kiln::image {

// ITU-R 601-2 luma, L = 0.299 R + 0.587 G + 0.114 B, in PIL's 16-bit fixed point with rounding
// (Convert.c, L24): the weights sum to 65536, so a grey pixel keeps its value.
inline uint8_t luma(uint8_t r, uint8_t g, uint8_t b) {
    return static_cast<uint8_t>((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

// a·b/255 rounded, as PIL's MULDIV255.
inline unsigned mul_div_255(unsigned a, unsigned b) {
    unsigned t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

// One RGB component from an ink amount (0 = none) and black (0 = none), as PIL's cmyk2rgb:
// (255 − K) − ink·(255 − K)/255.
inline uint8_t cmyk_component(uint8_t ink, uint8_t black) {
    unsigned nk = 255u - black;
    return static_cast<uint8_t>(nk - mul_div_255(ink, nk));
}

}  // namespace kiln::image
