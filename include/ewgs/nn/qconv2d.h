// Quantized 2-D convolution: conv(Q_A(x), Q_W(w)) scaled by |alpha| (EWGS paper,
// Sec. 3), in LibTorch's Options + Impl + TORCH_MODULE style.
#pragma once

#include <torch/arg.h>
#include <torch/expanding_array.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <string>

#include "ewgs/nn/quantized_layer.h"

namespace ewgs::nn {

/// Options of QConv2d.
///
/// Example:
///   QConv2d conv(QConv2dOptions(16, 32, 3).stride(2).padding(1)
///                    .weight_quant("ewgs:bits=1").act_quant("ewgs:bits=1"));
struct QConv2dOptions {
  QConv2dOptions(int64_t in_channels, int64_t out_channels, torch::ExpandingArray<2> kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(torch::ExpandingArray<2>, kernel_size);
  /// Default 1.
  TORCH_ARG(torch::ExpandingArray<2>, stride) = 1;
  /// Zero padding on both sides, default 0.
  TORCH_ARG(torch::ExpandingArray<2>, padding) = 0;
  /// Default 1.
  TORCH_ARG(torch::ExpandingArray<2>, dilation) = 1;
  /// Default 1; in_channels and out_channels must be divisible by it.
  TORCH_ARG(int64_t, groups) = 1;
  /// Quantized layers have no bias in the paper; default false.
  TORCH_ARG(bool, bias) = false;
  /// Weight quantizer spec, e.g. "ewgs:bits=1,delta=0"; "off" for none.
  TORCH_ARG(std::string, weight_quant) = "ewgs:bits=4";
  /// Input-activation quantizer spec; "off" for none.
  TORCH_ARG(std::string, act_quant) = "ewgs:bits=4";
  /// Quantizer of the gradient at the output (fixed-point training); "off".
  TORCH_ARG(std::string, grad_quant) = "off";
};

/// Quantized Conv2d. Registered names: weight [, bias] plus those of
/// QuantizedLayer. Input: (N, in_channels, H, W).
class QConv2dImpl : public torch::nn::Cloneable<QConv2dImpl>, public QuantizedLayer {
 public:
  QConv2dImpl(int64_t in_channels, int64_t out_channels, torch::ExpandingArray<2> kernel_size)
      : QConv2dImpl(QConv2dOptions(in_channels, out_channels, kernel_size)) {}
  explicit QConv2dImpl(QConv2dOptions options);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& input);

  QConv2dOptions options;
  torch::Tensor weight;
  torch::Tensor bias;
};
TORCH_MODULE(QConv2d);

}  // namespace ewgs::nn
