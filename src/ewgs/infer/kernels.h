// The engine's kernel interfaces: integer convolutions over activation codes and
// double convolutions for full-precision layers, each with a reference (the spec)
// and faster versions chosen by KernelPath. Layouts are NHWC.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ewgs/infer/kernel_path.h"
#include "ewgs/infer/model.h"

namespace ewgs::infer {

/// Static shape of a convolution; the batch comes with each run.
struct ConvGeometry {
  int64_t in_h = 1, in_w = 1, in_c = 1;
  int64_t out_h = 1, out_w = 1, out_c = 1;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t groups = 1;

  static ConvGeometry of(const ConvOp& conv, const TensorInfo& in, const TensorInfo& out);
  /// Inputs of one output channel: kernel_h kernel_w in_c / groups.
  int64_t window() const { return kernel_h * kernel_w * (in_c / groups); }
  int64_t out_pixels() const { return out_h * out_w; }
};

/// The integer weights w_int = gain * code - zero of `conv`, [out][kh][kw][in/groups].
std::vector<int8_t> integer_weights(const ConvOp& conv);

/// An integer convolution with weights prepared for one algorithm:
///   acc[n, y, x, o] = sum over the window of code * w_int,
/// codes of positions outside the image being 0.
class QConvKernel {
 public:
  virtual ~QConvKernel() = default;
  virtual void run(int64_t batch, const uint8_t* codes, int32_t* acc, int threads) const = 0;
  /// "binary-avx512", "int8-vnni", "reference", ... for `ewgs info`.
  virtual std::string name() const = 0;
};

/// The kernel for `conv` (input codes of `act_bits` bits) on `path`; always
/// succeeds, falling back to the reference for shapes no fast kernel covers.
std::unique_ptr<QConvKernel> make_qconv_kernel(
    const ConvOp& conv, const ConvGeometry& geometry, int act_bits, KernelPath path);

/// A double-precision convolution of a full-precision layer:
///   sum = 0; sum = fma(x_k, w_k, sum) for each tap k inside the image in window
///   order (ky, kx, channel); acc[n, y, x, o] = sum + bias[o]
/// (a fused multiply-add rounds once; padding contributes nothing).
class FloatConvKernel {
 public:
  virtual ~FloatConvKernel() = default;
  virtual void run(int64_t batch, const double* x, double* acc, int threads) const = 0;
  virtual std::string name() const = 0;
};

std::unique_ptr<FloatConvKernel> make_float_conv_kernel(
    const ConvOp& conv, const ConvGeometry& geometry, KernelPath path);

namespace ref {
/// The specification: one loop per index, int64 sums.
std::unique_ptr<QConvKernel> make_qconv(const ConvOp& conv, const ConvGeometry& geometry);
std::unique_ptr<FloatConvKernel> make_float_conv(const ConvOp& conv, const ConvGeometry& geometry);
}  // namespace ref

}  // namespace ewgs::infer
