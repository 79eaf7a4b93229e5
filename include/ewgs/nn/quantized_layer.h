// What QConv2d and QLinear share: a weight and an input-activation quantizer, the
// learnable output scale |alpha|, and the paper's one-time initialization.
#pragma once

#include <torch/nn/module.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ewgs/core/collective.h"
#include "ewgs/quant/quantizer.h"

namespace ewgs::nn {

/// Mixin of quantized layers. Registered names (for a layer whose weight,
/// activation and gradient quantizers are on):
///   weight_quant.*   act_quant.*   grad_quant.*   output_scale   quant_initialized
/// A quantizer spec that is "off" registers nothing; with both off the layer
/// is a plain full-precision layer with no output scale. Quantizers whose
/// output is on the input's scale (LSQ, PACT) need no output scale either:
/// the layer has one only when some quantizer maps to a fixed range.
class QuantizedLayer {
 public:
  virtual ~QuantizedLayer() = default;

  /// Parameters trained by the quantizer optimizer: the quantizers' own
  /// parameters and the output scale.
  std::vector<torch::Tensor> quantizer_parameters() const;

  /// Sum of the quantizers' regularizers (undefined when none has one).
  torch::Tensor regularizer() const;

  /// Whether the paper initialization has run (saved with the module).
  bool quant_initialized() const;

  /// Quantizers that are on (weight, activation, gradient; 0 to 3 of them).
  std::vector<quant::QuantizerPtr> quantizers() const;

  /// In training, the gradient of the quantized weight is averaged over
  /// `group` before the weight quantizer's backward (nullptr: not); see
  /// nn::average_quantized_weight_gradients.
  void average_weight_gradient_over(std::shared_ptr<Collective> group) {
    weight_gradient_group_ = std::move(group);
  }

  quant::QuantizerPtr weight_quant;
  quant::QuantizerPtr act_quant;
  /// Quantizes the gradient arriving at the layer's output (identity forward).
  quant::QuantizerPtr grad_quant;
  /// Learnable output scale alpha, applied as |alpha| (official code).
  torch::Tensor output_scale;

 protected:
  /// Creates and registers the quantizers and scale on `self`.
  void register_quantization(
      torch::nn::Module& self,
      const std::string& weight_spec,
      const std::string& act_spec,
      const std::string& grad_spec);

  /// y = G(|alpha| * op(Q_A(x), Q_W(w))), with G the gradient quantizer
  /// (identity forward). On the first training forward the
  /// quantizers are initialized from (w, x) and alpha is set to
  /// E|op(x, w)| / E|op(Q_A(x), Q_W(w))| (paper Sec. 4.1).
  /// `has_bias`: whether `op` adds a bias (then |alpha| scales op's output;
  /// else it scales the weights, which is the same and cheaper).
  torch::Tensor quantized_forward(
      const torch::Tensor& x,
      const torch::Tensor& weight,
      bool has_bias,
      bool training,
      const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>& op);

 private:
  void initialize(
      const torch::Tensor& x,
      const torch::Tensor& weight,
      const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>& op);

  torch::Tensor initialized_;
  std::shared_ptr<Collective> weight_gradient_group_;
  /// Once the buffer reads 1 it stays 1: skip reading it (a device sync).
  mutable bool known_initialized_ = false;
};

}  // namespace ewgs::nn
