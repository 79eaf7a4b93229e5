// PACT (Choi et al. 2018): activations clipped to a learnable level α, then quantized
// uniformly on [0, α]; STE gradients for x and α plus an L2 penalty on α.
#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <cmath>

#include "ewgs/core/spec.h"
#include "ewgs/quant/registry.h"

namespace ewgs::quant {
namespace {

/// y = clip(x, 0, α), y_q = round(y (2^b - 1) / α) α / (2^b - 1) forward;
/// STE backward: ∂y_q/∂x = 1 for 0 <= x < α else 0, ∂y_q/∂α = 1 for x >= α else 0.
class PactFn : public torch::autograd::Function<PactFn> {
 public:
  static torch::Tensor forward(
      torch::autograd::AutogradContext* ctx,
      const torch::Tensor& x,
      const torch::Tensor& alpha,
      int64_t steps) {
    ctx->save_for_backward({x, alpha});
    const auto y = torch::min(torch::clamp_min(x, 0.0), alpha);
    const auto levels = static_cast<double>(steps);
    return torch::round(y * levels / alpha) * alpha / levels;
  }

  static torch::autograd::tensor_list backward(
      torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& alpha = saved[1];
    const auto& g = grad_outputs[0];
    const auto clipped = x >= alpha;
    const auto grad_x = g * ((x >= 0.0) & ~clipped).to(g.scalar_type());
    const auto grad_alpha = (g * clipped.to(g.scalar_type())).sum();
    return {grad_x, grad_alpha, torch::Tensor()};
  }
};

/// PACT's activation quantizer with the learnable clipping level α
/// (parameter "alpha") and the penalty decay α^2 (regularizer()).
class PactImpl : public QuantizerImpl {
 public:
  PactImpl(int64_t bits, double alpha_init, double decay)
      : QuantizerImpl("pact", QuantTarget::kActivation, bits),
        alpha_init_(alpha_init),
        decay_(decay) {
    TORCH_CHECK(
        std::isfinite(alpha_init) && alpha_init > 0.0,
        describe(),
        ": alpha_init must be finite and > 0, got ",
        alpha_init);
    TORCH_CHECK(
        std::isfinite(decay) && decay >= 0.0,
        describe(),
        ": decay must be finite and >= 0, got ",
        decay);
    alpha = register_parameter("alpha", torch::full({}, alpha_init));
  }

  /// α = alpha_init whatever the batch: PACT starts from a large fixed
  /// level (10 in the paper) and lets training shrink it.
  void initialize(const torch::Tensor& /*x*/) override {
    torch::NoGradGuard no_grad;
    alpha.fill_(alpha_init_);
  }

  std::vector<std::pair<std::string, double>> scalars() const override {
    return {{"alpha", alpha.item<double>()}};
  }

  std::string spec() const override {
    return "pact:alpha_init=" + c10::str(alpha_init_) + ",bits=" + std::to_string(bits()) +
           ",decay=" + c10::str(decay_);
  }

  bool output_in_input_scale() const override { return true; }

  /// λ_α α^2 (PACT Sec. 3); undefined when decay is 0.
  torch::Tensor regularizer() const override {
    return decay_ > 0.0 ? decay_ * alpha.square() : torch::Tensor();
  }

  /// code = round(clip(x, 0, alpha) s / alpha), value code alpha / s.
  ActivationGrid activation_grid() const override {
    const double a = alpha.item<double>();
    TORCH_CHECK(std::isfinite(a) && a > 0.0, describe(), ": cannot export alpha = ", a);
    const auto steps = static_cast<double>((int64_t{1} << bits()) - 1);
    ActivationGrid grid;
    grid.values = {(int64_t{1} << bits()), a / steps, 1, 0, 0.0};
    grid.in_scale = steps / a;
    return grid;
  }

  torch::Tensor alpha;

 protected:
  torch::Tensor quantize(const torch::Tensor& x) override {
    check_finite_input(x);
    const double a = alpha.item<double>();
    TORCH_CHECK(std::isfinite(a) && a > 0.0, describe(), ": alpha must be finite and > 0, got ", a);
    return PactFn::apply(x, alpha, (int64_t{1} << bits()) - 1);
  }

 private:
  double alpha_init_;
  double decay_;
};

}  // namespace

/// "pact:bits=B,alpha_init=A,decay=L" (activations only; B in 1..8, default
/// 4; A > 0, default 10 as in the paper; L >= 0, default 1e-4).
QuantizerPtr make_pact(const Spec& spec, QuantTarget target) {
  const int64_t bits = spec.get_int("bits", kDefaultBits);
  const double alpha_init = spec.get_double("alpha_init", 10.0);
  const double decay = spec.get_double("decay", 1e-4);
  TORCH_CHECK(
      target == QuantTarget::kActivation,
      "pact ",
      to_string(target),
      " quantizer: PACT quantizes activations only, not ",
      to_string(target),
      "s; PACT quantizes weights with DoReFa, e.g. dorefa:bits=",
      bits);
  return std::make_shared<PactImpl>(bits, alpha_init, decay);
}

}  // namespace ewgs::quant
