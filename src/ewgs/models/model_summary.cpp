// Model summaries (include/ewgs/models/model_summary.h).
#include "ewgs/models/model_summary.h"

#include "ewgs/nn/parameter_groups.h"
#include "ewgs/nn/quantized_layers.h"

namespace ewgs::models {
namespace {

int64_t count(const std::vector<torch::Tensor>& tensors) {
  int64_t n = 0;
  for (const auto& t : tensors) {
    n += t.numel();
  }
  return n;
}

}  // namespace

ModelSummary summarize(torch::nn::Module& module) {
  ModelSummary summary;
  const auto groups = nn::split_parameters(module);
  summary.model_parameters = count(groups.model);
  summary.quantizer_parameters = count(groups.quantizer);
  summary.total_parameters = summary.model_parameters + summary.quantizer_parameters;
  for (const auto& item : nn::named_quantized_layers(module)) {
    summary.quantized_layers.push_back(
        {item.name,
         item.layer->weight_quant ? item.layer->weight_quant->spec() : "off",
         item.layer->act_quant ? item.layer->act_quant->spec() : "off"});
  }
  return summary;
}

nlohmann::json ModelSummary::to_json() const {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : quantized_layers) {
    layers.push_back(
        {{"name", l.name}, {"weight_quant", l.weight_quant}, {"act_quant", l.act_quant}});
  }
  return {
      {"total_parameters", total_parameters},
      {"model_parameters", model_parameters},
      {"quantizer_parameters", quantizer_parameters},
      {"quantized_layers", layers}};
}

}  // namespace ewgs::models
