// Distance-aware quantization, DAQ (Kim, Lee, Ham, ICCV 2021; docs/methods/daq.md): hard
// rounding forward, closed-form gradient of the distance-aware soft rounding (Eqs. 10-11).
#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <cmath>

#include "ewgs/core/spec.h"
#include "ewgs/quant/registry.h"

namespace ewgs::quant {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

/// dy/dr of DAQ's soft rounding at the fractional part r = z - floor(z) in [0, 1)
/// (docs/methods/daq.md, Backward; derived from Eqs. 10-11 with the temperature held constant):
///   m_j = exp(-|r - j|), j in {0, 1};  j* = 1 if r > 0.5 else 0 (ties to the floor)
///   s_j = m_j exp(-(j - j*)^2 / sigma^2)
///   dy/dr = K (s_0 + s_1) / |s_0 - s_1|,  K = gamma / (2 sinh gamma).
/// At r = 0 the official code's |.| subgradient sign(0) := +1 gives dm_0/dr = -m_0,
/// so the same expression holds there (0.36 for sigma = 1, 0.50 for sigma = 2).
/// |s_0 - s_1| >= e^-0.5 (1 - e^(-1/sigma^2)) > 0, so the ratio is finite.
torch::Tensor daq_slope(const torch::Tensor& r, double gamma, double sigma) {
  const double far_kernel = std::exp(-1.0 / (sigma * sigma));
  const double k = gamma / (2.0 * std::sinh(gamma));
  const auto ceil_nearest = r > 0.5;
  const auto s_0 = torch::exp(-r) * torch::where(ceil_nearest, far_kernel, 1.0);
  const auto s_1 = torch::exp(r - 1.0) * torch::where(ceil_nearest, 1.0, far_kernel);
  return k * (s_0 + s_1) / (s_0 - s_1).abs();
}

/// y = floor(z) + [r > 0.5] forward: round(z) with ties to the floor level, as the
/// soft rounding's arg-max and the code's test-time floor + round(frac) do. Backward:
/// dL/dz = dL/dy * daq_slope(r). The soft output y(r) = f - c p_0 + (1 + c) p_1,
/// p = softmax(tau s), tau = gamma / |s_0 - s_1| detached, c = 1 / (e^gamma - 1), equals
/// this forward up to float error and has exactly this derivative. The backward is
/// not itself differentiable (no second-order use: DAQ has no Hessian-driven scale).
class DaqRoundFn : public torch::autograd::Function<DaqRoundFn> {
 public:
  static torch::Tensor forward(
      AutogradContext* ctx, const torch::Tensor& z, double gamma, double sigma) {
    const auto floor = torch::floor(z);
    const auto r = z - floor;
    ctx->save_for_backward({r});
    ctx->saved_data["gamma"] = gamma;
    ctx->saved_data["sigma"] = sigma;
    return floor + (r > 0.5).to(z.scalar_type());
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto r = ctx->get_saved_variables()[0];
    const auto slope =
        daq_slope(r, ctx->saved_data["gamma"].toDouble(), ctx->saved_data["sigma"].toDouble());
    return {grad_outputs[0] * slope, torch::Tensor(), torch::Tensor()};
  }
};

/// DAQ's quantizer of one weight or activation tensor (docs/methods/daq.md, Forward):
///   weights:     x = (w - mean(w)) / std(w), statistics detached; learnable [l_W, u_W]
///   activations: x as given; l_A = 0 fixed, learnable u_A
///   Delta = (u - l) / N_L,  z = clamp((x - l) / Delta, 0, N_L),  N_L = 2^b - 1
///   y = DaqRoundFn(z);  Q_W = (2 y - N_L) / N_L in [-1, 1],  Q_A = y / N_L in [0, 1].
/// Autograd through the clamp gives dz/dx = 1 / Delta, dz/du = -z / (u - l),
/// dz/dl = (z - N_L) / (u - l) inside [0, N_L] (ends included), zero outside.
///
/// The layer's output scale |alpha| plays DAQ's beta_s. It is initialized as the
/// official W1A1 code does, E|op(x, w)| / E|op(Q_A, Q_W)| before the first batch's
/// output; the W1A32 code sets it after that output, so its first batch uses 0.2.
class DaqQuantizerImpl : public QuantizerImpl {
 public:
  DaqQuantizerImpl(QuantTarget target, int64_t bits, double gamma, double sigma)
      : QuantizerImpl("daq", target, bits), gamma_(gamma), sigma_(sigma) {
    // Weights start at their final init (standardized units); activations at a
    // placeholder u > 0 until initialize().
    if (target == QuantTarget::kWeight) {
      lower = register_parameter("lower", torch::full({}, -kWeightRange));
    }
    upper = register_parameter(
        "upper", torch::full({}, target == QuantTarget::kWeight ? kWeightRange : 1.0));
  }

