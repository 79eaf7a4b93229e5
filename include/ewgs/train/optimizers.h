// The paper's two optimizers: one for model parameters (SGD with momentum or
// Adam, weight decay) and Adam without weight decay for quantizer parameters.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <memory>

#include "ewgs/train/train_config.h"

namespace ewgs::train {

struct Optimizers {
  std::unique_ptr<torch::optim::Optimizer> model;
  /// Null when the model has no quantizer parameters.
  std::unique_ptr<torch::optim::Optimizer> quant;

  /// Sets the learning rate of every parameter group of both.
  void set_learning_rates(double model_lr, double quant_lr);
  void zero_grad();
  void step();
};

/// Builds both optimizers from [optim] for `model`'s parameter groups.
Optimizers make_optimizers(const TrainConfig& config, torch::nn::Module& model);

}  // namespace ewgs::train
