// Straight-through estimator (Bengio et al., 2013) on the paper's learnable-interval
// quantizer: forward rounds, backward treats rounding as the identity.
#include <torch/torch.h>

#include "ewgs/core/spec.h"
#include "ewgs/quant/interval_quantizer.h"
#include "ewgs/quant/registry.h"
#include "ewgs/quant/rounding.h"

namespace ewgs::quant {
namespace {

/// round(steps * x) / steps forward; d x_q / d x_n := 1 backward.
class SteRoundFn : public torch::autograd::Function<SteRoundFn> {
 public:
  static torch::Tensor forward(
      torch::autograd::AutogradContext* /*ctx*/, const torch::Tensor& x_n, int64_t steps) {
    return torch::round(x_n * static_cast<double>(steps)) / static_cast<double>(steps);
  }

  static torch::autograd::tensor_list backward(
      torch::autograd::AutogradContext* /*ctx*/, torch::autograd::tensor_list grad_outputs) {
    return {grad_outputs[0], torch::Tensor()};
  }
};

}  // namespace

at::Tensor ste_round(const at::Tensor& x_n, int64_t steps) {
  return SteRoundFn::apply(x_n, steps);
}

/// "ste:bits=B" (B in 1..8, default 4).
QuantizerPtr make_ste(const Spec& spec, QuantTarget target) {
  const int64_t bits = spec.get_int("bits", kDefaultBits);
  return std::make_shared<IntervalQuantizerImpl>(
      IntervalQuantizerOptions("ste", target, bits).has_delta(false));
}

}  // namespace ewgs::quant
