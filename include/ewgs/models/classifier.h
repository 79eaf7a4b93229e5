// The interface every model implements: an image classifier module whose
// forward maps (N, C, H, W) images to (N, classes) logits by running its layer graph.
#pragma once

#include <torch/nn/module.h>

#include <memory>

#include "ewgs/models/layer_graph.h"

namespace ewgs::models {

/// Base of all models. Parameters are registered with the names the
/// reference implementations use, so PyTorch state dicts load by name. A
/// model's constructor registers its modules and describes how they connect
/// in `graph_`; forward() runs that graph, and export reads it.
class ClassifierImpl : public torch::nn::Module {
 public:
  /// Logits (N, num_classes) for images (N, C, H, W).
  torch::Tensor forward(const torch::Tensor& images) { return run_layer_graph(graph_, images); }

  /// The operations of forward(), in order.
  const LayerGraph& layer_graph() const { return graph_; }

 protected:
  LayerGraph graph_;
};

using ClassifierPtr = std::shared_ptr<ClassifierImpl>;

}  // namespace ewgs::models
