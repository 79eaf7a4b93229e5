// The weight layout of the x86 int8 kernels: four consecutive window bytes of one
// output channel side by side, channels padded to 16, so one 512-bit load holds four
// taps of sixteen channels ([ky][quad][channel][4] signed bytes).
#pragma once

#include <cstdint>
#include <vector>

// Internal linkage: the AVX2 and AVX-512 files compile their own copies.
namespace ewgs::infer::int8_layout {
namespace {

inline int64_t padded_channels(int64_t out_c) {
  return (out_c + 15) / 16 * 16;
}

/// Offset of (ky, quad, channel) in the prepared weights.
inline int64_t offset(int64_t ky, int64_t quad, int64_t channel, int64_t quads, int64_t out_c_pad) {
  return ((ky * quads + quad) * out_c_pad + channel) * 4;
}

/// Weights [out_c][kh][seg_len] (seg_len a multiple of 4) in this layout.
inline std::vector<int8_t> prepare(
    const int8_t* weights, int64_t out_c, int64_t kh, int64_t seg_len) {
  const int64_t pad = padded_channels(out_c);
  const int64_t quads = seg_len / 4;
  std::vector<int8_t> out(static_cast<size_t>(kh * quads * pad * 4), 0);
  for (int64_t o = 0; o < out_c; ++o) {
    for (int64_t ky = 0; ky < kh; ++ky) {
      for (int64_t j = 0; j < seg_len; ++j) {
        out[static_cast<size_t>(offset(ky, j / 4, o, quads, pad) + j % 4)] =
            weights[(o * kh + ky) * seg_len + j];
      }
    }
  }
  return out;
}

}  // namespace
}  // namespace ewgs::infer::int8_layout
