// Accuracy and loss bookkeeping for training and evaluation, and the per-layer
// quantizer state (l, u, alpha, delta) that runs log every epoch.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include <cstdint>

namespace ewgs::train {

/// Correct top-1 and top-k predictions of a batch of `logits` (N, classes)
/// for int64 `labels` (N). k is clamped to the number of classes.
struct TopKCounts {
  int64_t top1 = 0;
  int64_t topk = 0;
};
TopKCounts count_correct(const at::Tensor& logits, const at::Tensor& labels, int64_t k);

/// Loss and accuracy averaged over the samples of an epoch or evaluation.
struct MeanMeter {
  double loss_sum = 0.0;
  int64_t top1 = 0;
  int64_t topk = 0;
  int64_t seen = 0;

  void add(double batch_mean_loss, const TopKCounts& correct, int64_t batch_size);
  double loss() const { return seen > 0 ? loss_sum / static_cast<double>(seen) : 0.0; }
  double top1_percent() const;
  double topk_percent() const;
};

/// Per quantized layer: {"name", "alpha", "weight": {"l","u","delta"}, "act": {...}}.
nlohmann::json quantizer_state(torch::nn::Module& model);

} // namespace ewgs::train
