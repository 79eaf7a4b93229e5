// Snapshot and restore of mutable model state (model_state_guard.h).
#include "model_state_guard.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <mutex>

namespace ewgs::hessian {

ModelStateGuard::ModelStateGuard(torch::nn::Module& model)
    : model_(model), training_(model.is_training()) {
  torch::NoGradGuard no_grad;
  for (const auto& b : model.buffers()) {
    buffers_.push_back(b);
    buffer_copies_.push_back(b.clone());
  }
  for (const auto& p : model.parameters()) {
    parameters_.push_back(p);
    grads_.push_back(p.grad().defined() ? p.grad().clone() : at::Tensor());
  }
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  rng_state_ = generator.get_state();
}

ModelStateGuard::~ModelStateGuard() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < buffers_.size(); ++i) {
    buffers_[i].copy_(buffer_copies_[i]);
  }
  for (size_t i = 0; i < parameters_.size(); ++i) {
    parameters_[i].mutable_grad() = grads_[i];
  }
  model_.train(training_);
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(rng_state_);
}

}  // namespace ewgs::hessian
