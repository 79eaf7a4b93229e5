// AVX-512 elementwise loops of the engine (microkernels.h's ElementwiseKernels):
// epilogues, quantizers and integer thresholds, eight doubles or sixteen int32 per
// register, with the same operations in the same order as the generic loops, so the
// results are the same bits. Included by the AVX-512 path files after their pragma.
#pragma once

#include <immintrin.h>

#include <algorithm>

#include "../generic_microkernels.h"

namespace ewgs::infer::avx512 {
namespace {

inline __mmask8 tail8(int64_t n) {
  return static_cast<__mmask8>(n >= 8 ? 0xff : (1u << n) - 1);
}

inline __mmask16 tail16(int64_t n) {
  return static_cast<__mmask16>(n >= 16 ? 0xffff : (1u << n) - 1);
}

/// activate<A>: max(0, y) is "y < 0 ? 0 : y" (vmaxpd returns its second operand
/// unless the first is greater), min(hi, m) is "hi < m ? hi : m".
template <Activation A>
inline __m512d activate8(__m512d y) {
  if constexpr (A == Activation::kNone) {
    return y;
  } else if constexpr (A == Activation::kRelu) {
    return _mm512_max_pd(_mm512_setzero_pd(), y);
  } else {
    constexpr double lo = A == Activation::kRelu6 ? 0.0 : -1.0;
    constexpr double hi = A == Activation::kRelu6 ? 6.0 : 1.0;
    return _mm512_min_pd(_mm512_set1_pd(hi), _mm512_max_pd(_mm512_set1_pd(lo), y));
  }
}

/// affine_code() as int32: the same operations, rounding half to even inside the
/// conversion, half down by rounding first and moving exact ties. Two levels: the
/// clamped t rounds to 1 (either way) exactly when t > 1/2.
template <EpilogueCodes kCodes>
inline __m256i affine_code8(__m512d x, __m512d scale, __m512d shift, __m512d top) {
  __m512d t = _mm512_add_pd(_mm512_mul_pd(x, scale), shift);
  if constexpr (kCodes == EpilogueCodes::kOneBit) {
    const __mmask8 one = _mm512_cmp_pd_mask(t, _mm512_set1_pd(0.5), _CMP_GT_OQ);
    return _mm256_maskz_set1_epi32(one, 1);
  }
  t = _mm512_min_pd(top, _mm512_max_pd(_mm512_setzero_pd(), t));
  if constexpr (kCodes == EpilogueCodes::kHalfDown) {
    __m512d r = _mm512_roundscale_pd(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __mmask8 tie = _mm512_cmp_pd_mask(_mm512_sub_pd(r, t), _mm512_set1_pd(0.5), _CMP_EQ_OQ);
    r = _mm512_mask_sub_pd(r, tie, r, _mm512_set1_pd(1.0));
    return _mm512_cvtpd_epi32(r);
  } else {
    return _mm512_cvt_roundpd_epi32(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
}

/// Narrowing in registers and one 8-byte store: the masked narrowing store
/// (vpmovqb to memory) is many times slower.
inline void store_codes8(uint8_t* out, __mmask8 m, __m256i codes) {
  const __m128i bytes = _mm256_cvtepi32_epi8(codes);
  if (m == 0xff) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), bytes);
  } else {
    _mm_mask_storeu_epi8(out, m, bytes);
  }
}

template <typename Acc>
inline __m512d load_sums8(const Acc* a, __mmask8 m) {
  if constexpr (std::is_same_v<Acc, double>) {
    return _mm512_maskz_loadu_pd(m, a);
  } else {
    return _mm512_cvtepi32_pd(_mm256_maskz_loadu_epi32(m, a));
  }
}

template <Activation A, bool kBorder, bool kResidual, EpilogueCodes kCodes, typename Acc>
void epilogue_rows8(
    const Acc* acc,
    int64_t rows,
    int64_t channels,
    const EpilogueRow& e,
    double* out,
    uint8_t* codes) {
  const auto* q = e.quantizer;
  const __m512d qs = _mm512_set1_pd(q ? q->scale : 0.0);
  const __m512d qsh = _mm512_set1_pd(q ? q->shift : 0.0);
  const __m512d top = _mm512_set1_pd(q ? static_cast<double>(q->levels - 1) : 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t at = r * channels;
    for (int64_t c = 0; c < channels; c += 8) {
      const __mmask8 m = tail8(channels - c);
      __m512d y = _mm512_mul_pd(load_sums8(acc + at + c, m), _mm512_maskz_loadu_pd(m, e.scale + c));
      y = _mm512_add_pd(y, _mm512_maskz_loadu_pd(m, e.shift + c));
      if constexpr (kBorder) {
        y = _mm512_add_pd(y, _mm512_maskz_loadu_pd(m, e.border + at + c));
      }
      if constexpr (kResidual) {
        y = _mm512_add_pd(y, _mm512_maskz_loadu_pd(m, e.residual + at + c));
      }
      y = activate8<A>(y);
      if (out) {
        _mm512_mask_storeu_pd(out + at + c, m, y);
      }
      if constexpr (kCodes != EpilogueCodes::kNone) {
        store_codes8(codes + at + c, m, affine_code8<kCodes>(y, qs, qsh, top));
      }
    }
  }
}

/// Eight doubles per step.
struct EpilogueRows8 {
  template <Activation A, bool kBorder, bool kResidual, EpilogueCodes kCodes, typename Acc>
  static void run(
      const Acc* acc,
      int64_t rows,
      int64_t channels,
      const EpilogueRow& e,
      double* out,
      uint8_t* codes) {
    epilogue_rows8<A, kBorder, kResidual, kCodes>(acc, rows, channels, e, out, codes);
  }
};

struct QuantizeAffine8 {
  template <EpilogueCodes kCodes>
  static void run(const double* x, int64_t n, const ActQuantizer& q, uint8_t* codes) {
    const __m512d qs = _mm512_set1_pd(q.scale);
    const __m512d qsh = _mm512_set1_pd(q.shift);
    const __m512d top = _mm512_set1_pd(static_cast<double>(q.levels - 1));
    for (int64_t i = 0; i < n; i += 8) {
      const __mmask8 m = tail8(n - i);
      store_codes8(
          codes + i, m, affine_code8<kCodes>(_mm512_maskz_loadu_pd(m, x + i), qs, qsh, top));
    }
  }
};

void thresholds(
    const int32_t* acc,
    int64_t rows,
    int64_t channels,
    const int32_t* sign,
    const int32_t* t,
    int64_t steps,
    uint8_t* codes) {
  const __m512i one = _mm512_set1_epi32(1);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t at = r * channels;
    for (int64_t c = 0; c < channels; c += 16) {
      const __mmask16 m = tail16(channels - c);
      const __m512i u = _mm512_mullo_epi32(
          _mm512_maskz_loadu_epi32(m, sign + c), _mm512_maskz_loadu_epi32(m, acc + at + c));
      __m512i code = _mm512_setzero_si512();
      for (int64_t k = 0; k < steps; ++k) {
        const __mmask16 reached =
            _mm512_cmpge_epi32_mask(u, _mm512_maskz_loadu_epi32(m, t + k * channels + c));
        code = _mm512_mask_add_epi32(code, reached, code, one);
      }
      _mm_mask_storeu_epi8(codes + at + c, m, _mm512_cvtepi32_epi8(code));
    }
  }
}

const ElementwiseKernels kElementwise = {
    dispatch_epilogue_rows<EpilogueRows8, int32_t>,
    dispatch_epilogue_rows<EpilogueRows8, double>,
    dispatch_quantize<QuantizeAffine8>,
    thresholds};

}  // namespace
}  // namespace ewgs::infer::avx512
