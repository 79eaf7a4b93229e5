// The microkernels' loops in plain C++ (microkernels.h). The portable path uses all of
// them; the AVX2 and AVX-512 paths include this file after choosing their target
// instructions, so the loops they do not hand-write compile to their vector units.
// Internal linkage: every including file gets its own copy.
#pragma once

#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "microkernels.h"

namespace ewgs::infer {
namespace {

[[maybe_unused]] void generic_pack_bits(
    const uint8_t* codes, int64_t n, int64_t offset, uint8_t* bits) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t bit = offset + i;
    bits[bit / 8] = static_cast<uint8_t>(bits[bit / 8] | ((codes[i] & 1u) << (bit % 8)));
  }
}

[[maybe_unused]] void generic_binary_row(
    const BinaryWindows& in,
    int64_t out_w,
    const uint64_t* weights,
    int64_t out_c,
    int64_t out_c_pad,
    int32_t gain,
    int32_t zero,
    int32_t* acc) {
  for (int64_t x = 0; x < out_w; ++x) {
    int32_t* out = acc + x * out_c;
    for (int64_t o = 0; o < out_c; ++o) {
      out[o] = 0;
    }
    int32_t ones = 0;
    for (int64_t ky = 0; ky < in.kh; ++ky) {
      for (int64_t w = 0; w < in.wpr; ++w) {
        const uint64_t a = window_word(in, ky, x, w);
        ones += __builtin_popcountll(a);
        const uint64_t* wk = weights + (ky * in.wpr + w) * out_c_pad;
        for (int64_t o = 0; o < out_c; ++o) {
          out[o] += __builtin_popcountll(a & wk[o]);
        }
      }
    }
    for (int64_t o = 0; o < out_c; ++o) {
      out[o] = gain * out[o] - zero * ones;
    }
  }
}

[[maybe_unused]] std::vector<int8_t> generic_int8_prepare(
    const int8_t* weights, int64_t out_c, int64_t kh, int64_t seg_len) {
  return std::vector<int8_t>(weights, weights + out_c * kh * seg_len);
}

[[maybe_unused]] void generic_int8_row(
    const uint8_t* const* segs,
    int64_t kh,
    int64_t seg_len,
    int64_t step,
    int64_t out_w,
    const int8_t* prepared,
    int64_t out_c,
    int32_t* acc) {
  for (int64_t x = 0; x < out_w; ++x) {
    for (int64_t o = 0; o < out_c; ++o) {
      int32_t sum = 0;
      for (int64_t ky = 0; ky < kh; ++ky) {
        const uint8_t* a = segs[ky] + x * step;
        const int8_t* w = prepared + (o * kh + ky) * seg_len;
        for (int64_t j = 0; j < seg_len; ++j) {
          sum += int32_t{a[j]} * int32_t{w[j]};
        }
      }
      acc[x * out_c + o] = sum;
    }
  }
}

[[maybe_unused]] void generic_depthwise_row(
    const uint8_t* const* tap_rows,
    int64_t taps,
    int64_t width,
    int64_t channels,
    const int16_t* weights,
    int32_t* acc) {
  for (int64_t x = 0; x < width; ++x) {
    int32_t* out = acc + x * channels;
    for (int64_t c = 0; c < channels; ++c) {
      out[c] = 0;
    }
    for (int64_t t = 0; t < taps; ++t) {
      const uint8_t* in = tap_rows[x * taps + t];
      const int16_t* w = weights + t * channels;
      for (int64_t c = 0; c < channels; ++c) {
        out[c] += int32_t{in[c]} * int32_t{w[c]};
      }
    }
  }
}

[[maybe_unused]] void generic_float_row(
    const double* const* segs,
    int64_t kh,
    int64_t seg_len,
    int64_t step,
    int64_t out_w,
    const double* weights,
    int64_t out_c,
    double* acc) {
  for (int64_t x = 0; x < out_w; ++x) {
    double* out = acc + x * out_c;
    for (int64_t o = 0; o < out_c; ++o) {
      out[o] = 0.0;
    }
    for (int64_t ky = 0; ky < kh; ++ky) {
      const double* a = segs[ky] + x * step;
      for (int64_t j = 0; j < seg_len; ++j) {
        const double v = a[j];
        const double* w = weights + (ky * seg_len + j) * out_c;
        for (int64_t o = 0; o < out_c; ++o) {
          out[o] = std::fma(v, w[o], out[o]);
        }
      }
    }
  }
}

/// apply_activation() with the choice made at compile time, so loops vectorize.
template <Activation A>
inline double activate(double y) {
  if constexpr (A == Activation::kNone) {
    return y;
  } else if constexpr (A == Activation::kRelu) {
    return y < 0.0 ? 0.0 : y;
  } else {
    constexpr double lo = A == Activation::kRelu6 ? 0.0 : -1.0;
    constexpr double hi = A == Activation::kRelu6 ? 6.0 : 1.0;
    const double m = y < lo ? lo : y;
    return hi < m ? hi : m;
  }
}

