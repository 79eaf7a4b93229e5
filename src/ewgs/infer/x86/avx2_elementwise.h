// AVX2 elementwise loops of the engine (microkernels.h's ElementwiseKernels): epilogues
// and affine quantizers four doubles per register, with the same operations in the same
// order as the generic loops, so the results are the same bits. Included by the AVX2
// path file after its target pragma; rows of channels that are not a multiple of four
// keep the generic loops.
#pragma once

#include <immintrin.h>

#include <cstring>

#include "../generic_microkernels.h"

namespace ewgs::infer::avx2 {
namespace {

/// activate<A> (generic_microkernels.h): vmaxpd and vminpd return their second operand
/// unless the first is greater (smaller), which is "y < lo ? lo : y" and "hi < m ? hi : m".
template <Activation A>
inline __m256d activate4(__m256d y) {
  if constexpr (A == Activation::kNone) {
    return y;
  } else if constexpr (A == Activation::kRelu) {
    return _mm256_max_pd(_mm256_setzero_pd(), y);
  } else {
    constexpr double lo = A == Activation::kRelu6 ? 0.0 : -1.0;
    constexpr double hi = A == Activation::kRelu6 ? 6.0 : 1.0;
    return _mm256_min_pd(_mm256_set1_pd(hi), _mm256_max_pd(_mm256_set1_pd(lo), y));
  }
}

/// affine_code() of four values as int32; two levels: t > 1/2 (see the AVX-512 loops).
template <EpilogueCodes kCodes>
inline __m128i affine_code4(__m256d x, __m256d scale, __m256d shift, __m256d top) {
  __m256d t = _mm256_add_pd(_mm256_mul_pd(x, scale), shift);
  if constexpr (kCodes == EpilogueCodes::kOneBit) {
    const __m256d one =
        _mm256_and_pd(_mm256_cmp_pd(t, _mm256_set1_pd(0.5), _CMP_GT_OQ), _mm256_set1_pd(1.0));
    return _mm256_cvtpd_epi32(one);
  }
  t = _mm256_min_pd(top, _mm256_max_pd(_mm256_setzero_pd(), t));
  __m256d r = _mm256_round_pd(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  if constexpr (kCodes == EpilogueCodes::kHalfDown) {
    const __m256d tie = _mm256_cmp_pd(_mm256_sub_pd(r, t), _mm256_set1_pd(0.5), _CMP_EQ_OQ);
    r = _mm256_sub_pd(r, _mm256_and_pd(tie, _mm256_set1_pd(1.0)));
  }
  return _mm256_cvtpd_epi32(r);
}

/// Four int32 codes (0..255) as four bytes.
inline void store_codes4(uint8_t* out, __m128i codes) {
  const int32_t bytes = _mm_cvtsi128_si32(_mm_packus_epi16(_mm_packus_epi32(codes, codes), codes));
  std::memcpy(out, &bytes, 4);
}

template <typename Acc>
inline __m256d load_sums4(const Acc* a) {
  if constexpr (std::is_same_v<Acc, double>) {
    return _mm256_loadu_pd(a);
  } else {
    return _mm256_cvtepi32_pd(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a)));
  }
}

template <Activation A, bool kBorder, bool kResidual, EpilogueCodes kCodes, typename Acc>
void epilogue_rows4(
    const Acc* acc,
    int64_t rows,
    int64_t channels,
    const EpilogueRow& e,
    double* out,
    uint8_t* codes) {
  const auto* q = e.quantizer;
  const __m256d qs = _mm256_set1_pd(q ? q->scale : 0.0);
  const __m256d qsh = _mm256_set1_pd(q ? q->shift : 0.0);
  const __m256d top = _mm256_set1_pd(q ? static_cast<double>(q->levels - 1) : 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t at = r * channels;
    for (int64_t c = 0; c < channels; c += 4) {
      __m256d y = _mm256_mul_pd(load_sums4(acc + at + c), _mm256_loadu_pd(e.scale + c));
      y = _mm256_add_pd(y, _mm256_loadu_pd(e.shift + c));
      if constexpr (kBorder) {
        y = _mm256_add_pd(y, _mm256_loadu_pd(e.border + at + c));
      }
      if constexpr (kResidual) {
        y = _mm256_add_pd(y, _mm256_loadu_pd(e.residual + at + c));
      }
      y = activate4<A>(y);
      if (out) {
        _mm256_storeu_pd(out + at + c, y);
      }
      if constexpr (kCodes != EpilogueCodes::kNone) {
        store_codes4(codes + at + c, affine_code4<kCodes>(y, qs, qsh, top));
      }
    }
  }
}

struct EpilogueRows4 {
  template <Activation A, bool kBorder, bool kResidual, EpilogueCodes kCodes, typename Acc>
  static void run(
      const Acc* acc,
      int64_t rows,
      int64_t channels,
      const EpilogueRow& e,
      double* out,
      uint8_t* codes) {
    if (channels % 4 != 0) {
      epilogue_rows_as<A, kBorder, kResidual, kCodes>(acc, rows, channels, e, out, codes);
    } else {
      epilogue_rows4<A, kBorder, kResidual, kCodes>(acc, rows, channels, e, out, codes);
    }
  }
};

struct QuantizeAffine4 {
  template <EpilogueCodes kCodes>
  static void run(const double* x, int64_t n, const ActQuantizer& q, uint8_t* codes) {
    const __m256d qs = _mm256_set1_pd(q.scale);
    const __m256d qsh = _mm256_set1_pd(q.shift);
    const __m256d top = _mm256_set1_pd(static_cast<double>(q.levels - 1));
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      store_codes4(codes + i, affine_code4<kCodes>(_mm256_loadu_pd(x + i), qs, qsh, top));
    }
    generic_quantize(x + i, n - i, q, codes + i);
  }
};

const ElementwiseKernels kElementwise = {
    dispatch_epilogue_rows<EpilogueRows4, int32_t>,
    dispatch_epilogue_rows<EpilogueRows4, double>,
    dispatch_quantize<QuantizeAffine4>,
    generic_thresholds};

}  // namespace
}  // namespace ewgs::infer::avx2
