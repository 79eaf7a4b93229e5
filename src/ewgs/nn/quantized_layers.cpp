// Traversal to the quantized layers of a model (include/ewgs/nn/quantized_layers.h).
#include "ewgs/nn/quantized_layers.h"

namespace ewgs::nn {

std::vector<NamedQuantizedLayer> named_quantized_layers(torch::nn::Module& module) {
  std::vector<NamedQuantizedLayer> out;
  for (const auto& item : module.named_modules("", /*include_self=*/false)) {
    auto* layer = dynamic_cast<QuantizedLayer*>(item.value().get());
    if (layer != nullptr && !layer->quantizers().empty()) {
      out.push_back({item.key(), layer});
    }
  }
  return out;
}

void name_quantizers(torch::nn::Module& module) {
  for (const auto& item : named_quantized_layers(module)) {
    for (const auto& q : item.layer->quantizers()) {
      q->set_layer(item.name);
    }
  }
}

void notify_optimizer_step(torch::nn::Module& module) {
  for (const auto& item : named_quantized_layers(module)) {
    for (const auto& q : item.layer->quantizers()) {
      q->after_optimizer_step();
    }
  }
}

torch::Tensor quantizer_regularizer(torch::nn::Module& module) {
  torch::Tensor total;
  for (const auto& item : named_quantized_layers(module)) {
    const auto r = item.layer->regularizer();
    if (r.defined()) {
      total = total.defined() ? total + r : r;
    }
  }
  return total;
}

}  // namespace ewgs::nn