/// ActQuantizer::code of an affine quantizer, written to vectorize: rounding
/// half to even by adding and subtracting 1.5 * 2^52 (exact for 0 <= t < 2^51 in
/// the default rounding mode), half down by moving exact ties of that result.
inline double affine_code(double x, double scale, double shift, double top, bool half_down) {
  double t = x * scale;
  t = t + shift;
  t = t < 0.0 ? 0.0 : t;
  t = top < t ? top : t;
  constexpr double kMagic = 6755399441055744.0;
  const double r = (t + kMagic) - kMagic;
  return half_down && r - t == 0.5 ? r - 1.0 : r;
}

/// The codes an epilogue row writes besides its floats (when `out` is not null);
/// kOneBit: an affine quantizer of two levels, whose code is t > 1/2 for either rounding.
enum class EpilogueCodes { kNone, kAffine, kHalfDown, kThresholds, kOneBit };

/// One specialization per activation, extra term and output, so that no test
/// is left inside the loops and they vectorize.
template <Activation A, bool kBorder, bool kResidual, EpilogueCodes kCodes, typename Acc>
void epilogue_rows_as(
    const Acc* acc,
    int64_t rows,
    int64_t channels,
    const EpilogueRow& e,
    double* out,
    uint8_t* codes) {
  const auto* q = e.quantizer;
  const double qs = q ? q->scale : 0.0;
  const double qsh = q ? q->shift : 0.0;
  const double top = q ? static_cast<double>(q->levels - 1) : 0.0;
  const double* scale = e.scale;
  const double* shift = e.shift;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t at = r * channels;
    const Acc* a = acc + at;
    const double* border = kBorder ? e.border + at : nullptr;
    const double* residual = kResidual ? e.residual + at : nullptr;
    for (int64_t c = 0; c < channels; ++c) {
      double y = static_cast<double>(a[c]) * scale[c];
      y = y + shift[c];
      if constexpr (kBorder) {
        y = y + border[c];
      }
      if constexpr (kResidual) {
        y = y + residual[c];
      }
      y = activate<A>(y);
      if (out) {
        out[at + c] = y;
      }
      if constexpr (kCodes == EpilogueCodes::kThresholds) {
        codes[at + c] = static_cast<uint8_t>(q->code(y));
      } else if constexpr (kCodes != EpilogueCodes::kNone) {
        codes[at + c] = static_cast<uint8_t>(
            static_cast<int32_t>(affine_code(y, qs, qsh, top, kCodes == EpilogueCodes::kHalfDown)));
      }
    }
  }
}

/// The codes a quantizer's epilogue rows write (kNone without one).
inline EpilogueCodes codes_of(const ActQuantizer* q) {
  if (!q) {
    return EpilogueCodes::kNone;
  }
  if (q->kind == ActQuantizer::Kind::kThresholds) {
    return EpilogueCodes::kThresholds;
  }
  if (q->levels == 2) {
    return EpilogueCodes::kOneBit;
  }
  return q->rounding == Rounding::kHalfDown ? EpilogueCodes::kHalfDown : EpilogueCodes::kAffine;
}

/// Runs Rows::run<A, kBorder, kResidual, kCodes> (the plain loop for threshold
/// quantizers) for the epilogue `e` describes, the specialization chosen once per
/// call so that no test is left inside the loops; every path's elementwise loops
/// dispatch through it with their own Rows.
template <typename Rows, Activation A, bool kBorder, bool kResidual, typename Acc>
void epilogue_rows_with_codes(
    const Acc* acc,
    int64_t rows,
    int64_t channels,
    const EpilogueRow& e,
    double* out,
    uint8_t* codes) {
  switch (codes_of(e.quantizer)) {
    case EpilogueCodes::kNone:
      return Rows::template run<A, kBorder, kResidual, EpilogueCodes::kNone>(
          acc, rows, channels, e, out, codes);
    case EpilogueCodes::kThresholds:  // no path has vector loops for these
      return epilogue_rows_as<A, kBorder, kResidual, EpilogueCodes::kThresholds>(
          acc, rows, channels, e, out, codes);
    case EpilogueCodes::kOneBit:
      return Rows::template run<A, kBorder, kResidual, EpilogueCodes::kOneBit>(
          acc, rows, channels, e, out, codes);
    case EpilogueCodes::kHalfDown:
      return Rows::template run<A, kBorder, kResidual, EpilogueCodes::kHalfDown>(
          acc, rows, channels, e, out, codes);
    case EpilogueCodes::kAffine:
      return Rows::template run<A, kBorder, kResidual, EpilogueCodes::kAffine>(
          acc, rows, channels, e, out, codes);
  }
}

