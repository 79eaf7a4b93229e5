// The AVX2 kernel path (microkernels.h): binary windows counted with a nibble lookup
// (vpshufb) into byte counters summed by vpsadbw, four output channels per register;
// int8 windows with vpmaddubsw + vpmaddwd on eight channels per register; elementwise
// loops four doubles per register.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "../microkernels.h"
#include "target_isa.h"

EWGS_INFER_TARGET_BEGIN("avx2,fma,popcnt,bmi2")
#include "avx2_elementwise.h"
#include "int8_layout.h"

namespace ewgs::infer::avx2 {
namespace {

/// 32 codes per movemask when the bits start on a byte.
void pack_bits(const uint8_t* codes, int64_t n, int64_t offset, uint8_t* bits) {
  if (offset % 8 != 0) {
    generic_pack_bits(codes, n, offset, bits);
    return;
  }
  uint8_t* out = bits + offset / 8;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + i));
    const auto m = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_slli_epi16(v, 7)));
    std::memcpy(out + i / 8, &m, 4);
  }
  generic_pack_bits(codes + i, n - i, i, out);
}

/// Bits set in each byte of v.
inline __m256i popcount_bytes(__m256i v) {
  const __m256i lut = _mm256_setr_epi8(
      0,
      1,
      1,
      2,
      1,
      2,
      2,
      3,
      1,
      2,
      2,
      3,
      2,
      3,
      3,
      4,
      0,
      1,
      1,
      2,
      1,
      2,
      2,
      3,
      1,
      2,
      2,
      3,
      2,
      3,
      3,
      4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low));
  const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
  return _mm256_add_epi8(lo, hi);
}

/// A byte counter takes at most 31 words (8 bits each) before it could overflow.
constexpr int64_t kWordsPerFlush = 31;

/// Output channels [first, first + 4 G) of every column; the window's KH x WPR words
/// fixed at compile time (KH = 0: given at run time).
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
  for (int64_t x = 0; x < out_w; ++x) {
    __m256i total[G];
    __m256i bytes[G];
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) {
      total[g] = bytes[g] = _mm256_setzero_si256();
    }
    int64_t ones = 0;
    int64_t pending = 0;
#pragma GCC unroll 4
    for (int64_t ky = 0; ky < kh; ++ky) {
      const uint64_t* wk = weights + ky * wpr * out_c_pad + first;
#pragma GCC unroll 4
      for (int64_t w = 0; w < wpr; ++w) {
        const uint64_t a = window_word(in, ky, x, w);
        ones += _mm_popcnt_u64(a);
        const __m256i va = _mm256_set1_epi64x(static_cast<long long>(a));
        const uint64_t* wg = wk + w * out_c_pad;
#pragma GCC unroll 16
        for (int g = 0; g < G; ++g) {
          const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wg + 4 * g));
          bytes[g] = _mm256_add_epi8(bytes[g], popcount_bytes(_mm256_and_si256(va, wv)));
        }
        if (KH * WPR > kWordsPerFlush || KH == 0) {
          if (++pending == kWordsPerFlush) {
#pragma GCC unroll 16
            for (int g = 0; g < G; ++g) {
              total[g] =
                  _mm256_add_epi64(total[g], _mm256_sad_epu8(bytes[g], _mm256_setzero_si256()));
              bytes[g] = _mm256_setzero_si256();
            }
            pending = 0;
          }
        }
      }
    }
    int32_t* out = acc + x * out_c;
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) {
      total[g] = _mm256_add_epi64(total[g], _mm256_sad_epu8(bytes[g], _mm256_setzero_si256()));
      // gain * count - zero * ones in 64-bit lanes, then the low halves.
      __m256i r = gain == 2 ? _mm256_add_epi64(total[g], total[g]) : total[g];
      r = _mm256_sub_epi64(r, _mm256_set1_epi64x(int64_t{zero} * ones));
      const __m128i lows = _mm256_castsi256_si128(
          _mm256_permutevar8x32_epi32(r, _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0)));
      const int64_t c = first + 4 * g;
      const int64_t n = std::min<int64_t>(4, out_c - c);
      if (n == 4) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + c), lows);
      } else {
        alignas(16) int32_t values[4];
        _mm_store_si128(reinterpret_cast<__m128i*>(values), lows);
        std::memcpy(out + c, values, static_cast<size_t>(n) * sizeof(int32_t));
      }
    }
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
  const int64_t groups = (out_c + 3) / 4;
  for (int64_t g0 = 0; g0 < groups; g0 += 8) {
    const int64_t g = std::min<int64_t>(8, groups - g0);
    kFor[g - 1](in.kh, in.wpr)(in, out_w, weights, out_c, out_c_pad, g0 * 4, gain, zero, acc);
  }
}

