// Splits a model's parameters into the two groups the paper trains with different
// optimizers: model parameters (weights, BN) and quantizer parameters (l, u, alpha).
#pragma once

#include <torch/nn/module.h>

#include <vector>

namespace ewgs::nn {

struct ParameterGroups {
  /// Conv/linear weights and biases, BatchNorm affine parameters.
  std::vector<torch::Tensor> model;
  /// Quantizer intervals and output scales of every quantized layer.
  std::vector<torch::Tensor> quantizer;
};

/// Every parameter of `module` lands in exactly one group (checked).
ParameterGroups split_parameters(const torch::nn::Module& module);

}  // namespace ewgs::nn