template <typename Rows, Activation A, typename Acc>
void epilogue_rows_with_terms(
    const Acc* acc,
    int64_t rows,
    int64_t channels,
    const EpilogueRow& e,
    double* out,
    uint8_t* codes) {
  const bool border = e.border != nullptr;
  const bool residual = e.residual != nullptr;
  if (border && residual) {
    return epilogue_rows_with_codes<Rows, A, true, true>(acc, rows, channels, e, out, codes);
  }
  if (border) {
    return epilogue_rows_with_codes<Rows, A, true, false>(acc, rows, channels, e, out, codes);
  }
  if (residual) {
    return epilogue_rows_with_codes<Rows, A, false, true>(acc, rows, channels, e, out, codes);
  }
  return epilogue_rows_with_codes<Rows, A, false, false>(acc, rows, channels, e, out, codes);
}

template <typename Rows, typename Acc>
void dispatch_epilogue_rows(
    const Acc* acc,
    int64_t rows,
    int64_t channels,
    const EpilogueRow& e,
    double* out,
    uint8_t* codes) {
  switch (e.activation) {
    case Activation::kNone:
      return epilogue_rows_with_terms<Rows, Activation::kNone>(acc, rows, channels, e, out, codes);
    case Activation::kRelu:
      return epilogue_rows_with_terms<Rows, Activation::kRelu>(acc, rows, channels, e, out, codes);
    case Activation::kRelu6:
      return epilogue_rows_with_terms<Rows, Activation::kRelu6>(acc, rows, channels, e, out, codes);
    case Activation::kHardTanh:
      return epilogue_rows_with_terms<Rows, Activation::kHardTanh>(
          acc, rows, channels, e, out, codes);
  }
}

/// The plain loops as a Rows of dispatch_epilogue_rows.
struct GenericEpilogueRows {
  template <Activation A, bool kBorder, bool kResidual, EpilogueCodes kCodes, typename Acc>
  static void run(
      const Acc* acc,
      int64_t rows,
      int64_t channels,
      const EpilogueRow& e,
      double* out,
      uint8_t* codes) {
    epilogue_rows_as<A, kBorder, kResidual, kCodes>(acc, rows, channels, e, out, codes);
  }
};

[[maybe_unused]] void generic_quantize(
    const double* x, int64_t n, const ActQuantizer& q, uint8_t* codes) {
  if (q.kind == ActQuantizer::Kind::kThresholds) {
    for (int64_t i = 0; i < n; ++i) {
      codes[i] = static_cast<uint8_t>(q.code(x[i]));
    }
    return;
  }
  const double top = static_cast<double>(q.levels - 1);
  const bool half_down = q.rounding == Rounding::kHalfDown;
  for (int64_t i = 0; i < n; ++i) {
    codes[i] = static_cast<uint8_t>(affine_code(x[i], q.scale, q.shift, top, half_down));
  }
}

/// Runs Quantize::run<kCodes> for an affine quantizer `q`, generic_quantize for
/// a threshold quantizer: every vector path's quantize loop dispatches through it.
template <typename Quantize>
void dispatch_quantize(const double* x, int64_t n, const ActQuantizer& q, uint8_t* codes) {
  switch (codes_of(&q)) {
    case EpilogueCodes::kOneBit:
      return Quantize::template run<EpilogueCodes::kOneBit>(x, n, q, codes);
    case EpilogueCodes::kHalfDown:
      return Quantize::template run<EpilogueCodes::kHalfDown>(x, n, q, codes);
    case EpilogueCodes::kAffine:
      return Quantize::template run<EpilogueCodes::kAffine>(x, n, q, codes);
    default:
      return generic_quantize(x, n, q, codes);
  }
}

[[maybe_unused]] void generic_thresholds(
    const int32_t* acc,
    int64_t rows,
    int64_t channels,
    const int32_t* sign,
    const int32_t* thresholds,
    int64_t steps,
    uint8_t* codes) {
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* a = acc + r * channels;
    uint8_t* out = codes + r * channels;
    for (int64_t c = 0; c < channels; ++c) {
      out[c] = static_cast<uint8_t>(sign[c] * a[c] >= thresholds[c]);
    }
    for (int64_t k = 1; k < steps; ++k) {
      const int32_t* t = thresholds + k * channels;
      for (int64_t c = 0; c < channels; ++c) {
        out[c] = static_cast<uint8_t>(out[c] + (sign[c] * a[c] >= t[c]));
      }
    }
  }
}

/// The elementwise table every path's file builds from these loops.
[[maybe_unused]] const ElementwiseKernels kGenericElementwise = {
    dispatch_epilogue_rows<GenericEpilogueRows, int32_t>,
    dispatch_epilogue_rows<GenericEpilogueRows, double>,
    generic_quantize,
    generic_thresholds};

}  // namespace
}  // namespace ewgs::infer
