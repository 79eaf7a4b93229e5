// Asymptotic-quantized estimator, AQE (Chen et al., IEEE J-STSP 2020; docs/methods/aqe.md): the
// mixed forward alpha h(a) + (1 - alpha) a, the paper's 2 alpha hard-tanh backward (Eq. 18-20).
#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <cmath>

#include "ewgs/core/spec.h"
#include "ewgs/quant/registry.h"

namespace ewgs::quant {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

/// TWN's threshold Delta = 0.7 E|a| of the ternary quantizer (Eq. 21, "Delta based on TWN").
constexpr double kTwnFactor = 0.7;
/// Momentum of the running E|a| that 2-bit activation quantizers use at inference.
constexpr double kAbsMeanMomentum = 0.1;

/// a_hat = alpha h + (1 - alpha) a forward (Eq. 6, 18), h the hard quantization of a
/// (no gradient). Backward dL/da = 2 alpha dL/da_hat 1_{|a| <= 1} (Eq. 18-19): the
/// expected gradient of the stochastic neuron (Theorem 1), which replaces autograd's
/// (1 - alpha) dL/da_hat of the mixed forward; alpha = 1/2 is the hard-tanh STE.
class AqeMixFn : public torch::autograd::Function<AqeMixFn> {
 public:
  static torch::Tensor forward(
      AutogradContext* ctx, const torch::Tensor& a, const torch::Tensor& h, double alpha) {
    ctx->save_for_backward({a.abs() <= 1.0});
    ctx->saved_data["alpha"] = alpha;
    return alpha * h + (1.0 - alpha) * a;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto inside = ctx->get_saved_variables()[0];
    const double alpha = ctx->saved_data["alpha"].toDouble();
    return {2.0 * alpha * grad_outputs[0] * inside, torch::Tensor(), torch::Tensor()};
  }
};

/// h(a) of n >= 3 bits (Eq. 22): the nearest of {0, +-2^-p : p = 0 .. q - 1},
/// q = 2^(n-1) - 1 (3 bits: {0, +-1/4, +-1/2, +-1}). Thresholds are the linear
/// midpoints between neighbouring levels (our choice; the paper gives none):
/// |a| <= 2^-q gives 0, |a| >= 3/4 2^-p gives at least 2^-p; above 1, 1.
torch::Tensor power_of_two(const torch::Tensor& a, int64_t bits) {
  const int64_t q = (int64_t{1} << (bits - 1)) - 1;
  const auto magnitude_in = a.abs();
  auto magnitude = torch::zeros_like(a);
  // From the smallest level up, so a larger level overwrites a smaller one.
  for (int64_t p = q - 1; p >= 0; --p) {
    const double level = std::ldexp(1.0, static_cast<int>(-p));
    const double threshold = p == q - 1 ? std::ldexp(1.0, static_cast<int>(-q)) : 0.75 * level;
    const auto reached = p == q - 1 ? magnitude_in > threshold : magnitude_in >= threshold;
    magnitude.masked_fill_(reached, level);
  }
  return torch::sign(a) * magnitude;
}

/// AQE's quantizer of one weight or activation tensor (docs/methods/aqe.md, Eqs. 18-22). Training:
/// a_hat = alpha h(a) + (1 - alpha) a with AqeMixFn's backward; inference (module not
/// training): a_hat = h(a) (Eq. 20). h by bit-width:
///   1 bit:   sign, sign(0) := +1, values {-1, +1}
///   2 bits:  0 if |a| <= Delta else sign(a), Delta = 0.7 E|a| (TWN, Eq. 21). Weights
///            take E|W| of the current weight; activations the batch's E|a| in training
///            and a running mean of it (buffer "abs_mean", momentum 0.1, set from the first
///            batch by initialize()) at inference, so a prediction does not depend on
///            the rest of its batch
///   n >= 3:  power_of_two() (Eq. 22)
///
/// The output stays on the scale of its input (both in [-1, 1]: activations come from
/// HardTanh, weights are clipped), and the paper has no output scale, so layers get
/// none: output_in_input_scale() is true.
///
/// Weights are clipped to [-1, 1] after every optimizer step (BinaryConnect-style latent
/// weights, Algorithm 1): the weight quantizer keeps a handle of the trainable weight
/// it last quantized and clamps it in place in after_optimizer_step().
class AqeQuantizerImpl : public QuantizerImpl {
 public:
  AqeQuantizerImpl(QuantTarget target, int64_t bits, double alpha)
      : QuantizerImpl("aqe", target, bits), alpha_(alpha) {
    if (target == QuantTarget::kActivation && bits == 2) {
      abs_mean = register_buffer("abs_mean", torch::full({}, 0.5));  // E|a| of U[-1, 1]
    }
  }

