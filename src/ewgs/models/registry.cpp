// The model registry, filled from models.def.
#include "ewgs/models/registry.h"

#include "ewgs/nn/quantized_layers.h"

namespace ewgs::models {

#define EWGS_MODEL(name, factory, description) ClassifierPtr factory(const ModelOptions& options);
#include "models.def"
#undef EWGS_MODEL

const Registry<ModelFactory>& model_registry() {
  static const Registry<ModelFactory> registry = [] {
    Registry<ModelFactory> r("model");
#define EWGS_MODEL(name, factory, description) r.add(name, description, factory);
#include "models.def"
#undef EWGS_MODEL
    return r;
  }();
  return registry;
}

ClassifierPtr make_model(const std::string& name, const ModelOptions& options) {
  TORCH_CHECK(
      options.num_classes >= 0 && options.in_channels > 0,
      "model '",
      name,
      "': num_classes must be >= 0 and in_channels > 0, got ",
      options.num_classes,
      " and ",
      options.in_channels);
  auto model = model_registry().get(name).factory(options);
  nn::name_quantizers(*model);
  return model;
}

}  // namespace ewgs::models
