// Accuracy and loss bookkeeping for training and evaluation, kept on the model's
// device so a step needs no host synchronization, and the per-layer quantizer
// state (l, u, alpha, delta) that runs log every epoch.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/nn/module.h>
#include <nlohmann/json.hpp>

#include <cstdint>

namespace ewgs::train {

/// Loss and accuracy summed over the samples of an epoch or an evaluation.
struct MeanMeter {
  double loss_sum = 0.0;
  int64_t top1 = 0;
  int64_t topk = 0;
  int64_t seen = 0;

  double loss() const { return seen > 0 ? loss_sum / static_cast<double>(seen) : 0.0; }
  double top1_percent() const;
  double topk_percent() const;
};

/// Accumulates a MeanMeter on the device of the logits: add() queues work,
/// read() synchronizes. Also remembers the first step whose loss was not finite.
class RunningMeter {
 public:
  /// Continues from `start` (a resumed epoch's sums).
  RunningMeter(const MeanMeter& start, const c10::Device& device, int64_t k);

  /// Adds a batch: its mean `loss`, `logits` (N, classes) and int64 `labels`
  /// (N); `step` names the batch for the non-finite check.
  void add(
      const at::Tensor& loss, const at::Tensor& logits, const at::Tensor& labels, int64_t step);

  /// The sums so far (synchronizes with the device).
  MeanMeter read() const;
  /// The `step` of the first non-finite loss added, or -1 (synchronizes).
  int64_t first_non_finite_step() const;

 private:
  int64_t k_;
  int64_t seen_;
  at::Tensor sums_;       // double (3): loss sum, top-1, top-k
  at::Tensor first_bad_;  // int64 (1)
};

/// Per quantized layer: {"name", "alpha", "weight": {"l","u","delta"}, "act": {...}}.
nlohmann::json quantizer_state(torch::nn::Module& model);

}  // namespace ewgs::train