  /// Weights: l_W = -3, u_W = +3 (standard deviations of the standardized weights).
  /// Activations: u_A = 3 std(x) of the first batch, without EWGS's half-normal factor.
  void initialize(const torch::Tensor& x) override {
    torch::NoGradGuard no_grad;
    if (target() == QuantTarget::kWeight) {
      lower.fill_(-kWeightRange);
      upper.fill_(kWeightRange);
      return;
    }
    const double std_x = x.numel() >= 2 ? x.std().item<double>() : 0.0;
    TORCH_CHECK(
        std::isfinite(std_x) && std_x > 0.0,
        describe(),
        ": cannot initialize u_A = 3 std(x) from a tensor of ",
        x.numel(),
        " elements with std ",
        std_x,
        "; expected at least 2 finite, non-constant values");
    upper.fill_(3.0 * std_x);
  }

  std::vector<std::pair<std::string, double>> scalars() const override {
    if (lower.defined()) {
      return {{"l", lower.item<double>()}, {"u", upper.item<double>()}};
    }
    return {{"u", upper.item<double>()}};
  }

  std::string spec() const override {
    return "daq:bits=" + std::to_string(bits()) + ",gamma=" + c10::str(gamma_) +
           ",sigma=" + c10::str(sigma_);
  }

  torch::Tensor lower;  ///< l_W (weights only; l_A = 0 is no parameter)
  torch::Tensor upper;  ///< u_W or u_A

  /// Activations: code = floor(z) + [frac(z) > 1/2] of z = clamp(x N / u_A, 0, N), value code / N.
  ActivationGrid activation_grid() const override {
    const double u = upper.item<double>();
    TORCH_CHECK(std::isfinite(u) && u > 0.0, describe(), ": cannot export u_A = ", u);
    const int64_t steps = (int64_t{1} << bits()) - 1;
    ActivationGrid grid;
    grid.values = {steps + 1, 1.0 / static_cast<double>(steps), 1, 0, 0.0};
    grid.in_scale = static_cast<double>(steps) / u;
    grid.half_down = true;
    return grid;
  }

 protected:
  /// Weights (2 y - N) / N.
  GridValues weight_values(const torch::Tensor& /*weight*/) const override {
    const int64_t steps = (int64_t{1} << bits()) - 1;
    return {steps + 1, 1.0 / static_cast<double>(steps), 2, steps, 0.0};
  }

  torch::Tensor quantize(const torch::Tensor& x) override {
    check_finite_input(x);
    const double l = lower.defined() ? lower.item<double>() : 0.0;
    const double u = upper.item<double>();
    TORCH_CHECK(
        std::isfinite(l) && std::isfinite(u) && u > l,
        describe(),
        ": the interval needs l < u, got l=",
        l,
        " u=",
        u);
    const double steps = static_cast<double>((int64_t{1} << bits()) - 1);
    const auto normalized = lower.defined() ? standardize(x) - lower : x;
    const auto delta = (lower.defined() ? upper - lower : upper) / steps;
    const auto y = DaqRoundFn::apply(torch::clamp(normalized / delta, 0.0, steps), gamma_, sigma_);
    if (capturing()) {
      const auto x_q = record_discrete(y / steps);
      return target() == QuantTarget::kWeight ? 2.0 * x_q - 1.0 : x_q;
    }
    if (target() == QuantTarget::kWeight) {
      return (2.0 * y - steps) / steps;
    }
    return y / steps;
  }

 private:
  static constexpr double kWeightRange = 3.0;

  /// (w - mean(w)) / std(w) with the statistics detached (docs/methods/daq.md, Forward and
  /// "Official code vs paper", item 5).
  torch::Tensor standardize(const torch::Tensor& w) const {
    torch::Tensor mean;
    torch::Tensor std;
    {
      torch::NoGradGuard no_grad;
      mean = w.mean();
      std = w.std();
    }
    const double std_w = w.numel() >= 2 ? std.item<double>() : 0.0;
    TORCH_CHECK(
        std_w > 0.0,
        describe(),
        ": cannot standardize a weight of ",
        w.numel(),
        " elements with std ",
        std_w,
        "; expected at least 2 non-constant values");
    return (w - mean) / std;
  }

  double gamma_;
  double sigma_;
};

}  // namespace

/// "daq:bits=B,gamma=G,sigma=S": B in 1..8 (default 4); gamma > 0, the temperature
/// constant (default 2); sigma > 0, the kernel's std (default 1 for weights, 2 for
/// activations), both the paper's grid-searched CIFAR-10 values.
QuantizerPtr make_daq(const Spec& spec, QuantTarget target) {
  const int64_t bits = spec.get_int("bits", kDefaultBits);
  const double gamma = spec.get_double("gamma", 2.0);
  const double sigma = spec.get_double("sigma", target == QuantTarget::kWeight ? 1.0 : 2.0);
  TORCH_CHECK(
      target != QuantTarget::kGradient,
      "daq quantizes weights and activations; it cannot be a gradient quantizer");
  TORCH_CHECK(
      std::isfinite(gamma) && gamma > 0.0,
      "daq ",
      to_string(target),
      " quantizer: gamma must be finite and > 0, got ",
      gamma);
  TORCH_CHECK(
      std::isfinite(sigma) && sigma > 0.0,
      "daq ",
      to_string(target),
      " quantizer: sigma must be finite and > 0, got ",
      sigma);
  return std::make_shared<DaqQuantizerImpl>(target, bits, gamma, sigma);
}

}  // namespace ewgs::quant
