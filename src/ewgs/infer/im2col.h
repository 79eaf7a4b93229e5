// Gathering convolution windows into rows (im2col) for the fast kernels: codes as
// bytes, codes as bits (binary layers), or doubles; padding positions become zeros.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels.h"

namespace ewgs::infer {

/// Rows of the window of output pixels [begin, end) of image n (pixel p =
/// y * out_w + x), group 0 of a groups == 1 convolution: row r holds the
/// window of pixel begin + r in (ky, kx, channel) order, zero-filled to `stride`.
template <typename T>
void im2col(const ConvGeometry& g, const T* input, int64_t n, int64_t begin, int64_t end, int64_t stride, T* rows);

/// Bits of one pixel's codes (each 0 or 1): bit c of byte c / 8 is channel c.
int64_t packed_pixel_bytes(int64_t channels);

/// Packs 1-bit codes [pixels][channels] into [pixels][packed_pixel_bytes].
void pack_pixel_bits(const uint8_t* codes, int64_t pixels, int64_t channels, uint8_t* packed);

/// Binary windows: row r is the packed window of pixel begin + r, taps in
/// (ky, kx) order, each tap packed_pixel_bytes(in_c) bytes, zero-filled to
/// `stride_words` 64-bit words.
void im2col_bits(const ConvGeometry& g, const uint8_t* packed, int64_t n, int64_t begin, int64_t end,
                 int64_t stride_words, uint64_t* rows);

} // namespace ewgs::infer
