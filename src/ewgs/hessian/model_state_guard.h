// Restores a module's buffers, gradients, training flag and the global CPU RNG
// when it goes out of scope, so an estimate leaves the model exactly as found.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <vector>

namespace ewgs::hessian {

class ModelStateGuard {
 public:
  explicit ModelStateGuard(torch::nn::Module& model);
  ~ModelStateGuard();
  ModelStateGuard(const ModelStateGuard&) = delete;
  ModelStateGuard& operator=(const ModelStateGuard&) = delete;

 private:
  torch::nn::Module& model_;
  bool training_;
  std::vector<at::Tensor> buffers_;
  std::vector<at::Tensor> buffer_copies_;
  std::vector<at::Tensor> parameters_;
  std::vector<at::Tensor> grads_;
  at::Tensor rng_state_;
};

}  // namespace ewgs::hessian
