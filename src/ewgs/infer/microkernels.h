// The inner loops the fast convolutions are built from, one table per kernel path:
// portable C++ (generic_microkernels.h), and AVX2 and AVX-512 versions in x86/. Every
// path must give exactly the integers (or doubles) of the portable one; tests compare.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "ewgs/infer/kernel_path.h"
#include "ewgs/infer/model.h"

namespace ewgs::infer {

/// Largest kernel height of the row-based kernels (the format allows 64).
constexpr int64_t kMaxKernel = 64;

/// Binary (1-bit codes, 1-bit weights) convolution of one output row. `rows[ky]`
/// points at a bit string (least significant bit first, 8 readable bytes past every
/// window) for input row oy * stride - pad + ky, or at zeros; the window of output
/// column x in it is `wpr` 64-bit words starting at byte x * step_bytes, the last
/// word masked with `last_mask`: its kernel_w taps of in_c channels side by side
/// (tap kx, channel c at bit kx * in_c + c). Weights are [kh * wpr words][out_c_pad]
/// with out_c_pad a multiple of 8 and zero bits where no weight is. For x < out_w:
///   acc[x * out_c + o] = gain * sum popcount(a_w AND weight_w,o) - zero * sum popcount(a_w)
/// over the kh * wpr words a_w of column x's window.
struct BinaryWindows {
  const uint8_t* const* rows;
  int64_t kh;
  int64_t wpr;
  int64_t step_bytes;
  uint64_t last_mask;
};
struct BinaryMicrokernel {
  void (*row)(
      const BinaryWindows& in,
      int64_t out_w,
      const uint64_t* weights,
      int64_t out_c,
      int64_t out_c_pad,
      int32_t gain,
      int32_t zero,
      int32_t* acc);
};

/// Word w of the window of `wpr` words that starts at `p`.
inline uint64_t window_word_at(const uint8_t* p, int64_t w, int64_t wpr, uint64_t last_mask) {
  uint64_t word;
  std::memcpy(&word, p + 8 * w, 8);
  return w == wpr - 1 ? word & last_mask : word;
}

/// Word w of column x's window in input row ky.
inline uint64_t window_word(const BinaryWindows& in, int64_t ky, int64_t x, int64_t w) {
  return window_word_at(in.rows[ky] + x * in.step_bytes, w, in.wpr, in.last_mask);
}

/// Integer (codes of up to 8 bits times weights of up to 4 bits) convolution of
/// one output row over a zero-padded NHWC input: `segs[ky]` points at the
/// first byte of column 0's window segment in padded input row oy * stride +
/// ky; column x's segment starts x * step bytes later and is seg_len bytes
/// long (kernel_w * channels rounded up to 4; weights beyond the real taps are
/// zero). `prepare` lays out weights [out_c][kh][seg_len] for `row`:
///   acc[x * out_c + o] = sum over ky, j of segs[ky][x * step + j] * w[o][ky][j].
/// Products of a code (< 256) and a weight (|w| <= 15) summed in pairs fit in
/// int16, so the AVX2 and AVX-512 BW multiply-adds cannot saturate.
struct Int8Microkernel {
  std::vector<int8_t> (*prepare)(const int8_t* weights, int64_t out_c, int64_t kh, int64_t seg_len);
  void (*row)(
      const uint8_t* const* segs,
      int64_t kh,
      int64_t seg_len,
      int64_t step,
      int64_t out_w,
      const int8_t* prepared,
      int64_t out_c,
      int32_t* acc);
};

/// Depthwise integer convolution of one output row (groups == channels):
///   acc[x * c + ch] = sum over taps t of tap_rows[x * taps + t][ch] * weights[t * c + ch]
/// where tap_rows[x * taps + t] points at the input pixel of tap t of column x
/// (or at zeros outside the image).
struct DepthwiseMicrokernel {
  void (*row)(
      const uint8_t* const* tap_rows,
      int64_t taps,
      int64_t width,
      int64_t channels,
      const int16_t* weights,
      int32_t* acc);
};

/// Double convolution of one output row over a zero-padded NHWC input, laid out
/// as the int8 kernel's (segs, seg_len = kernel_w * in_c exactly, step):
///   acc[x * out_c + o] = fma(a_k, w[k][o], acc) for the window values a_k in
/// order k = ky * seg_len + j from 0, so every path gives the reference's doubles
/// (taps of padding add a zero product, which leaves a sum unchanged but for the
/// sign of a zero). Weights are [kh * seg_len][out_c].
struct FloatMicrokernel {
  void (*row)(
      const double* const* segs,
      int64_t kh,
      int64_t seg_len,
      int64_t step,
      int64_t out_w,
      const double* weights,
      int64_t out_c,
      double* acc);
};

/// Consecutive rows (output pixels, `channels` values each) of a directly
/// evaluated epilogue (model.h's Epilogue): for row r and channel c, i = r * channels + c,
///   y = acc[i] * scale[c];  y = y + shift[c];  y = y + border[i];  y = y + residual[i];
///   y = activation(y);  out[i] = y;  codes[i] = quantizer->code(y)
/// with `border` and `residual` skipped when null, floats written when `out` is
/// not null and codes when `quantizer` is not (both: a float tensor and its codes).
struct EpilogueRow {
  const double* scale = nullptr;
  const double* shift = nullptr;
  const double* border = nullptr;
  const double* residual = nullptr;
  Activation activation = Activation::kNone;
  const ActQuantizer* quantizer = nullptr;
};

/// The elementwise loops: epilogue rows of integer or double sums, a quantizer
/// over floats (codes[i] = q.code(x[i])), and integer thresholds, for row r and
/// channel c, i = r * channels + c:
///   codes[i] = number of k < steps with sign[c] * acc[i] >= thresholds[k * channels + c].
struct ElementwiseKernels {
  void (*epilogue_int)(
      const int32_t* acc,
      int64_t rows,
      int64_t channels,
      const EpilogueRow& e,
      double* out,
      uint8_t* codes);
  void (*epilogue_double)(
      const double* acc,
      int64_t rows,
      int64_t channels,
      const EpilogueRow& e,
      double* out,
      uint8_t* codes);
  void (*quantize)(const double* x, int64_t n, const ActQuantizer& q, uint8_t* codes);
  void (*thresholds)(
      const int32_t* acc,
      int64_t rows,
      int64_t channels,
      const int32_t* sign,
      const int32_t* thresholds,
      int64_t steps,
      uint8_t* codes);
};

/// Sets bit `offset + i` of the zeroed bit string `bits` (least significant bit
/// first) to codes[i] & 1, for i < n.
using PackBitsFn = void (*)(const uint8_t* codes, int64_t n, int64_t offset, uint8_t* bits);

/// The microkernels of one kernel path.
struct PathKernels {
  PackBitsFn pack_bits;
  BinaryMicrokernel binary;
  Int8Microkernel int8;
  DepthwiseMicrokernel depthwise;
  FloatMicrokernel real;
  ElementwiseKernels elementwise;
  /// "vnni" when the AVX-512 int8 kernel uses VNNI, else the path's name.
  const char* int8_name;
};

/// The microkernels of `path` (the reference path has none: it uses the portable ones).
const PathKernels& path_kernels(KernelPath path);

namespace portable {
extern const PathKernels kKernels;
}  // namespace portable
namespace avx2 {
extern const PathKernels kKernels;
}  // namespace avx2
namespace avx512 {
extern const PathKernels kKernels;
extern const PathKernels kKernelsVnni;
}  // namespace avx512

}  // namespace ewgs::infer
