// The learnable-interval uniform quantizer of the EWGS paper, Eq. 1-3 (see
// include/ewgs/quant/interval_quantizer.h); composite ATen ops, twice differentiable.
#include "ewgs/quant/interval_quantizer.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <atomic>
#include <cmath>

#include "ewgs/core/half_normal.h"
#include "ewgs/kernels/interval_quant.h"
#include "ewgs/quant/fused_kernels.h"
#include "ewgs/quant/rounding.h"

namespace ewgs::quant {
namespace {

std::atomic<bool> g_fused_kernels{true};

/// Eq. 1-2 with composite ATen ops: the discrete x_q in [0, 1], rounded
/// through ewgs_round (delta defined) or ste_round. Twice differentiable.
torch::Tensor discretize_composite(
    const torch::Tensor& x,
    const torch::Tensor& lower,
    const torch::Tensor& upper,
    const torch::Tensor& delta,
    int64_t steps) {
  // Eq. 1: normalize into [0, 1]; clamp's backward keeps the boundaries.
  const auto x_n = torch::clamp((x - lower) / (upper - lower), 0.0, 1.0);
  // Eq. 2: discretize with the estimator's backward.
  return delta.defined() ? ewgs_round(x_n, steps, delta) : ste_round(x_n, steps);
}

/// Eq. 3: weights to [-1, 1], activations stay in [0, 1].
torch::Tensor map_to_output(const torch::Tensor& x_q, bool weight_map) {
  return weight_map ? 2.0 * (x_q - 0.5) : x_q;
}

/// Eq. 1-4 in one kernel pass each way; saves only x (the backward
/// recomputes x_n and x_q), so it costs no memory beyond the output.
class FusedIntervalQuantFn : public torch::autograd::Function<FusedIntervalQuantFn> {
 public:
  static torch::Tensor forward(
      torch::autograd::AutogradContext* ctx,
      const torch::Tensor& x,
      const torch::Tensor& lower,
      const torch::Tensor& upper,
      const torch::Tensor& delta,
      int64_t steps,
      bool weight_map,
      const std::string& what) {
    ctx->save_for_backward({x, lower, upper, delta});
    ctx->saved_data["steps"] = steps;
    ctx->saved_data["weight_map"] = weight_map;
    return kernels::interval_quant_forward(x, lower, upper, steps, weight_map, what.c_str());
  }

  static torch::autograd::tensor_list backward(
      torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    if (torch::GradMode::is_enabled()) {
      return differentiable_backward(ctx, saved, grad_outputs[0]);
    }
    const auto grads = kernels::interval_quant_backward(
        grad_outputs[0],
        saved[0],
        saved[1],
        saved[2],
        saved[3],
        ctx->saved_data["steps"].toInt(),
        ctx->saved_data["weight_map"].toBool());
    return {
        grads.x,
        grads.lower,
        grads.upper,
        torch::Tensor(),
        torch::Tensor(),
        torch::Tensor(),
        torch::Tensor()};
  }

