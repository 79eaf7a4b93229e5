// Element-wise gradient scaling (Lee, Kim, Ham, CVPR 2021): the rounding backward
// g_n = g_q (1 + delta sign(g_q) (x_n - x_q)), Eq. 4, on the learnable-interval quantizer.
#include <torch/torch.h>

#include "ewgs/core/spec.h"
#include "ewgs/quant/interval_quantizer.h"
#include "ewgs/quant/registry.h"
#include "ewgs/quant/rounding.h"

namespace ewgs::quant {
namespace {

/// round(steps * x_n) / steps forward; EWGS backward (Eq. 4). The rounding
/// error e = x_n - x_q is saved without history, so the backward is linear in
/// g_q with a constant scale and can itself be differentiated (Hessian, Eq. 10).
class EwgsRoundFn : public torch::autograd::Function<EwgsRoundFn> {
 public:
  static torch::Tensor forward(
      torch::autograd::AutogradContext* ctx,
      const torch::Tensor& x_n,
      int64_t steps,
      const torch::Tensor& delta) {
    const auto x_q = torch::round(x_n * static_cast<double>(steps)) / static_cast<double>(steps);
    ctx->save_for_backward({x_n - x_q, delta});
    return x_q;
  }

  static torch::autograd::tensor_list backward(
      torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& error = saved[0];
    const auto& delta = saved[1];
    const auto& g_q = grad_outputs[0];
    auto g_n = g_q * (1.0 + delta * torch::sign(g_q) * error);
    return {g_n, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

at::Tensor ewgs_round(const at::Tensor& x_n, int64_t steps, const at::Tensor& delta) {
  return EwgsRoundFn::apply(x_n, steps, delta);
}

/// "ewgs:bits=B,delta=D" (B in 1..8, default 4; D >= 0, default 0, which the
/// Hessian estimator or a fixed value replaces).
QuantizerPtr make_ewgs(const Spec& spec, QuantTarget target) {
  const int64_t bits = spec.get_int("bits", kDefaultBits);
  const double delta = spec.get_double("delta", 0.0);
  return std::make_shared<IntervalQuantizerImpl>(
      IntervalQuantizerOptions("ewgs", target, bits).delta(delta));
}

}  // namespace ewgs::quant
