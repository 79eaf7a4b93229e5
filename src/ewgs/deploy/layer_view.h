// What every exporter reads from a model's layers: the geometry and tensors of a
// conv or linear layer, and the eval-mode statistics of a BatchNorm.
#pragma once

#include <torch/types.h>

#include <cstdint>

#include "ewgs/models/layer_graph.h"
#include "ewgs/nn/quantized_layer.h"

namespace ewgs::deploy {

/// A conv or linear layer; a linear layer is a 1x1 convolution of (N, in, 1, 1).
struct LayerView {
  nn::QuantizedLayer* quantized = nullptr;
  bool linear = false;
  torch::Tensor weight;  ///< [out, in/groups, kh, kw]
  torch::Tensor bias;    ///< [out] or undefined
  int64_t in_channels = 0, out_channels = 0, groups = 1;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
};

/// The view of a kConv or kLinear node.
LayerView view_of(const models::LayerNode& node);

/// A BatchNorm1d/2d in eval mode: y = (x - mean) / sqrt(var + eps) * weight + bias.
/// weight and bias are ones and zeros when the layer has no affine parameters.
struct BatchNormView {
  torch::Tensor mean, var, weight, bias;  ///< [channels], float32
  double eps = 0.0;
};

/// The view of a kBatchNorm node; an error naming it when it keeps no running
/// statistics (eval mode needs them).
BatchNormView batch_norm_view(const models::LayerNode& node);

}  // namespace ewgs::deploy
