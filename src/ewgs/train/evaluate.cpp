// Evaluation loop (include/ewgs/train/evaluate.h).
#include "ewgs/train/evaluate.h"

#include <torch/torch.h>

namespace ewgs::train {

MeanMeter evaluate(models::ClassifierImpl& model, data::DataLoader& loader, const c10::Device& device) {
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  MeanMeter meter;
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    const auto images = batch->images.to(device);
    const auto labels = batch->labels.to(device);
    const auto logits = model.forward(images);
    const double loss = torch::nn::functional::cross_entropy(logits, labels).item<double>();
    meter.add(loss, count_correct(logits, labels, 5), images.size(0));
  }
  model.train(was_training);
  return meter;
}

} // namespace ewgs::train
