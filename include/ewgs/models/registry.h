// Looks models up by name ("resnet20", "resnet18", ...); each model is one line
// in models.def.
#pragma once

#include <functional>
#include <string>

#include "ewgs/core/registry.h"
#include "ewgs/models/classifier.h"
#include "ewgs/models/quant_spec.h"

namespace ewgs::models {

/// What every model factory takes.
struct ModelOptions {
  /// Classes of the classifier; the model's own default when 0.
  int64_t num_classes = 0;
  /// Image channels (1 for Fashion-MNIST, 3 for CIFAR/ImageNet).
  int64_t in_channels = 3;
  QuantSpec quant;
};

using ModelFactory = std::function<ClassifierPtr(const ModelOptions&)>;

/// The registry of all models.
const Registry<ModelFactory>& model_registry();

/// Builds model `name`.
///
/// Example:
///   auto net = make_model("resnet20", {10, 3, QuantSpec{"ewgs:bits=1", "ewgs:bits=1"}});
ClassifierPtr make_model(const std::string& name, const ModelOptions& options);

}  // namespace ewgs::models
