// DoReFa-Net (Zhou et al. 2016) weight and activation quantizers. quantize_k's rounding
// backward is the STE, or EWGS (Eq. 4) with a fixed delta as in the EWGS paper's Table 5.
#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <cmath>

#include "ewgs/core/spec.h"
#include "ewgs/quant/registry.h"
#include "ewgs/quant/rounding.h"

namespace ewgs::quant {
namespace {

/// 1-bit weights (DoReFa's BWN case): forward E|w| sign(w) with sign(0) = +1,
/// as in the reference code; E|w| is a constant. The backward is the identity
/// (STE) or, with a delta, EWGS (Eq. 4) with its error measured where the
/// binarizer rounds: x_n = 1/2 + w / (2 max|w|) in [0, 1], x_q = [w >= 0],
///   g_w = g (1 + delta sign(g) (x_n - x_q)),
/// so delta = 0 is the STE exactly. The paper's Table 5 does not say how it
/// applied EWGS here; this is our reading. The error is saved as a constant,
/// so the backward is linear in g and differentiable.
class BinaryWeightFn : public torch::autograd::Function<BinaryWeightFn> {
 public:
  static torch::Tensor forward(
      torch::autograd::AutogradContext* ctx, const torch::Tensor& w, const torch::Tensor& delta) {
    const auto positive = w >= 0.0;
    // All-zero weights have x_n = 1/2 rather than 0/0.
    const auto x_n = 0.5 + w / (2.0 * w.abs().max().clamp_min(1e-30));
    ctx->save_for_backward({x_n - positive.to(w.scalar_type()), delta});
    const auto mean_abs = w.abs().mean();
    return torch::where(positive, mean_abs, -mean_abs);
  }

  static torch::autograd::tensor_list backward(
      torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list grad_outputs) {
    const auto& g = grad_outputs[0];
    const auto saved = ctx->get_saved_variables();
    return {g * (1.0 + saved[1] * torch::sign(g) * saved[0]), torch::Tensor()};
  }
};

/// DoReFa with quantize_k(r) = round((2^k - 1) r) / (2^k - 1) on r in [0, 1]:
///   weights, k > 1: t = tanh(w) / (2 max|tanh(w)|) + 1/2,  w_q = 2 quantize_k(t) - 1
///   weights, k = 1: w_q = E|w| sign(w) (BinaryWeightFn)
///   activations:    a_q = quantize_k(clip(a, 0, 1))
/// The max over the tensor is not detached (the reference code lets its
/// gradient flow); clip passes the gradient on [0, 1], ends included. The
/// output lives in [-1, 1] or [0, 1]: layers add their output scale |alpha|.
///
/// With the EWGS estimator the rounding backward is
///   g_t = g_q (1 + delta sign(g_q) (t - quantize_k(t)))  (EWGS Eq. 4)
/// with delta a settable buffer "delta"; 1-bit weights take it in
/// BinaryWeightFn. They expose no x_q in [0, 1] to the Hessian estimator, so
/// their delta is fixed (Table 5 fixes it to 0.01).
class DorefaImpl : public QuantizerImpl {
 public:
  DorefaImpl(QuantTarget target, int64_t bits, bool ewgs, double delta)
      : QuantizerImpl("dorefa", target, bits) {
    TORCH_CHECK(
        target != QuantTarget::kGradient,
        describe(),
        ": DoReFa gradient quantization is not implemented; use it on weights or activations");
    if (ewgs) {
      delta_buffer = register_buffer("delta", torch::zeros({}));
      set_delta(delta);
      initial_delta_ = delta;
    }
  }

  /// DoReFa has no learnable state; nothing depends on the first batch.
  void initialize(const torch::Tensor& /*x*/) override {}

  std::vector<std::pair<std::string, double>> scalars() const override {
    if (!has_delta()) {
      return {};
    }
    return {{"delta", delta()}};
  }

  std::string spec() const override {
    const std::string bits_text = "dorefa:bits=" + std::to_string(bits());
    return has_delta() ? bits_text + ",delta=" + c10::str(initial_delta_) + ",estimator=ewgs"
                       : bits_text + ",estimator=ste";
  }

  bool has_delta() const override { return delta_buffer.defined(); }

