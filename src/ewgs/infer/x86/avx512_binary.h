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

/// Output channels [first, first + 8 G) of every column: G registers of eight
/// 64-bit counts per column.
template <int G>
void binary_columns(const uint64_t* const* rows, int64_t kh, int64_t wpr, int64_t out_w, const uint64_t* weights,
                    int64_t out_c, int64_t out_c_pad, int64_t first, int32_t gain, int32_t zero, int32_t* acc) {
  __mmask8 store[G];
  for (int g = 0; g < G; ++g) {
    const int64_t n = std::min<int64_t>(8, out_c - (first + 8 * g));
    store[g] = static_cast<__mmask8>((1u << n) - 1);
  }
  for (int64_t x = 0; x < out_w; ++x) {
    __m512i s[G];
    for (int g = 0; g < G; ++g) {
      s[g] = _mm512_setzero_si512();
    }
    int64_t ones = 0;
    for (int64_t ky = 0; ky < kh; ++ky) {
      const uint64_t* row = rows[ky] + x * wpr;
      const uint64_t* wk = weights + ky * wpr * out_c_pad + first;
      for (int64_t w = 0; w < wpr; ++w) {
        const uint64_t a = row[w];
        ones += _mm_popcnt_u64(a);
        const __m512i va = _mm512_set1_epi64(static_cast<long long>(a));
        const uint64_t* wg = wk + w * out_c_pad;
        for (int g = 0; g < G; ++g) {
          s[g] = _mm512_add_epi64(s[g], _mm512_popcnt_epi64(_mm512_and_si512(va, _mm512_loadu_si512(wg + 8 * g))));
        }
      }
    }
    const __m512i offset = _mm512_set1_epi64(int64_t{zero} * ones);
    int32_t* out = acc + x * out_c + first;
    for (int g = 0; g < G; ++g) {
      const __m512i scaled = gain == 2 ? _mm512_add_epi64(s[g], s[g]) : s[g];
      const __m256i r = _mm512_maskz_cvtepi64_epi32(0xff, _mm512_sub_epi64(scaled, offset));
      _mm256_mask_storeu_epi32(out + 8 * g, store[g], r);
    }
  }
}

using BinaryColumnsFn = void (*)(const uint64_t* const*, int64_t, int64_t, int64_t, const uint64_t*, int64_t,
                                 int64_t, int64_t, int32_t, int32_t, int32_t*);
constexpr BinaryColumnsFn kBinaryColumns[] = {binary_columns<1>, binary_columns<2>, binary_columns<3>,
                                              binary_columns<4>, binary_columns<5>, binary_columns<6>,
                                              binary_columns<7>, binary_columns<8>};

void binary_row(const uint64_t* const* rows, int64_t kh, int64_t wpr, int64_t out_w, const uint64_t* weights,
                int64_t out_c, int64_t out_c_pad, int32_t gain, int32_t zero, int32_t* acc) {
  const int64_t groups = out_c_pad / 8;
  for (int64_t g0 = 0; g0 < groups; g0 += 8) {
    const int64_t g = std::min<int64_t>(8, groups - g0);
    kBinaryColumns[g - 1](rows, kh, wpr, out_w, weights, out_c, out_c_pad, g0 * 8, gain, zero, acc);
  }
}

} // namespace
} // namespace ewgs::infer::avx512
