// A training step (forward, loss, backward, optimizer update) captured once as a CUDA
// graph and replayed for every later batch, so that a small network's step is no
// longer bound by kernel launches (run.cuda_graph); and when that is allowed.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ewgs/train/optimizers.h"
#include "ewgs/train/train_config.h"

namespace ewgs::train {

/// Why `config` cannot train with run.cuda_graph = true, one sentence each (empty
/// when it can, or when the switch is off). TrainConfig::validate checks it, so a
/// config is refused before anything runs, on any machine.
std::vector<std::string> cuda_graph_blockers(const TrainConfig& config);

/// The outputs of one training step on one batch.
struct StepOutputs {
  torch::Tensor loss;    ///< the mean loss that was differentiated (0-dim)
  torch::Tensor logits;  ///< (N, classes)
};

/// Trains batches with one CUDA graph of the whole step. The first kWarmupSteps
/// batches of one shape run the ordinary way on a side stream (PyTorch's recipe:
/// lazy initializations, quantizer initialization included, happen outside the
/// capture); the next batch of that shape is captured, and every later one is
/// copied into the graph's static inputs and replayed. Batches of another shape
/// (an epoch's last, partial batch) run the ordinary way. Inside the graph the
/// optimizers' update is DeviceOptimizerStep, so learning-rate changes and Adam's
/// step count need no re-capture. Outputs of a replay are the graph's static
/// tensors: read them before the next step.
class CapturedStep {
 public:
  static constexpr int kWarmupSteps = 3;
  using ForwardLoss = std::function<StepOutputs(const torch::Tensor&, const torch::Tensor&)>;

  /// `forward_loss` computes a batch's loss and logits (what the graph records
  /// before backward); `params` are every trained parameter. Errors when ewgs was
  /// built without CUDA.
  CapturedStep(Optimizers& optimizers, std::vector<torch::Tensor> params, ForwardLoss forward_loss);
  ~CapturedStep();
  CapturedStep(const CapturedStep&) = delete;
  CapturedStep& operator=(const CapturedStep&) = delete;

  /// Trains one batch: by replay when the graph fits it, else by `eager_step`
  /// (zero_grad, forward_loss, backward, the optimizers' own step).
  StepOutputs step(
      const torch::Tensor& images,
      const torch::Tensor& labels,
      const std::function<StepOutputs()>& eager_step);

  /// Errors naming the quantizer when a replay since the capture saw a NaN or
  /// Inf input or an interval that is not l < u (the checks a quantizer's forward
  /// cannot make inside a graph).
  /// Synchronizes with the device: call it where the loss is read anyway.
  void check_quantizer_inputs() const;

  /// Whether the graph has been captured.
  bool captured() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ewgs::train
