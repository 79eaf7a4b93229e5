// Builders shared by the quantizer tests.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "ewgs/quant/interval_quantizer.h"

namespace ewgs::test {

/// An interval quantizer of `method` ("ste"/"ewgs") with interval [l, u].
inline std::shared_ptr<quant::IntervalQuantizerImpl> make_interval_quantizer(
    const std::string& method,
    quant::QuantTarget target,
    int64_t bits,
    double l,
    double u,
    double delta = 0.0) {
  auto q = std::make_shared<quant::IntervalQuantizerImpl>(
      quant::IntervalQuantizerOptions(method, target, bits)
          .delta(delta)
          .has_delta(method != "ste"));
  torch::NoGradGuard no_grad;
  q->lower.fill_(l);
  q->upper.fill_(u);
  return q;
}

}  // namespace ewgs::test
