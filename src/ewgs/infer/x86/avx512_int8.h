// AVX-512 int8 kernels (microkernels.h): sixteen output channels per register, up to
// eight output columns per weight load, VNNI dot products or BW multiply-adds. Included
// by the AVX-512 path files after their target pragma; internal linkage.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "int8_layout.h"

namespace ewgs::infer::avx512 {
namespace {

/// Sixteen int32 sums of four u8 x s8 products each: VNNI, or BW multiply-adds.
template <bool kVnni>
inline __m512i dot4(__m512i sum, __m512i a, __m512i w) {
  if constexpr (kVnni) {
    return _mm512_dpbusd_epi32(sum, a, w);
  } else {
    const __m512i pairs = _mm512_maddubs_epi16(a, w);
    return _mm512_add_epi32(sum, _mm512_madd_epi16(pairs, _mm512_set1_epi16(1)));
  }
}

/// Columns [x, x + P) and channels [16 g0, 16 (g0 + G)): P x G accumulators.
template <bool kVnni, int P, int G>
void int8_block(
    const uint8_t* const* segs,
    int64_t kh,
    int64_t quads,
    int64_t step,
    int64_t x,
    const int8_t* prepared,
    int64_t out_c_pad,
    int64_t g0,
    int64_t out_c,
    int32_t* acc) {
  __m512i s[P][G];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) {
      s[p][g] = _mm512_setzero_si512();
    }
  }
  for (int64_t ky = 0; ky < kh; ++ky) {
    const uint8_t* base = segs[ky] + x * step;
    for (int64_t q = 0; q < quads; ++q) {
      __m512i w[G];
#pragma GCC unroll 16
      for (int g = 0; g < G; ++g) {
        w[g] = _mm512_loadu_si512(
            prepared + int8_layout::offset(ky, q, (g0 + g) * 16, quads, out_c_pad));
      }
#pragma GCC unroll 16
      for (int p = 0; p < P; ++p) {
        int32_t four;
        std::memcpy(&four, base + p * step + 4 * q, 4);
        const __m512i a = _mm512_set1_epi32(four);
#pragma GCC unroll 16
        for (int g = 0; g < G; ++g) {
          s[p][g] = dot4<kVnni>(s[p][g], a, w[g]);
        }
      }
    }
  }
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) {
      const int64_t c = (g0 + g) * 16;
      const int64_t n = std::min<int64_t>(16, out_c - c);
      _mm512_mask_storeu_epi32(
          acc + (x + p) * out_c + c, static_cast<__mmask16>((1u << n) - 1), s[p][g]);
    }
  }
}

template <bool kVnni>
void int8_row(
    const uint8_t* const* segs,
    int64_t kh,
    int64_t seg_len,
    int64_t step,
    int64_t out_w,
    const int8_t* prepared,
    int64_t out_c,
    int32_t* acc) {
  using Block = void (*)(
      const uint8_t* const*,
      int64_t,
      int64_t,
      int64_t,
      int64_t,
      const int8_t*,
      int64_t,
      int64_t,
      int64_t,
      int32_t*);
  // [G - 1][P - 1], G * P <= 16 accumulators (+ G weights + 1 broadcast of 32 registers).
  static constexpr Block kBlocks[4][8] = {
      {int8_block<kVnni, 1, 1>,
       int8_block<kVnni, 2, 1>,
       int8_block<kVnni, 3, 1>,
       int8_block<kVnni, 4, 1>,
       int8_block<kVnni, 5, 1>,
       int8_block<kVnni, 6, 1>,
       int8_block<kVnni, 7, 1>,
       int8_block<kVnni, 8, 1>},
      {int8_block<kVnni, 1, 2>,
       int8_block<kVnni, 2, 2>,
       int8_block<kVnni, 3, 2>,
       int8_block<kVnni, 4, 2>,
       int8_block<kVnni, 5, 2>,
       int8_block<kVnni, 6, 2>,
       int8_block<kVnni, 7, 2>,
       int8_block<kVnni, 8, 2>},
      {int8_block<kVnni, 1, 3>,
       int8_block<kVnni, 2, 3>,
       int8_block<kVnni, 3, 3>,
       int8_block<kVnni, 4, 3>,
       int8_block<kVnni, 5, 3>,
       nullptr,
       nullptr,
       nullptr},
      {int8_block<kVnni, 1, 4>,
       int8_block<kVnni, 2, 4>,
       int8_block<kVnni, 3, 4>,
       int8_block<kVnni, 4, 4>,
       nullptr,
       nullptr,
       nullptr,
       nullptr}};
  const int64_t out_c_pad = int8_layout::padded_channels(out_c);
  const int64_t groups = out_c_pad / 16;
  const int64_t quads = seg_len / 4;
  for (int64_t g0 = 0; g0 < groups; g0 += 4) {
    const int64_t g = std::min<int64_t>(4, groups - g0);
    const int64_t max_p = g == 1 ? 8 : g == 2 ? 8 : g == 3 ? 5 : 4;
    for (int64_t x = 0; x < out_w;) {
      const int64_t p = std::min<int64_t>(max_p, out_w - x);
      kBlocks[g - 1][p - 1](segs, kh, quads, step, x, prepared, out_c_pad, g0, out_c, acc);
      x += p;
    }
  }
}

}  // namespace
}  // namespace ewgs::infer::avx512