/// Columns [x, x + P), channels [8 g0, 8 (g0 + G)).
template <int P, int G>
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
  __m256i s[P][G];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) {
      s[p][g] = _mm256_setzero_si256();
    }
  }
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t ky = 0; ky < kh; ++ky) {
    const uint8_t* base = segs[ky] + x * step;
    for (int64_t q = 0; q < quads; ++q) {
      __m256i w[G];
#pragma GCC unroll 16
      for (int g = 0; g < G; ++g) {
        w[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(
            prepared + int8_layout::offset(ky, q, (g0 + g) * 8, quads, out_c_pad)));
      }
#pragma GCC unroll 16
      for (int p = 0; p < P; ++p) {
        int32_t four;
        std::memcpy(&four, base + p * step + 4 * q, 4);
        const __m256i a = _mm256_set1_epi32(four);
#pragma GCC unroll 16
        for (int g = 0; g < G; ++g) {
          s[p][g] =
              _mm256_add_epi32(s[p][g], _mm256_madd_epi16(_mm256_maddubs_epi16(a, w[g]), ones));
        }
      }
    }
  }
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) {
      alignas(32) int32_t sums[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(sums), s[p][g]);
      const int64_t c = (g0 + g) * 8;
      const int64_t n = std::min<int64_t>(8, out_c - c);
      std::memcpy(acc + (x + p) * out_c + c, sums, static_cast<size_t>(n) * sizeof(int32_t));
    }
  }
}

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
  // [G - 1][P - 1]: at most 12 accumulators of 16 registers.
  static constexpr Block kBlocks[2][6] = {
      {int8_block<1, 1>,
       int8_block<2, 1>,
       int8_block<3, 1>,
       int8_block<4, 1>,
       int8_block<5, 1>,
       int8_block<6, 1>},
      {int8_block<1, 2>,
       int8_block<2, 2>,
       int8_block<3, 2>,
       int8_block<4, 2>,
       int8_block<5, 2>,
       int8_block<6, 2>}};
  const int64_t out_c_pad = int8_layout::padded_channels(out_c);
  const int64_t groups = (out_c + 7) / 8;
  const int64_t quads = seg_len / 4;
  for (int64_t g0 = 0; g0 < groups; g0 += 2) {
    const int64_t g = std::min<int64_t>(2, groups - g0);
    for (int64_t x = 0; x < out_w;) {
      const int64_t p = std::min<int64_t>(6, out_w - x);
      kBlocks[g - 1][p - 1](segs, kh, quads, step, x, prepared, out_c_pad, g0, out_c, acc);
      x += p;
    }
  }
}

/// Columns [x0, x0 + R), channels [c0, c0 + 4 V) (masked at out_c): one fused
/// multiply-add per product, as the reference.
template <int R, int V>
void float_block(
    const double* const* segs,
    int64_t kh,
    int64_t seg_len,
    int64_t step,
    int64_t x0,
    const double* weights,
    int64_t out_c,
    int64_t c0,
    double* acc) {
  __m256i mask[V];
#pragma GCC unroll 16
  for (int v = 0; v < V; ++v) {
    const int64_t base = c0 + 4 * v;
    mask[v] = _mm256_setr_epi64x(
        base < out_c ? -1 : 0,
        base + 1 < out_c ? -1 : 0,
        base + 2 < out_c ? -1 : 0,
        base + 3 < out_c ? -1 : 0);
  }
  __m256d s[R][V];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) {
      s[r][v] = _mm256_setzero_pd();
    }
  }
  for (int64_t ky = 0; ky < kh; ++ky) {
    const double* a = segs[ky] + x0 * step;
    const double* wk = weights + ky * seg_len * out_c + c0;
    for (int64_t j = 0; j < seg_len; ++j) {
      __m256d w[V];
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) {
        w[v] = _mm256_maskload_pd(wk + j * out_c + 4 * v, mask[v]);
      }
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m256d x = _mm256_set1_pd(a[r * step + j]);
#pragma GCC unroll 16
        for (int v = 0; v < V; ++v) {
          s[r][v] = _mm256_fmadd_pd(x, w[v], s[r][v]);
        }
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) {
      _mm256_maskstore_pd(acc + (x0 + r) * out_c + c0 + 4 * v, mask[v], s[r][v]);
    }
  }
}

void float_row(
    const double* const* segs,
    int64_t kh,
    int64_t seg_len,
    int64_t step,
    int64_t out_w,
    const double* weights,
    int64_t out_c,
    double* acc) {
  using Block = void (*)(
      const double* const*,
      int64_t,
      int64_t,
      int64_t,
      int64_t,
      const double*,
      int64_t,
      int64_t,
      double*);
  // [V - 1][R - 1], R V <= 12 accumulators of 16 registers.
  static constexpr Block kBlocks[3][6] = {
      {float_block<1, 1>,
       float_block<2, 1>,
       float_block<3, 1>,
       float_block<4, 1>,
       float_block<5, 1>,
       float_block<6, 1>},
      {float_block<1, 2>,
       float_block<2, 2>,
       float_block<3, 2>,
       float_block<4, 2>,
       float_block<5, 2>,
       float_block<6, 2>},
      {float_block<1, 3>,
       float_block<2, 3>,
       float_block<3, 3>,
       float_block<4, 3>,
       nullptr,
       nullptr}};
  const int64_t vectors = (out_c + 3) / 4;
  for (int64_t c = 0; c < vectors; c += 3) {
    const int64_t v = std::min<int64_t>(3, vectors - c);
    const int64_t max_r = v == 3 ? 4 : 6;
    for (int64_t x = 0; x < out_w;) {
      const int64_t r = std::min(max_r, out_w - x);
      kBlocks[v - 1][r - 1](segs, kh, seg_len, step, x, weights, out_c, c * 4, acc);
      x += r;
    }
  }
}

}  // namespace

const PathKernels kKernels = {
    pack_bits,
    {binary_row},
    {int8_layout::prepare, int8_row},
    {generic_depthwise_row},
    {float_row},
    kElementwise,
    "avx2",
};

}  // namespace ewgs::infer::avx2
EWGS_INFER_TARGET_END
