// The AVX2 kernel path (microkernels.h): binary windows counted with a nibble lookup
// (vpshufb) into byte counters summed by vpsadbw, four output channels per register;
// int8 windows with vpmaddubsw + vpmaddwd on eight channels per register.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "../microkernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,popcnt,bmi2")
#include "../generic_microkernels.h"
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
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2,
                                       2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low));
  const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
  return _mm256_add_epi8(lo, hi);
}

/// A byte counter takes at most 31 words (8 bits each) before it could overflow.
constexpr int64_t kWordsPerFlush = 31;

/// Output channels [first, first + 4 G) of every column.
template <int G>
void binary_columns(const uint64_t* const* rows, int64_t kh, int64_t wpr, int64_t out_w, const uint64_t* weights,
                    int64_t out_c, int64_t out_c_pad, int64_t first, int32_t gain, int32_t zero, int32_t* acc) {
  for (int64_t x = 0; x < out_w; ++x) {
    __m256i total[G];
    __m256i bytes[G];
    for (int g = 0; g < G; ++g) {
      total[g] = bytes[g] = _mm256_setzero_si256();
    }
    int64_t ones = 0;
    int64_t pending = 0;
    for (int64_t ky = 0; ky < kh; ++ky) {
      const uint64_t* row = rows[ky] + x * wpr;
      const uint64_t* wk = weights + ky * wpr * out_c_pad + first;
      for (int64_t w = 0; w < wpr; ++w) {
        const uint64_t a = row[w];
        ones += _mm_popcnt_u64(a);
        const __m256i va = _mm256_set1_epi64x(static_cast<long long>(a));
        const uint64_t* wg = wk + w * out_c_pad;
        for (int g = 0; g < G; ++g) {
          const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wg + 4 * g));
          bytes[g] = _mm256_add_epi8(bytes[g], popcount_bytes(_mm256_and_si256(va, wv)));
        }
        if (++pending == kWordsPerFlush) {
          for (int g = 0; g < G; ++g) {
            total[g] = _mm256_add_epi64(total[g], _mm256_sad_epu8(bytes[g], _mm256_setzero_si256()));
            bytes[g] = _mm256_setzero_si256();
          }
          pending = 0;
        }
      }
    }
    int32_t* out = acc + x * out_c;
    for (int g = 0; g < G; ++g) {
      total[g] = _mm256_add_epi64(total[g], _mm256_sad_epu8(bytes[g], _mm256_setzero_si256()));
      alignas(32) int64_t counts[4];
      _mm256_store_si256(reinterpret_cast<__m256i*>(counts), total[g]);
      const int64_t c = first + 4 * g;
      const int64_t n = std::min<int64_t>(4, out_c - c);
      for (int64_t i = 0; i < n; ++i) {
        out[c + i] = static_cast<int32_t>(gain * counts[i] - zero * ones);
      }
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
  const int64_t groups = (out_c + 3) / 4;
  for (int64_t g0 = 0; g0 < groups; g0 += 8) {
    const int64_t g = std::min<int64_t>(8, groups - g0);
    kBinaryColumns[g - 1](rows, kh, wpr, out_w, weights, out_c, out_c_pad, g0 * 4, gain, zero, acc);
  }
}

/// Columns [x, x + P), channels [8 g0, 8 (g0 + G)).
template <int P, int G>
void int8_block(const uint8_t* const* segs, int64_t kh, int64_t quads, int64_t step, int64_t x, const int8_t* prepared,
                int64_t out_c_pad, int64_t g0, int64_t out_c, int32_t* acc) {
  __m256i s[P][G];
  for (int p = 0; p < P; ++p) {
    for (int g = 0; g < G; ++g) {
      s[p][g] = _mm256_setzero_si256();
    }
  }
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t ky = 0; ky < kh; ++ky) {
    const uint8_t* base = segs[ky] + x * step;
    for (int64_t q = 0; q < quads; ++q) {
      __m256i w[G];
      for (int g = 0; g < G; ++g) {
        w[g] = _mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(prepared + int8_layout::offset(ky, q, (g0 + g) * 8, quads, out_c_pad)));
      }
      for (int p = 0; p < P; ++p) {
        int32_t four;
        std::memcpy(&four, base + p * step + 4 * q, 4);
        const __m256i a = _mm256_set1_epi32(four);
        for (int g = 0; g < G; ++g) {
          s[p][g] = _mm256_add_epi32(s[p][g], _mm256_madd_epi16(_mm256_maddubs_epi16(a, w[g]), ones));
        }
      }
    }
  }
  for (int p = 0; p < P; ++p) {
    for (int g = 0; g < G; ++g) {
      alignas(32) int32_t sums[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(sums), s[p][g]);
      const int64_t c = (g0 + g) * 8;
      const int64_t n = std::min<int64_t>(8, out_c - c);
      std::memcpy(acc + (x + p) * out_c + c, sums, static_cast<size_t>(n) * sizeof(int32_t));
    }
  }
}