  /// 2-bit activations: abs_mean = E|x| of the first batch. Nothing else to set.
  void initialize(const torch::Tensor& x) override {
    if (abs_mean.defined()) {
      torch::NoGradGuard no_grad;
      abs_mean.fill_(x.abs().mean().item<double>());
    }
  }

  std::vector<std::pair<std::string, double>> scalars() const override {
    if (abs_mean.defined()) {
      return {{"abs_mean", abs_mean.item<double>()}};
    }
    return {};
  }

  std::string spec() const override {
    return "aqe:bits=" + std::to_string(bits()) + ",alpha=" + c10::str(alpha_);
  }

  bool output_in_input_scale() const override { return true; }

  /// Clamps the weight last quantized in training to [-1, 1] (Algorithm 1).
  void after_optimizer_step() override {
    if (latent_weight_.defined()) {
      torch::NoGradGuard no_grad;
      latent_weight_.clamp_(-1.0, 1.0);
    }
  }

  torch::Tensor abs_mean;  ///< running E|a| (2-bit activation quantizers only)

  /// Inference h(a) of 1 bit (code [a >= 0], value 2 code - 1) and 2 bits (code 0 below
  /// -Delta, 2 above Delta, else 1; value code - 1). Power-of-two levels are no uniform grid.
  ActivationGrid activation_grid() const override {
    check_uniform();
    ActivationGrid grid;
    grid.kind = ActivationGrid::Kind::kThresholds;
    if (bits() == 1) {
      grid.values = {2, 1.0, 2, 1, 0.0};
      grid.thresholds = {0.0};
      grid.inclusive = {true};
      return grid;
    }
    const double delta = kTwnFactor * abs_mean.item<double>();
    grid.values = {3, 1.0, 1, 1, 0.0};
    grid.thresholds = {-delta, delta};
    grid.inclusive = {true, false};
    return grid;
  }

 protected:
  /// 1 bit: 2 code - 1; 2 bits: code - 1.
  GridValues weight_values(const torch::Tensor& /*weight*/) const override {
    check_uniform();
    return bits() == 1 ? GridValues{2, 1.0, 2, 1, 0.0} : GridValues{3, 1.0, 1, 1, 0.0};
  }

  torch::Tensor quantize(const torch::Tensor& x) override {
    check_finite_input(x);
    if (target() == QuantTarget::kWeight && x.is_leaf() && x.requires_grad()) {
      latent_weight_ = x;
    }
    torch::Tensor h;
    {
      torch::NoGradGuard no_grad;
      h = hard(x);
    }
    if (!is_training()) {
      return h;
    }
    return AqeMixFn::apply(x, h, alpha_);
  }

 private:
  void check_uniform() const {
    TORCH_CHECK(
        bits() <= 2,
        describe(),
        " cannot be exported at ",
        bits(),
        " bits: its power-of-two levels (Eq. 22) are not a uniform integer grid");
  }

  /// h(a) (Eq. 21-22); updates the running E|a| of 2-bit activations in training.
  torch::Tensor hard(const torch::Tensor& a) {
    if (bits() == 1) {
      return torch::ones_like(a).masked_fill_(a < 0, -1.0);
    }
    if (bits() >= 3) {
      return power_of_two(a, bits());
    }
    torch::Tensor e_abs = a.abs().mean();
    if (abs_mean.defined()) {
      if (is_training()) {
        abs_mean.mul_(1.0 - kAbsMeanMomentum).add_(e_abs, kAbsMeanMomentum);
      } else {
        e_abs = abs_mean;
      }
    }
    return torch::sign(a) * (a.abs() > kTwnFactor * e_abs);
  }

  double alpha_;
  /// The trainable weight this quantizer last saw (shares its storage).
  torch::Tensor latent_weight_;
};

}  // namespace

/// "aqe:bits=B,alpha=A": B in 1..8 (default 4), alpha in (0, 1] the mixing weight of
/// Eq. 6 (default 1/2, the value of the paper's theory and conclusion).
QuantizerPtr make_aqe(const Spec& spec, QuantTarget target) {
  const int64_t bits = spec.get_int("bits", kDefaultBits);
  const double alpha = spec.get_double("alpha", 0.5);
  TORCH_CHECK(
      target != QuantTarget::kGradient,
      "aqe quantizes weights and activations; it cannot be a gradient quantizer");
  TORCH_CHECK(
      alpha > 0.0 && alpha <= 1.0,
      "aqe ",
      to_string(target),
      " quantizer: alpha must be in (0, 1], got ",
      alpha);
  return std::make_shared<AqeQuantizerImpl>(target, bits, alpha);
}

}  // namespace ewgs::quant
