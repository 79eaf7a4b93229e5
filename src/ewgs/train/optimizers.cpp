// Model and quantizer optimizers (include/ewgs/train/optimizers.h).
#include "ewgs/train/optimizers.h"

#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include "ewgs/nn/parameter_groups.h"

namespace ewgs::train {
namespace {

void set_lr(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) {
    group.options().set_lr(lr);
  }
}

}  // namespace

Optimizers make_optimizers(const TrainConfig& config, torch::nn::Module& model) {
  const auto groups = nn::split_parameters(model);
  Optimizers out;
  if (config.optim_optimizer == "sgd") {
    out.model = std::make_unique<torch::optim::SGD>(
        groups.model,
        torch::optim::SGDOptions(config.optim_lr)
            .momentum(config.optim_momentum)
            .weight_decay(config.optim_weight_decay)
            .nesterov(config.optim_nesterov));
  } else {
    // L2 in Adam, as the official code's torch.optim.Adam(weight_decay=...).
    out.model = std::make_unique<torch::optim::Adam>(
        groups.model,
        torch::optim::AdamOptions(config.optim_lr).weight_decay(config.optim_weight_decay));
  }
  if (!groups.quantizer.empty()) {
    out.quant = std::make_unique<torch::optim::Adam>(
        groups.quantizer, torch::optim::AdamOptions(config.optim_quant_lr).weight_decay(0));
  }
  return out;
}

void Optimizers::set_learning_rates(double model_lr, double quant_lr) {
  set_lr(*model, model_lr);
  if (quant) {
    set_lr(*quant, quant_lr);
  }
}

void Optimizers::zero_grad() {
  model->zero_grad();
  if (quant) {
    quant->zero_grad();
  }
}

void Optimizers::step() {
  model->step();
  if (quant) {
    quant->step();
  }
}

}  // namespace ewgs::train
