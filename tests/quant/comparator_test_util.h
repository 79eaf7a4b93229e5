// Helpers of the comparator quantizer tests (LSQ, LSQ+, PACT, DoReFa): building from spec
// text and reading or setting a quantizer's named scalar parameters.
#pragma once

#include <torch/torch.h>

#include <string>

#include "ewgs/quant/registry.h"

namespace ewgs::test {

/// The quantizer of `spec_text` for `target`; never null.
inline quant::QuantizerPtr make(const std::string& spec_text, quant::QuantTarget target) {
  auto q = quant::make_quantizer(spec_text, target);
  TORCH_CHECK(q, "spec '", spec_text, "' built no quantizer");
  return q;
}

/// The registered parameter `name` of `q` (shares storage with it).
inline torch::Tensor param(const quant::QuantizerImpl& q, const std::string& name) {
  const auto params = q.named_parameters(false);
  TORCH_CHECK(params.contains(name), q.describe(), " has no parameter '", name, "'");
  return params[name];
}

/// Sets the scalar parameter `name` of `q` to `value`.
inline void set_param(const quant::QuantizerImpl& q, const std::string& name, double value) {
  torch::NoGradGuard no_grad;
  param(q, name).fill_(value);
}

/// The gradient of the scalar parameter `name` of `q`, as a double.
inline double param_grad(const quant::QuantizerImpl& q, const std::string& name) {
  return param(q, name).grad().item<double>();
}

}  // namespace ewgs::test
