// Model vs quantizer parameter split (include/ewgs/nn/parameter_groups.h).
#include "ewgs/nn/parameter_groups.h"

#include <c10/util/Exception.h>

#include <unordered_set>

#include "ewgs/nn/quantized_layer.h"

namespace ewgs::nn {

ParameterGroups split_parameters(const torch::nn::Module& module) {
  ParameterGroups groups;
  std::unordered_set<const void*> quantizer_storage;
  for (const auto& child : module.modules(/*include_self=*/true)) {
    if (const auto* layer = dynamic_cast<const QuantizedLayer*>(child.get())) {
      for (const auto& p : layer->quantizer_parameters()) {
        quantizer_storage.insert(p.unsafeGetTensorImpl());
      }
    }
  }
  for (const auto& p : module.parameters(/*recurse=*/true)) {
    if (quantizer_storage.count(p.unsafeGetTensorImpl()) != 0) {
      groups.quantizer.push_back(p);
    } else {
      groups.model.push_back(p);
    }
  }
  TORCH_INTERNAL_ASSERT(
      groups.model.size() + groups.quantizer.size() == module.parameters().size());
  return groups;
}

}  // namespace ewgs::nn
