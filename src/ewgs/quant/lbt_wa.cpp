// LBT's weight and activation quantizers for fixed-point training (Kim et al., ECCV 2024; the
// official `DSQConv_a`; docs/methods/lbt.md, W and A): 2^b - 1 symmetric levels on [-s, s] for
// weights, 2^b levels on [0, u] for activations, one learnable bound each, STE rounding, output
// on x's scale.
#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <cmath>

#include "ewgs/core/half_normal.h"
#include "ewgs/core/spec.h"
#include "ewgs/quant/registry.h"
#include "ewgs/quant/rounding.h"
#include "lbt.h"

namespace ewgs::quant {
namespace {

/// The unsigned activation bound spans 3 s of the Gaussian whose half-normal the inputs are.
using detail::kHalfNormalStdFactor;

/// The quantizers W and A of docs/methods/lbt.md with the learnable bound u (parameter
/// "upper"; the paper's s_W for weights, u_A for activations):
///   symmetric: t = clamp((x / u + 1) / 2, 0, 1),
///              t_q = round((2^b - 2) t) / (2^b - 2),  Q = (2 t_q - 1) u
///   unsigned:  t = clamp(x / u, 0, 1),
///              t_q = round((2^b - 1) t) / (2^b - 1),  Q = t_q u
/// with the STE for round; x and u get their gradients through the clamp
/// (boundaries included) and the products. Weights are symmetric (2^b - 1
/// levels, zero included: a signed b-bit integer grid); activations are
/// unsigned unless their first batch has negative values (the code's
/// MobileNet variant), decided once in initialize() (buffer "symmetric").
/// u must stay > 0, so the code's |s_W| equals s_W. The output approximates
/// x: layers need no output scale, as LBT has none.
class LbtWaImpl : public QuantizerImpl {
 public:
  LbtWaImpl(QuantTarget target, int64_t bits) : QuantizerImpl("lbt_wa", target, bits) {
    upper = register_parameter("upper", torch::ones({}));
    symmetric = register_buffer(
        "symmetric", torch::full({}, target == QuantTarget::kWeight ? 1 : 0, torch::kUInt8));
  }

  /// Weights: u = 3 std(w). Activations: symmetric with u = 3 std(x) when
  /// min(x) < 0, else unsigned with u = 3 std(x) / sqrt(1 - 2/pi)
  /// (docs/methods/lbt.md, W and A).
  void initialize(const torch::Tensor& x) override {
    torch::NoGradGuard no_grad;
    TORCH_CHECK(
        x.numel() >= 2, describe(), ": initialization needs at least 2 elements, got ", x.numel());
    const double std_x = x.std().item<double>();
    TORCH_CHECK(
        std::isfinite(std_x) && std_x > 0.0,
        describe(),
        ": cannot initialize the bound from a tensor with std ",
        std_x,
        " (constant or non-finite values)");
    const bool is_symmetric = target() == QuantTarget::kWeight || x.min().item<double>() < 0.0;
    symmetric.fill_(is_symmetric ? 1 : 0);
    upper.fill_(is_symmetric ? 3.0 * std_x : 3.0 * std_x / kHalfNormalStdFactor);
  }

  std::vector<std::pair<std::string, double>> scalars() const override {
    return {{"u", upper.item<double>()}, {"symmetric", symmetric.item<double>()}};
  }

  std::string spec() const override { return "lbt_wa:bits=" + std::to_string(bits()); }

  bool output_in_input_scale() const override { return true; }

  torch::Tensor upper;
  torch::Tensor symmetric;

  /// Unsigned: code = round((2^b - 1) clamp(x / u, 0, 1)), value u code / (2^b - 1).
  /// Symmetric: code = round((2^b - 2) clamp((x / u + 1) / 2, 0, 1)),
  /// value u (2 code - (2^b - 2)) / (2^b - 2).
  ActivationGrid activation_grid() const override {
    const double u = upper.item<double>();
    TORCH_CHECK(std::isfinite(u) && u > 0.0, describe(), ": cannot export the bound u = ", u);
    ActivationGrid grid;
    const int64_t levels = int64_t{1} << bits();
    if (symmetric.item<uint8_t>() != 0) {
      grid.values = symmetric_values(u);
      grid.in_scale = static_cast<double>(levels - 2) / (2.0 * u);
      grid.in_shift = static_cast<double>(levels - 2) / 2.0;
    } else {
      grid.values = {levels, u / static_cast<double>(levels - 1), 1, 0, 0.0};
      grid.in_scale = static_cast<double>(levels - 1) / u;
    }
    return grid;
  }

 private:
  /// 2^b - 1 levels on [-u, u]: value u (2 code - (2^b - 2)) / (2^b - 2).
  GridValues symmetric_values(double u) const {
    const int64_t steps = (int64_t{1} << bits()) - 2;
    return {steps + 1, u / static_cast<double>(steps), 2, steps, 0.0};
  }

 protected:
  GridValues weight_values(const torch::Tensor& /*weight*/) const override {
    return symmetric_values(upper.item<double>());
  }

  torch::Tensor quantize(const torch::Tensor& x) override {
    check_finite_input(x);
    const double u = upper.item<double>();
    TORCH_CHECK(
        std::isfinite(u) && u > 0.0, describe(), ": the bound u must be finite and > 0, got ", u);
    const int64_t levels = int64_t{1} << bits();
    if (symmetric.item<uint8_t>() != 0) {
      const auto t_q =
          record_discrete(ste_round(torch::clamp((x / upper + 1.0) * 0.5, 0.0, 1.0), levels - 2));
      return (2.0 * t_q - 1.0) * upper;
    }
    const auto t_q = record_discrete(ste_round(torch::clamp(x / upper, 0.0, 1.0), levels - 1));
    return t_q * upper;
  }
};

}  // namespace

/// "lbt_wa:bits=B", weights and activations: B in 2..8, default 4 (a
/// symmetric grid has 2^b - 2 steps, none at b = 1; activations may turn
/// symmetric at initialization, so they need b >= 2 as well).
QuantizerPtr make_lbt_wa(const Spec& spec, QuantTarget target) {
  const int64_t bits = spec.get_int("bits", kDefaultBits);
  const std::string name = std::string("lbt_wa ") + to_string(target) + " quantizer";
  TORCH_CHECK(
      target != QuantTarget::kGradient,
      name,
      ": lbt_wa quantizes weights and activations; LBT's gradient quantizer is lbt "
      "(quant.grad_method = \"lbt\")");
  lbt::check_bits(bits, name);
  return std::make_shared<LbtWaImpl>(target, bits);
}

}  // namespace ewgs::quant
