// AVX-512 double kernel of full-precision layers (microkernels.h): up to eight output
// columns times up to 32 channels per pass, one fused multiply-add per product, as the
// reference. Included by the AVX-512 path files after their target pragma.
#pragma once

#include <immintrin.h>

#include <algorithm>

namespace ewgs::infer::avx512 {
namespace {

/// Columns [x0, x0 + R), channels [c0, c0 + 8 V) (masked at out_c).
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
  __mmask8 mask[V];
#pragma GCC unroll 16
  for (int v = 0; v < V; ++v) {
    const int64_t n = std::max<int64_t>(0, std::min<int64_t>(8, out_c - (c0 + 8 * v)));
    mask[v] = static_cast<__mmask8>((1u << n) - 1);
  }
  __m512d s[R][V];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) {
      s[r][v] = _mm512_setzero_pd();
    }
  }
  for (int64_t ky = 0; ky < kh; ++ky) {
    const double* a = segs[ky] + x0 * step;
    const double* wk = weights + ky * seg_len * out_c + c0;
    for (int64_t j = 0; j < seg_len; ++j) {
      __m512d w[V];
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) {
        w[v] = _mm512_maskz_loadu_pd(mask[v], wk + j * out_c + 8 * v);
      }
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m512d x = _mm512_set1_pd(a[r * step + j]);
#pragma GCC unroll 16
        for (int v = 0; v < V; ++v) {
          s[r][v] = _mm512_fmadd_pd(x, w[v], s[r][v]);
        }
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) {
      _mm512_mask_storeu_pd(acc + (x0 + r) * out_c + c0 + 8 * v, mask[v], s[r][v]);
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
  // [V - 1][R - 1], R V <= 16 accumulators.
  static constexpr Block kBlocks[4][8] = {
      {float_block<1, 1>,
       float_block<2, 1>,
       float_block<3, 1>,
       float_block<4, 1>,
       float_block<5, 1>,
       float_block<6, 1>,
       float_block<7, 1>,
       float_block<8, 1>},
      {float_block<1, 2>,
       float_block<2, 2>,
       float_block<3, 2>,
       float_block<4, 2>,
       float_block<5, 2>,
       float_block<6, 2>,
       float_block<7, 2>,
       float_block<8, 2>},
      {float_block<1, 3>,
       float_block<2, 3>,
       float_block<3, 3>,
       float_block<4, 3>,
       float_block<5, 3>,
       nullptr,
       nullptr,
       nullptr},
      {float_block<1, 4>,
       float_block<2, 4>,
       float_block<3, 4>,
       float_block<4, 4>,
       nullptr,
       nullptr,
       nullptr,
       nullptr}};
  const int64_t vectors = (out_c + 7) / 8;
  for (int64_t c = 0; c < vectors; c += 4) {
    const int64_t v = std::min<int64_t>(4, vectors - c);
    const int64_t max_r = v <= 2 ? 8 : v == 3 ? 5 : 4;
    for (int64_t x = 0; x < out_w;) {
      const int64_t r = std::min(max_r, out_w - x);
      kBlocks[v - 1][r - 1](segs, kh, seg_len, step, x, weights, out_c, c * 8, acc);
      x += r;
    }
  }
}

}  // namespace
}  // namespace ewgs::infer::avx512
