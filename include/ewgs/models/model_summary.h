// Parameter counts and the list of quantized layers of a model, for
// `ewgs info --model` and run logs.
#pragma once

#include <torch/nn/module.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace ewgs::models {

struct QuantizedLayerSummary {
  std::string name;
  /// Spec of the weight / activation quantizer, "off" when none.
  std::string weight_quant;
  std::string act_quant;
};

struct ModelSummary {
  int64_t total_parameters = 0;
  /// Trained by the model optimizer (weights, biases, BN affine).
  int64_t model_parameters = 0;
  /// Trained by the quantizer optimizer (intervals, output scales).
  int64_t quantizer_parameters = 0;
  std::vector<QuantizedLayerSummary> quantized_layers;

  nlohmann::json to_json() const;
};

/// Counts the elements of every parameter of `module`.
ModelSummary summarize(torch::nn::Module& module);

}  // namespace ewgs::models