void int8_row(const uint8_t* const* segs, int64_t kh, int64_t seg_len, int64_t step, int64_t out_w,
              const int8_t* prepared, int64_t out_c, int32_t* acc) {
  using Block = void (*)(const uint8_t* const*, int64_t, int64_t, int64_t, int64_t, const int8_t*, int64_t, int64_t,
                         int64_t, int32_t*);
  // [G - 1][P - 1]: at most 12 accumulators of 16 registers.
  static constexpr Block kBlocks[2][6] = {
      {int8_block<1, 1>, int8_block<2, 1>, int8_block<3, 1>, int8_block<4, 1>, int8_block<5, 1>, int8_block<6, 1>},
      {int8_block<1, 2>, int8_block<2, 2>, int8_block<3, 2>, int8_block<4, 2>, int8_block<5, 2>, int8_block<6, 2>}};
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
void float_block(const double* const* segs, int64_t kh, int64_t seg_len, int64_t step, int64_t x0,
                 const double* weights, int64_t out_c, int64_t c0, double* acc) {
  __m256i mask[V];
  for (int v = 0; v < V; ++v) {
    const int64_t base = c0 + 4 * v;
    mask[v] = _mm256_setr_epi64x(base < out_c ? -1 : 0, base + 1 < out_c ? -1 : 0, base + 2 < out_c ? -1 : 0,
                                 base + 3 < out_c ? -1 : 0);
  }
  __m256d s[R][V];
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) {
      s[r][v] = _mm256_setzero_pd();
    }
  }
  for (int64_t ky = 0; ky < kh; ++ky) {
    const double* a = segs[ky] + x0 * step;
    const double* wk = weights + ky * seg_len * out_c + c0;
    for (int64_t j = 0; j < seg_len; ++j) {
      __m256d w[V];
      for (int v = 0; v < V; ++v) {
        w[v] = _mm256_maskload_pd(wk + j * out_c + 4 * v, mask[v]);
      }
      for (int r = 0; r < R; ++r) {
        const __m256d x = _mm256_set1_pd(a[r * step + j]);
        for (int v = 0; v < V; ++v) {
          s[r][v] = _mm256_fmadd_pd(x, w[v], s[r][v]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) {
      _mm256_maskstore_pd(acc + (x0 + r) * out_c + c0 + 4 * v, mask[v], s[r][v]);
    }
  }
}

void float_row(const double* const* segs, int64_t kh, int64_t seg_len, int64_t step, int64_t out_w,
               const double* weights, int64_t out_c, double* acc) {
  using Block = void (*)(const double* const*, int64_t, int64_t, int64_t, int64_t, const double*, int64_t, int64_t,
                         double*);
  // [V - 1][R - 1], R V <= 12 accumulators of 16 registers.
  static constexpr Block kBlocks[3][6] = {
      {float_block<1, 1>, float_block<2, 1>, float_block<3, 1>, float_block<4, 1>, float_block<5, 1>,
       float_block<6, 1>},
      {float_block<1, 2>, float_block<2, 2>, float_block<3, 2>, float_block<4, 2>, float_block<5, 2>,
       float_block<6, 2>},
      {float_block<1, 3>, float_block<2, 3>, float_block<3, 3>, float_block<4, 3>, nullptr, nullptr}};
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

} // namespace

const PathKernels kKernels = {
    pack_bits,
    {binary_row},
    {int8_layout::prepare, int8_row},
    {generic_depthwise_row},
    {float_row},
    kGenericElementwise,
    "avx2",
};

} // namespace ewgs::infer::avx2
#pragma GCC pop_options
