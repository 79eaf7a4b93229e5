// Accuracy counting and quantizer-state records (include/ewgs/train/metrics.h).
#include "ewgs/train/metrics.h"

#include <torch/torch.h>

#include "ewgs/nn/quantized_layers.h"

namespace ewgs::train {

TopKCounts count_correct(const at::Tensor& logits, const at::Tensor& labels, int64_t k) {
  torch::NoGradGuard no_grad;
  const int64_t kk = std::min<int64_t>(k, logits.size(1));
  const auto top = std::get<1>(logits.topk(kk, 1));
  const auto hits = top.eq(labels.view({-1, 1}));
  return {
      hits.select(1, 0).sum().item<int64_t>(), hits.any(1).sum().item<int64_t>()};
}

void MeanMeter::add(double batch_mean_loss, const TopKCounts& correct, int64_t batch_size) {
  loss_sum += batch_mean_loss * static_cast<double>(batch_size);
  top1 += correct.top1;
  topk += correct.topk;
  seen += batch_size;
}

double MeanMeter::top1_percent() const {
  return seen > 0 ? 100.0 * static_cast<double>(top1) / static_cast<double>(seen) : 0.0;
}

double MeanMeter::topk_percent() const {
  return seen > 0 ? 100.0 * static_cast<double>(topk) / static_cast<double>(seen) : 0.0;
}

nlohmann::json quantizer_state(torch::nn::Module& model) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& item : nn::named_quantized_layers(model)) {
    nlohmann::json layer{{"name", item.name}};
    if (item.layer->output_scale.defined()) {
      layer["alpha"] = item.layer->output_scale.item<double>();
    }
    const std::pair<const char*, quant::QuantizerPtr> quantizers[] = {
        {"weight", item.layer->weight_quant}, {"act", item.layer->act_quant}, {"grad", item.layer->grad_quant}};
    for (const auto& [key, q] : quantizers) {
      if (!q) {
        continue;
      }
      nlohmann::json values;
      for (const auto& [name, value] : q->scalars()) {
        values[name] = value;
      }
      layer[key] = values;
    }
    layers.push_back(layer);
  }
  return layers;
}

} // namespace ewgs::train
