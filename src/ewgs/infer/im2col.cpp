// Window gathering for the fast kernels (im2col.h).
#include "im2col.h"

#include <algorithm>
#include <cstring>

namespace ewgs::infer {

template <typename T>
void im2col(const ConvGeometry& g, const T* input, int64_t n, int64_t begin, int64_t end, int64_t stride, T* rows) {
  const int64_t c = g.in_c;
  for (int64_t p = begin; p < end; ++p) {
    T* row = rows + (p - begin) * stride;
    const int64_t y = p / g.out_w;
    const int64_t x = p % g.out_w;
    T* at = row;
    for (int64_t ky = 0; ky < g.kernel_h; ++ky) {
      const int64_t iy = y * g.stride_h - g.pad_h + ky;
      for (int64_t kx = 0; kx < g.kernel_w; ++kx, at += c) {
        const int64_t ix = x * g.stride_w - g.pad_w + kx;
        if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) {
          std::fill(at, at + c, T{0});
        } else {
          std::memcpy(at, input + ((n * g.in_h + iy) * g.in_w + ix) * c, static_cast<size_t>(c) * sizeof(T));
        }
      }
    }
    std::fill(at, row + stride, T{0});
  }
}

template void im2col<uint8_t>(const ConvGeometry&, const uint8_t*, int64_t, int64_t, int64_t, int64_t, uint8_t*);
template void im2col<double>(const ConvGeometry&, const double*, int64_t, int64_t, int64_t, int64_t, double*);

int64_t packed_pixel_bytes(int64_t channels) {
  return (channels + 7) / 8;
}

void pack_pixel_bits(const uint8_t* codes, int64_t pixels, int64_t channels, uint8_t* packed) {
  const int64_t bytes = packed_pixel_bytes(channels);
  for (int64_t p = 0; p < pixels; ++p) {
    const uint8_t* in = codes + p * channels;
    uint8_t* out = packed + p * bytes;
    for (int64_t b = 0; b < bytes; ++b) {
      uint8_t byte = 0;
      const int64_t count = std::min<int64_t>(8, channels - b * 8);
      for (int64_t i = 0; i < count; ++i) {
        byte |= static_cast<uint8_t>((in[b * 8 + i] & 1) << i);
      }
      out[b] = byte;
    }
  }
}

void im2col_bits(const ConvGeometry& g, const uint8_t* packed, int64_t n, int64_t begin, int64_t end,
                 int64_t stride_words, uint64_t* rows) {
  const int64_t tap_bytes = packed_pixel_bytes(g.in_c);
  for (int64_t p = begin; p < end; ++p) {
    auto* row = reinterpret_cast<uint8_t*>(rows + (p - begin) * stride_words);
    std::memset(row, 0, static_cast<size_t>(stride_words) * 8);
    const int64_t y = p / g.out_w;
    const int64_t x = p % g.out_w;
    uint8_t* at = row;
    for (int64_t ky = 0; ky < g.kernel_h; ++ky) {
      const int64_t iy = y * g.stride_h - g.pad_h + ky;
      for (int64_t kx = 0; kx < g.kernel_w; ++kx, at += tap_bytes) {
        const int64_t ix = x * g.stride_w - g.pad_w + kx;
        if (iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w) {
          std::memcpy(at, packed + ((n * g.in_h + iy) * g.in_w + ix) * tap_bytes, static_cast<size_t>(tap_bytes));
        }
      }
    }
  }
}

} // namespace ewgs::infer
