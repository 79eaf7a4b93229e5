// AVX-512 binary kernels (microkernels.h): bit packing with byte mask tests and
// window popcounts with VPOPCNTQ on eight output channels per register. Included by
// the AVX-512 path files after their target pragma; internal linkage.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "../generic_microkernels.h"

namespace ewgs::infer::avx512 {
namespace {

/// 64 codes per mask test when the bits start on a byte.
void pack_bits(const uint8_t* codes, int64_t n, int64_t offset, uint8_t* bits) {
  if (offset % 8 != 0) {
    generic_pack_bits(codes, n, offset, bits);
    return;
  }
  uint8_t* out = bits + offset / 8;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __mmask64 m = _mm512_test_epi8_mask(_mm512_loadu_si512(codes + i), _mm512_set1_epi8(1));
    std::memcpy(out + i / 8, &m, 8);
  }
  generic_pack_bits(codes + i, n - i, i, out);
}

/// acc = gain * counts - zero * ones for G groups of eight channels; full groups
/// are stored whole, the last one masked at out_c.
template <int G>
inline void store_counts(
    const __m512i* counts,
    int64_t ones,
    int32_t gain,
    int32_t zero,
    int64_t out_c,
    int64_t first,
    int32_t* out) {
  const __m512i offset = _mm512_set1_epi64(int64_t{zero} * ones);
#pragma GCC unroll 16
  for (int g = 0; g < G; ++g) {
    const __m512i scaled = gain == 2 ? _mm512_add_epi64(counts[g], counts[g]) : counts[g];
    const __m256i r = _mm512_maskz_cvtepi64_epi32(0xff, _mm512_sub_epi64(scaled, offset));
    const int64_t n = out_c - (first + 8 * g);
    if (n >= 8) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * g), r);
    } else {
      _mm256_mask_storeu_epi32(out + 8 * g, static_cast<__mmask8>((1u << n) - 1), r);
    }
  }
}

/// Output channels [first, first + 8 G) of every column; the window's KH x WPR
/// words fixed at compile time (KH = 0: given at run time), two columns at a time
/// so that each weight load serves both. Everything the loops read is copied to
/// locals first: the stores to `acc` could otherwise alias it and force reloads.
template <int G, int KH, int WPR>
void binary_columns(
    const BinaryWindows& in,
    int64_t out_w,
    const uint64_t* weights,
    int64_t out_c,
    int64_t out_c_pad,
    int64_t first,
    int32_t gain,
    int32_t zero,
    int32_t* acc) {
  const int64_t kh = KH > 0 ? KH : in.kh;
  const int64_t wpr = KH > 0 ? WPR : in.wpr;
  const int64_t step = in.step_bytes;
  const uint64_t last_mask = in.last_mask;
  const uint8_t* rows[kMaxKernel];
  for (int64_t ky = 0; ky < kh; ++ky) {
    rows[ky] = in.rows[ky];
  }
  int64_t x = 0;
  for (; x + 2 <= out_w; x += 2) {
    __m512i s0[G], s1[G];
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) {
      s0[g] = s1[g] = _mm512_setzero_si512();
    }
    int64_t ones0 = 0, ones1 = 0;
    // Unrolled over the window, GCC spills the accumulators.
#pragma GCC unroll 1
    for (int64_t ky = 0; ky < kh; ++ky) {
      const uint64_t* wk = weights + ky * wpr * out_c_pad + first;
      const uint8_t* p0 = rows[ky] + x * step;
#pragma GCC unroll 1
      for (int64_t w = 0; w < wpr; ++w) {
        const uint64_t a0 = window_word_at(p0, w, wpr, last_mask);
        const uint64_t a1 = window_word_at(p0 + step, w, wpr, last_mask);
        ones0 += _mm_popcnt_u64(a0);
        ones1 += _mm_popcnt_u64(a1);
        const __m512i v0 = _mm512_set1_epi64(static_cast<long long>(a0));
        const __m512i v1 = _mm512_set1_epi64(static_cast<long long>(a1));
        const uint64_t* wg = wk + w * out_c_pad;
#pragma GCC unroll 16
        for (int g = 0; g < G; ++g) {
          const __m512i wv = _mm512_loadu_si512(wg + 8 * g);
          s0[g] = _mm512_add_epi64(s0[g], _mm512_popcnt_epi64(_mm512_and_si512(v0, wv)));
          s1[g] = _mm512_add_epi64(s1[g], _mm512_popcnt_epi64(_mm512_and_si512(v1, wv)));
        }
      }
    }
    store_counts<G>(s0, ones0, gain, zero, out_c, first, acc + x * out_c + first);
    store_counts<G>(s1, ones1, gain, zero, out_c, first, acc + (x + 1) * out_c + first);
  }
  for (; x < out_w; ++x) {
    __m512i s[G];
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) {
      s[g] = _mm512_setzero_si512();
    }
    int64_t ones = 0;
    for (int64_t ky = 0; ky < kh; ++ky) {
      const uint64_t* wk = weights + ky * wpr * out_c_pad + first;
      for (int64_t w = 0; w < wpr; ++w) {
        const uint64_t a = window_word_at(rows[ky] + x * step, w, wpr, last_mask);
        ones += _mm_popcnt_u64(a);
        const __m512i va = _mm512_set1_epi64(static_cast<long long>(a));
        const uint64_t* wg = wk + w * out_c_pad;
#pragma GCC unroll 16
        for (int g = 0; g < G; ++g) {
          s[g] = _mm512_add_epi64(
              s[g], _mm512_popcnt_epi64(_mm512_and_si512(va, _mm512_loadu_si512(wg + 8 * g))));
        }
      }
    }
    store_counts<G>(s, ones, gain, zero, out_c, first, acc + x * out_c + first);
  }
}

using BinaryColumnsFn = void (*)(
    const BinaryWindows&,
    int64_t,
    const uint64_t*,
    int64_t,
    int64_t,
    int64_t,
    int32_t,
    int32_t,
    int32_t*);

/// The kernel for G groups and a kh x wpr window: the 3x3 and 1x1 convolutions of
/// up to 192 input channels get their window sizes compiled in.
template <int G>
BinaryColumnsFn binary_columns_for(int64_t kh, int64_t wpr) {
  if (kh == 3 && wpr == 1) {
    return binary_columns<G, 3, 1>;
  }
  if (kh == 3 && wpr == 2) {
    return binary_columns<G, 3, 2>;
  }
  if (kh == 3 && wpr == 3) {
    return binary_columns<G, 3, 3>;
  }
  if (kh == 1 && wpr == 1) {
    return binary_columns<G, 1, 1>;
  }
  return binary_columns<G, 0, 0>;
}

void binary_row(
    const BinaryWindows& in,
    int64_t out_w,
    const uint64_t* weights,
    int64_t out_c,
    int64_t out_c_pad,
    int32_t gain,
    int32_t zero,
    int32_t* acc) {
  static constexpr BinaryColumnsFn (*kFor[])(int64_t, int64_t) = {
      binary_columns_for<1>,
      binary_columns_for<2>,
      binary_columns_for<3>,
      binary_columns_for<4>,
      binary_columns_for<5>,
      binary_columns_for<6>,
      binary_columns_for<7>,
      binary_columns_for<8>};
  const int64_t groups = out_c_pad / 8;
  for (int64_t g0 = 0; g0 < groups; g0 += 8) {
    const int64_t g = std::min<int64_t>(8, groups - g0);
    kFor[g - 1](in.kh, in.wpr)(in, out_w, weights, out_c, out_c_pad, g0 * 8, gain, zero, acc);
  }
}

}  // namespace
}  // namespace ewgs::infer::avx512
