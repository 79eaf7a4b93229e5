// Finds the quantized layers of a model by name, in module order: what metrics,
// the Hessian estimator and model summaries iterate over.
#pragma once

#include <torch/nn/module.h>

#include <string>
#include <vector>

#include "ewgs/nn/quantized_layer.h"

namespace ewgs::nn {

struct NamedQuantizedLayer {
  /// Dotted module path, e.g. "layer1.0.conv1".
  std::string name;
  QuantizedLayer* layer;
};

/// Layers of `module` with at least one quantizer on, in registration order.
std::vector<NamedQuantizedLayer> named_quantized_layers(torch::nn::Module& module);

/// Tells every quantizer in `module` the name of its layer, so errors in its
/// forward name it ("... quantizer of layer1.0.conv1").
void name_quantizers(torch::nn::Module& module);

/// Tells every quantizer in `module` that the optimizer stepped.
void notify_optimizer_step(torch::nn::Module& module);

/// Sum of the regularizers of every quantizer in `module` (PACT's penalty on
/// its clipping levels), or undefined when no quantizer has one.
torch::Tensor quantizer_regularizer(torch::nn::Module& module);

}  // namespace ewgs::nn
