// How a model is quantized, in one value: the weight and activation quantizer
// specs and which layers get them; every model is built from it.
#pragma once

#include <string>

#include "ewgs/nn/qconv2d.h"
#include "ewgs/nn/qlinear.h"

namespace ewgs::models {

/// The quantization of a whole model.
///
/// Example (W1A1 EWGS with Hessian-driven delta, first/last layers FP):
///   QuantSpec spec{"ewgs:bits=1", "ewgs:bits=1"};
struct QuantSpec {
  /// Weight quantizer spec of quantized layers; "off" for full precision.
  std::string weight = "off";
  /// Input-activation quantizer spec of quantized layers; "off" for none.
  std::string act = "off";
  /// Quantizer of the gradient at quantized layers' outputs; "off" for none.
  std::string grad = "off";
  /// Also quantize the first conv and the classifier (MobileNetV2 in the
  /// paper); by default they stay in full precision.
  bool quantize_first_last = false;

  /// Whether any layer is quantized.
  bool enabled() const;

  /// Options for an inner (quantizable) conv.
  nn::QConv2dOptions conv(int64_t in, int64_t out, int64_t kernel) const;
  /// Options for the first conv: quantized only with quantize_first_last.
  nn::QConv2dOptions first_conv(int64_t in, int64_t out, int64_t kernel) const;
  /// Options for the classifier (with bias): quantized only with quantize_first_last.
  nn::QLinearOptions classifier(int64_t in, int64_t out) const;

  /// "W1A1 ewgs" style summary, or "FP".
  std::string describe() const;

  /// A full-precision spec.
  static QuantSpec full_precision() { return QuantSpec{}; }
};

}  // namespace ewgs::models
