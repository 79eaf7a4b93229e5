// Device-side accuracy counting and quantizer-state records (include/ewgs/train/metrics.h).
#include "ewgs/train/metrics.h"

#include <torch/torch.h>

#include "ewgs/nn/quantized_layers.h"

namespace ewgs::train {

double MeanMeter::top1_percent() const {
  return seen > 0 ? 100.0 * static_cast<double>(top1) / static_cast<double>(seen) : 0.0;
}

double MeanMeter::topk_percent() const {
  return seen > 0 ? 100.0 * static_cast<double>(topk) / static_cast<double>(seen) : 0.0;
}

RunningMeter::RunningMeter(const MeanMeter& start, const c10::Device& device, int64_t k)
    : k_(k), seen_(start.seen) {
  const auto options = torch::TensorOptions().device(device);
  sums_ = torch::tensor(
      {start.loss_sum, static_cast<double>(start.top1), static_cast<double>(start.topk)},
      options.dtype(torch::kDouble));
  first_bad_ = torch::full({1}, -1, options.dtype(torch::kLong));
}

void RunningMeter::add(
    const at::Tensor& loss, const at::Tensor& logits, const at::Tensor& labels, int64_t step) {
  torch::NoGradGuard no_grad;
  const int64_t n = labels.size(0);
  const int64_t k = std::min<int64_t>(k_, logits.size(1));
  const auto hits = std::get<1>(logits.topk(k, 1)).eq(labels.view({-1, 1}));
  const auto batch = torch::stack(
      {loss.detach().to(torch::kDouble) * static_cast<double>(n),
       hits.select(1, 0).sum().to(torch::kDouble),
       hits.any(1).sum().to(torch::kDouble)});
  sums_.add_(batch);
  const auto bad =
      torch::logical_and(first_bad_ < 0, torch::logical_not(torch::isfinite(loss.detach())));
  first_bad_.masked_fill_(bad, step);
  seen_ += n;
}

MeanMeter RunningMeter::read() const {
  const auto host = sums_.cpu();
  const double* s = host.data_ptr<double>();
  return {s[0], static_cast<int64_t>(s[1]), static_cast<int64_t>(s[2]), seen_};
}

int64_t RunningMeter::first_non_finite_step() const {
  return first_bad_.item<int64_t>();
}

nlohmann::json quantizer_state(torch::nn::Module& model) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& item : nn::named_quantized_layers(model)) {
    nlohmann::json layer{{"name", item.name}};
    if (item.layer->output_scale.defined()) {
      layer["alpha"] = item.layer->output_scale.item<double>();
    }
    const std::pair<const char*, quant::QuantizerPtr> quantizers[] = {
        {"weight", item.layer->weight_quant},
        {"act", item.layer->act_quant},
        {"grad", item.layer->grad_quant}};
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

}  // namespace ewgs::train
