// The inner loops the fast convolutions are built from, one table per kernel path:
// portable C++ here, AVX2 and AVX-512 versions in x86/. Each must give exactly the
// same integers (or doubles) as the portable one; tests compare them all.
#pragma once

#include <cstdint>
#include <vector>

#include "ewgs/infer/kernel_path.h"

namespace ewgs::infer {

/// Binary dot products of a block of packed windows with every output channel:
///   out[r * out_c + o] = popcount(rows[r] AND weights[o]), over `words` 64-bit words
/// per row (rows and weights both `words` long). Also row_popcount[r] =
/// popcount(rows[r]).
struct BinaryMicrokernel {
  void (*dot)(const uint64_t* rows, int64_t count, int64_t words, const uint64_t* weights, int64_t out_c,
              int32_t* out);
  void (*row_popcount)(const uint64_t* rows, int64_t count, int64_t words, int32_t* out);
};

/// Integer dot products of a block of code windows (u8, `k_pad` per row, zero
/// beyond the window) with every output channel's int8 weights:
///   acc[r * out_c + o] = sum over k of rows[r][k] * w[o][k].
/// `prepare` lays the weights [out_c][window] out as `dot` wants them; k_pad
/// is the window rounded up to `k_align`.
struct Int8Microkernel {
  int64_t k_align;
  std::vector<int8_t> (*prepare)(const int8_t* weights, int64_t out_c, int64_t window, int64_t k_pad);
  void (*dot)(const uint8_t* rows, int64_t count, int64_t k_pad, const int8_t* prepared, int64_t out_c,
              int32_t* acc);
};

/// Depthwise integer convolution of one output row (groups == channels):
///   acc[x * c + ch] = sum over taps t of codes at tap t * w[t * c + ch]
/// where `taps[t]` points at the input pixel of tap t for output x = 0 (or to
/// `zeros` when outside the image) and input pixels advance by `step` codes
/// per output x. `valid(t, x)` is folded in by the caller: it passes per-x
/// tap pointers through `tap_rows` [x][t].
struct DepthwiseMicrokernel {
  void (*row)(const uint8_t* const* tap_rows, int64_t taps, int64_t width, int64_t channels, const int16_t* weights,
              int32_t* acc);
};

/// Double dot products: acc[r * out_c + o] = sum over k of rows[r][k] * w[k][o],
/// k in order, each product rounded then added (no fused multiply-add), so
/// every path gives the reference's doubles. Weights are [window][out_c].
struct FloatMicrokernel {
  void (*dot)(const double* rows, int64_t count, int64_t window, const double* weights, int64_t out_c, double* acc);
};

const BinaryMicrokernel& binary_microkernel(KernelPath path);
const Int8Microkernel& int8_microkernel(KernelPath path);
const DepthwiseMicrokernel& depthwise_microkernel(KernelPath path);
const FloatMicrokernel& float_microkernel(KernelPath path);

namespace portable {
extern const BinaryMicrokernel kBinary;
extern const Int8Microkernel kInt8;
extern const DepthwiseMicrokernel kDepthwise;
extern const FloatMicrokernel kFloat;
} // namespace portable

namespace avx2 {
extern const BinaryMicrokernel kBinary;
extern const Int8Microkernel kInt8;
extern const DepthwiseMicrokernel kDepthwise;
extern const FloatMicrokernel kFloat;
} // namespace avx2

namespace avx512 {
extern const BinaryMicrokernel kBinary;
/// With VNNI (vpdpbusd) when the CPU has it, else AVX-512 BW multiply-adds.
extern const Int8Microkernel kInt8Vnni;
extern const Int8Microkernel kInt8;
extern const DepthwiseMicrokernel kDepthwise;
extern const FloatMicrokernel kFloat;
} // namespace avx512

} // namespace ewgs::infer
