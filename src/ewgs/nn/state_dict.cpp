// Name-based state loading (include/ewgs/nn/state_dict.h).
#include "ewgs/nn/state_dict.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <map>

#include "ewgs/core/strings.h"

namespace ewgs::nn {

NamedTensors module_state(const torch::nn::Module& module) {
  NamedTensors out;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) {
    out.emplace_back(p.key(), p.value());
  }
  for (const auto& b : module.named_buffers(/*recurse=*/true)) {
    out.emplace_back(b.key(), b.value());
  }
  return out;
}

std::string first_non_finite(const NamedTensors& state) {
  for (const auto& [name, tensor] : state) {
    if (tensor.is_floating_point() && !torch::isfinite(tensor).all().item<bool>()) {
      return name;
    }
  }
  return "";
}

StateDictLoadReport load_state(
    torch::nn::Module& module, const NamedTensors& state, bool strict, const std::string& source) {
  std::map<std::string, torch::Tensor> targets;
  for (const auto& [name, tensor] : module_state(module)) {
    targets[name] = tensor;
  }
  StateDictLoadReport report;
  std::vector<std::string> shape_errors;
  std::map<std::string, bool> seen;
  for (const auto& [name, value] : state) {
    auto it = targets.find(name);
    if (it == targets.end()) {
      report.unexpected.push_back(name);
      continue;
    }
    seen[name] = true;
    if (it->second.sizes() != value.sizes()) {
      shape_errors.push_back(
          name + ": model has " + c10::str(it->second.sizes()) + ", " + source + " has " +
          c10::str(value.sizes()));
      continue;
    }
    TORCH_CHECK(
        first_non_finite({{name, value}}).empty(),
        "cannot load ",
        source,
        ": '",
        name,
        "' has non-finite values (NaN or Inf)");
    report.loaded.push_back(name);
  }
  for (const auto& [name, tensor] : module_state(module)) {
    if (seen.count(name) == 0) {
      report.missing.push_back(name);
    }
  }
  TORCH_CHECK(
      shape_errors.empty(), "cannot load ", source, ": shapes differ: ", join(shape_errors, "; "));
  TORCH_CHECK(
      !strict || (report.missing.empty() && report.unexpected.empty()),
      "cannot load ",
      source,
      ": ",
      report.missing.empty() ? std::string()
                             : "missing in " + source + ": " + join(report.missing, ", "),
      !report.missing.empty() && !report.unexpected.empty() ? "; " : "",
      report.unexpected.empty() ? std::string()
                                : "not in the model: " + join(report.unexpected, ", "));
  torch::NoGradGuard no_grad;
  for (const auto& [name, value] : state) {
    auto it = targets.find(name);
    if (it != targets.end()) {
      it->second.copy_(value.to(it->second.device(), it->second.scalar_type()));
    }
  }
  return report;
}

}  // namespace ewgs::nn