 private:
  /// A backward asked to build a graph (double backward, Hessian-vector
  /// products) recomputes the composite ops on the saved inputs and
  /// differentiates them, so the gradient stays a function of x, l, u and
  /// grad_output; same values as the kernel, one extra forward.
  static torch::autograd::tensor_list differentiable_backward(
      torch::autograd::AutogradContext* ctx,
      const torch::autograd::variable_list& saved,
      const torch::Tensor& grad_output) {
    const auto output = map_to_output(
        discretize_composite(
            saved[0], saved[1], saved[2], saved[3], ctx->saved_data["steps"].toInt()),
        ctx->saved_data["weight_map"].toBool());
    std::vector<torch::Tensor> wrt;
    for (int i = 0; i < 3; ++i) {
      if (saved[i].requires_grad()) {
        wrt.push_back(saved[i]);
      }
    }
    const auto grads = torch::autograd::grad({output}, wrt, {grad_output}, true, true, true);
    torch::autograd::tensor_list out(7);
    size_t next = 0;
    for (int i = 0; i < 3; ++i) {
      if (saved[i].requires_grad()) {
        out[i] = grads[next++];
      }
    }
    return out;
  }
};

/// The activation interval spans 3 s of the Gaussian whose half-normal the inputs are.
using detail::kHalfNormalStdFactor;

}  // namespace

IntervalQuantizerImpl::IntervalQuantizerImpl(const IntervalQuantizerOptions& options)
    : QuantizerImpl(options.method(), options.target(), options.bits()), options_(options) {
  const bool weight = options.target() == QuantTarget::kWeight;
  // Placeholder interval until initialize(); any l < u keeps forward valid.
  lower = register_parameter("lower", torch::full({}, weight ? -1.0f : 0.0f));
  upper = register_parameter("upper", torch::full({}, 1.0f));
  if (options.has_delta()) {
    delta_buffer = register_buffer("delta", torch::zeros({}));
    set_delta(options.delta());
  }
}

void IntervalQuantizerImpl::initialize(const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  TORCH_CHECK(
      x.numel() >= 2, describe(), ": initialization needs at least 2 elements, got ", x.numel());
  const double std_x = x.std().item<double>();
  TORCH_CHECK(
      std::isfinite(std_x) && std_x > 0.0,
      describe(),
      ": cannot initialize the interval from a tensor with std ",
      std_x,
      " (constant or non-finite values)");
  double l = 0.0;
  double u = 0.0;
  if (target() == QuantTarget::kWeight) {
    l = -3.0 * std_x;
    u = 3.0 * std_x;
  } else {
    l = x.min().item<double>();
    u = 3.0 * std_x / kHalfNormalStdFactor;
  }
  TORCH_CHECK(u > l, describe(), ": initialization gave an empty interval l=", l, " u=", u);
  lower.fill_(l);
  upper.fill_(u);
}

void set_fused_kernels(bool on) {
  g_fused_kernels = on;
}

bool fused_kernels() {
  return g_fused_kernels;
}

torch::Tensor IntervalQuantizerImpl::quantize(const torch::Tensor& x) {
  if (g_fused_kernels && x.scalar_type() == torch::kFloat && !capturing() &&
      !differentiable_backward()) {
    // The STE is EWGS with delta = 0 exactly.
    const auto delta = delta_buffer.defined() ? delta_buffer : torch::zeros({}, lower.options());
    return FusedIntervalQuantFn::apply(
        x, lower, upper, delta, steps(), target() == QuantTarget::kWeight, describe_in_layer());
  }
  return quantize_composite(x);
}

torch::Tensor IntervalQuantizerImpl::quantize_composite(const torch::Tensor& x) {
  const double l = lower.item<double>();
  const double u = upper.item<double>();
  TORCH_CHECK(
      std::isfinite(l) && std::isfinite(u) && u > l,
      describe_in_layer(),
      ": the interval needs l < u, got l=",
      l,
      " u=",
      u);
  check_finite_input(x);
  const auto x_q = record_discrete(discretize_composite(x, lower, upper, delta_buffer, steps()));
  return map_to_output(x_q, target() == QuantTarget::kWeight);
}

std::vector<std::pair<std::string, double>> IntervalQuantizerImpl::scalars() const {
  std::vector<std::pair<std::string, double>> out = {
      {"l", lower.item<double>()}, {"u", upper.item<double>()}};
  if (delta_buffer.defined()) {
    out.emplace_back("delta", delta_buffer.item<double>());
  }
  return out;
}

std::string IntervalQuantizerImpl::spec() const {
  std::string out = method() + ":bits=" + std::to_string(bits());
  if (delta_buffer.defined()) {
    out += ",delta=" + c10::str(options_.delta());
  }
  return out;
}

ActivationGrid IntervalQuantizerImpl::activation_grid() const {
  const double l = lower.item<double>();
  const double u = upper.item<double>();
  TORCH_CHECK(
      std::isfinite(l) && std::isfinite(u) && u > l,
      describe(),
      ": cannot export the interval l=",
      l,
      " u=",
      u);
  const auto s = static_cast<double>(steps());
  ActivationGrid grid;
  grid.values = {steps() + 1, 1.0 / s, 1, 0, 0.0};
  grid.in_scale = s / (u - l);
  grid.in_shift = -l * grid.in_scale;
  return grid;
}

GridValues IntervalQuantizerImpl::weight_values(const torch::Tensor& /*weight*/) const {
  return {steps() + 1, 1.0 / static_cast<double>(steps()), 2, steps(), 0.0};
}

double IntervalQuantizerImpl::delta() const {
  return delta_buffer.defined() ? delta_buffer.item<double>() : 0.0;
}

void IntervalQuantizerImpl::set_delta(double delta) {
  if (!delta_buffer.defined()) {
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

}  // namespace ewgs::quant
