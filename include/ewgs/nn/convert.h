// Quantization-aware training for a network the user already has: its Conv2d and Linear
// layers become QConv2d and QLinear, chosen by name, with their weights kept.
#pragma once

#include <torch/nn/modules/container/sequential.h>

#include <string>
#include <vector>

namespace ewgs::nn {

/// Which layers to quantize, and how.
///
/// Example (W2A2 EWGS everywhere but the first and last layer, as in the paper):
///   ConvertOptions options;
///   options.weight_quant = options.act_quant = "ewgs:bits=2";
struct ConvertOptions {
  /// Weight quantizer spec of converted layers ("off" for none).
  std::string weight_quant = "ewgs:bits=4";
  /// Input-activation quantizer spec of converted layers ("off" for none).
  std::string act_quant = "ewgs:bits=4";
  /// Quantizer of the gradient at converted layers' outputs ("off" for none).
  std::string grad_quant = "off";
  /// ECMAScript regular expression that the whole name of a layer in the
  /// Sequential ("3", or the name given to push_back) must match to be converted.
  std::string include = ".*";
  /// Layers whose whole name matches this are left alone ("" matches none).
  std::string exclude;
  /// Leave the first and the last Conv2d/Linear in full precision, as the paper
  /// does for every network but MobileNetV2.
  bool keep_first_last = true;
};

/// What convert_to_quantized did.
struct Conversion {
  /// The converted model: a deep copy of the input, which is left untouched.
  torch::nn::Sequential model;
  /// Names of the layers converted, in order.
  std::vector<std::string> converted;
  /// Names of the Conv2d/Linear layers left in full precision, in order.
  std::vector<std::string> kept;
};

/// Converts the Conv2d and Linear layers of `model` that `options` selects into QConv2d and QLinear
/// with the same shapes, strides, padding, dilation, groups, weights and biases. Every other module
/// is copied as it is. Until the first training forward initializes their quantizers (paper
/// Sec. 4.1), converted layers compute what the originals did only where the quantizers are off.
///
/// Only a Sequential's own children can be rewritten: a module that calls its members
/// from its own forward() keeps calling the members it holds (LibTorch modules have no
/// forward hooks), so build such modules, and any module a Sequential holds, from
/// QConv2d and QLinear directly. Errors name the layer: padding modes other than zeros, "same" or
/// "valid" padding, a quantizer spec that does not parse, or an `include` pattern that
/// selects no layer.
Conversion convert_to_quantized(const torch::nn::Sequential& model, const ConvertOptions& options);

}  // namespace ewgs::nn
