// How a quantizer's eval-mode forward maps to integers, for export to the packed
// engine: the value of each code, and for activations how a float picks its code.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace ewgs::quant {

/// Values of codes 0 .. levels - 1: value = scale * (gain * code - zero) + offset.
/// gain * code - zero is the integer the engine multiplies with.
struct GridValues {
  int64_t levels = 2;
  double scale = 1.0;
  int64_t gain = 1;
  int64_t zero = 0;
  double offset = 0.0;
};

/// An activation quantizer as the engine evaluates it, in double:
///   affine:     code = R(clamp(x * in_scale + in_shift, 0, levels - 1)), R rounding
///               half to even, or half down (floor(t) + [frac(t) > 1/2]) when half_down
///   thresholds: code = number of k with x >= thresholds[k] (inclusive[k]) or x > thresholds[k]
struct ActivationGrid {
  enum class Kind { kAffine, kThresholds };
  GridValues values;
  Kind kind = Kind::kAffine;
  double in_scale = 1.0;
  double in_shift = 0.0;
  bool half_down = false;
  std::vector<double> thresholds;
  std::vector<bool> inclusive;
};

/// A quantized weight tensor: its codes (uint8, the weight's shape) and their values.
struct WeightGrid {
  GridValues values;
  at::Tensor codes;
};

}  // namespace ewgs::quant
