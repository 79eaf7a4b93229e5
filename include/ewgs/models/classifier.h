// The interface every model implements: an image classifier module whose
// forward maps (N, C, H, W) images to (N, classes) logits.
#pragma once

#include <torch/nn/module.h>

#include <memory>

namespace ewgs::models {

/// Base of all models. Parameters are registered with the names the
/// reference implementations use, so PyTorch state dicts load by name.
class ClassifierImpl : public torch::nn::Module {
 public:
  /// Logits (N, num_classes) for images (N, C, H, W).
  virtual torch::Tensor forward(const torch::Tensor& images) = 0;
};

using ClassifierPtr = std::shared_ptr<ClassifierImpl>;

} // namespace ewgs::models
