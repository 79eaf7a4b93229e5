// Evaluation loop (include/ewgs/train/evaluate.h).
#include "ewgs/train/evaluate.h"

#include <torch/torch.h>

namespace ewgs::train {

MeanMeter evaluate(
    models::ClassifierImpl& model, data::BatchSource& batches, const c10::Device& device) {
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  RunningMeter meter(MeanMeter{}, device, 5);
  batches.start_epoch(0);
  while (auto batch = batches.next()) {
    if (batch->images.size(0) == 0) {
      continue;  // a data-parallel shard of a last batch smaller than the ranks
    }
    const auto images = batch->images.to(device);
    const auto labels = batch->labels.to(device);
    const auto logits = model.forward(images);
    meter.add(torch::nn::functional::cross_entropy(logits, labels), logits, labels, batch->index);
  }
  model.train(was_training);
  return meter.read();
}

}  // namespace ewgs::train