  std::string hessian_delta_obstacle() const override {
    if (binary_weights() && has_delta()) {
      return "its 1-bit weights (E|w| sign(w)) expose no discrete values x_q in [0, 1]; give it a "
             "fixed delta";
    }
    return QuantizerImpl::hessian_delta_obstacle();
  }

  double delta() const override { return has_delta() ? delta_buffer.item<double>() : 0.0; }

  void set_delta(double delta) override {
    if (!has_delta()) {
      QuantizerImpl::set_delta(delta);  // errors: the STE has no delta
    }
    TORCH_CHECK(
        std::isfinite(delta) && delta >= 0.0,
        describe(),
        ": delta must be finite and >= 0, got ",
        delta);
    torch::NoGradGuard no_grad;
    delta_buffer.fill_(delta);
  }

  /// Activations: code = round(s clip(x, 0, 1)), value code / s.
  ActivationGrid activation_grid() const override {
    const int64_t steps = (int64_t{1} << bits()) - 1;
    ActivationGrid grid;
    grid.values = {steps + 1, 1.0 / static_cast<double>(steps), 1, 0, 0.0};
    grid.in_scale = static_cast<double>(steps);
    return grid;
  }

  /// Scalar buffer; undefined with the STE.
  torch::Tensor delta_buffer;

 protected:
  /// k > 1: 2 quantize_k(t) - 1 = (2 code - s) / s. k = 1: E|w| (2 code - 1).
  GridValues weight_values(const torch::Tensor& weight) const override {
    if (binary_weights()) {
      torch::NoGradGuard no_grad;
      return {2, weight.abs().mean().item<double>(), 2, 1, 0.0};
    }
    const int64_t steps = (int64_t{1} << bits()) - 1;
    return {steps + 1, 1.0 / static_cast<double>(steps), 2, steps, 0.0};
  }

  torch::Tensor quantize(const torch::Tensor& x) override {
    check_finite_input(x);
    if (binary_weights()) {
      // The STE is delta = 0 exactly.
      return BinaryWeightFn::apply(x, has_delta() ? delta_buffer : torch::zeros({}, x.options()));
    }
    const int64_t steps = (int64_t{1} << bits()) - 1;
    const bool weight = target() == QuantTarget::kWeight;
    const auto x_n = weight ? normalized_weights(x) : torch::clamp(x, 0.0, 1.0);
    const auto x_q =
        record_discrete(has_delta() ? ewgs_round(x_n, steps, delta_buffer) : ste_round(x_n, steps));
    return weight ? 2.0 * x_q - 1.0 : x_q;
  }

 private:
  bool binary_weights() const { return target() == QuantTarget::kWeight && bits() == 1; }

  /// t = tanh(w) / (2 max|tanh(w)|) + 1/2, in [0, 1].
  torch::Tensor normalized_weights(const torch::Tensor& w) const {
    const auto t = torch::tanh(w);
    const auto max_abs = t.abs().max();
    TORCH_CHECK(
        max_abs.item<double>() > 0.0,
        describe(),
        ": max|tanh(w)| is 0 (all-zero or non-finite weights); cannot normalize");
    return t / (2.0 * max_abs) + 0.5;
  }

  double initial_delta_ = 0.0;
};

}  // namespace

/// "dorefa:bits=B,estimator=E,delta=D": B in 1..8 (default 4); E is ste
/// (default) or ewgs; D >= 0 only with ewgs, default 0.01 (EWGS Table 5).
QuantizerPtr make_dorefa(const Spec& spec, QuantTarget target) {
  const int64_t bits = spec.get_int("bits", kDefaultBits);
  const std::string estimator = spec.get_string("estimator", "ste");
  TORCH_CHECK(
      estimator == "ste" || estimator == "ewgs",
      "dorefa ",
      to_string(target),
      " quantizer: estimator must be ste or ewgs, got '",
      estimator,
      "'");
  const bool ewgs = estimator == "ewgs";
  TORCH_CHECK(
      ewgs || !spec.has("delta"),
      "dorefa ",
      to_string(target),
      " quantizer: delta applies only with estimator=ewgs, got estimator=ste and delta=",
      spec.get_string("delta", ""));
  return std::make_shared<DorefaImpl>(
      target, bits, ewgs, ewgs ? spec.get_double("delta", 0.01) : 0.0);
}

}  // namespace ewgs::quant
