// Quantized fully connected layer: linear(Q_A(x), Q_W(w)) scaled by |alpha|, in
// LibTorch's Options + Impl + TORCH_MODULE style.
#pragma once

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <string>

#include "ewgs/nn/quantized_layer.h"

namespace ewgs::nn {

/// Options of QLinear.
///
/// Example:
///   QLinear fc(QLinearOptions(512, 10).weight_quant("ewgs:bits=2").act_quant("off"));
struct QLinearOptions {
  QLinearOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, out_features);
  /// Default false (quantized layers have no bias in the paper).
  TORCH_ARG(bool, bias) = false;
  /// Weight quantizer spec; "off" for none.
  TORCH_ARG(std::string, weight_quant) = "ewgs:bits=4";
  /// Input-activation quantizer spec; "off" for none.
  TORCH_ARG(std::string, act_quant) = "ewgs:bits=4";
  /// Quantizer of the gradient at the output (fixed-point training); "off".
  TORCH_ARG(std::string, grad_quant) = "off";
};

/// Quantized Linear. Input: (N, in_features) or (*, in_features).
class QLinearImpl : public torch::nn::Cloneable<QLinearImpl>, public QuantizedLayer {
 public:
  QLinearImpl(int64_t in_features, int64_t out_features)
      : QLinearImpl(QLinearOptions(in_features, out_features)) {}
  explicit QLinearImpl(QLinearOptions options);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& input);

  QLinearOptions options;
  torch::Tensor weight;
  torch::Tensor bias;
};
TORCH_MODULE(QLinear);

}  // namespace ewgs::nn
