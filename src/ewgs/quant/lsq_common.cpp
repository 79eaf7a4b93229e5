// The step-size quantizer shared by LSQ and LSQ+ (src/ewgs/quant/lsq_common.h): one
// autograd Function with the closed-form backward of LSQ Eq. 3 and 5 plus the offset.
#include "lsq_common.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>

namespace ewgs::quant {
namespace {

/// r = (v - β) / s, or v / s without an offset.
torch::Tensor ratio(
    const torch::Tensor& v, const torch::Tensor& step, const torch::Tensor& offset) {
  return offset.defined() ? (v - offset) / step : v / step;
}

/// Forward v̂ = v̄ s + β; backward in closed form (lsq_quantize's doc). The
/// gradients of s and β are summed over all elements, then scaled by g.
class LsqFn : public torch::autograd::Function<LsqFn> {
 public:
  static torch::Tensor forward(
      torch::autograd::AutogradContext* ctx,
      const torch::Tensor& v,
      const torch::Tensor& step,
      const c10::optional<torch::Tensor>& maybe_offset,
      int64_t q_n,
      int64_t q_p,
      double grad_scale) {
    const auto offset = maybe_offset.value_or(torch::Tensor());  // undefined: no offset
    ctx->save_for_backward({v, step, offset});
    ctx->saved_data["q_n"] = q_n;
    ctx->saved_data["q_p"] = q_p;
    ctx->saved_data["grad_scale"] = grad_scale;
    const auto v_bar = torch::round(ratio(v, step, offset)).clamp(-q_n, q_p);
    return offset.defined() ? v_bar * step + offset : v_bar * step;
  }

  static torch::autograd::tensor_list backward(
      torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& v = saved[0];
    const auto& step = saved[1];
    const auto& offset = saved[2];
    const int64_t q_n = ctx->saved_data["q_n"].toInt();
    const int64_t q_p = ctx->saved_data["q_p"].toInt();
    const double grad_scale = ctx->saved_data["grad_scale"].toDouble();
    const auto& g = grad_outputs[0];
    const auto r = ratio(v, step, offset);
    const auto inside = ((r > -q_n) & (r < q_p)).to(g.scalar_type());
    const auto v_bar = torch::round(r).clamp(-q_n, q_p);
    const auto grad_v = g * inside;  // LSQ Eq. 5
    // LSQ Eq. 3: round(r) - r inside the range, -q_n / q_p where clipped.
    const auto grad_step = (g * (v_bar - r * inside)).sum() * grad_scale;
    // β shifts the output one-for-one where clipped; inside, x̄ s + β tracks v.
    const auto grad_offset =
        offset.defined() ? (g * (1.0 - inside)).sum() * grad_scale : torch::Tensor();
    return {grad_v, grad_step, grad_offset, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

/// LSQ's integer range for the target; weights need a positive level.
LsqRange lsq_range(QuantTarget target, int64_t bits, const std::string& who) {
  TORCH_CHECK(
      target != QuantTarget::kGradient,
      who,
      ": quantizes weights and activations only, not gradients");
  if (target == QuantTarget::kActivation) {
    return {0, (int64_t{1} << bits) - 1};
  }
  TORCH_CHECK(
      bits >= 2,
      who,
      ": signed weights need bits >= 2, got bits=",
      bits,
      " (1 bit leaves Q_P = 2^(b-1) - 1 = 0, no positive level)");
  return {int64_t{1} << (bits - 1), (int64_t{1} << (bits - 1)) - 1};
}

}  // namespace

torch::Tensor lsq_quantize(
    const torch::Tensor& v,
    const torch::Tensor& step,
    const torch::Tensor& offset,
    LsqRange range,
    double grad_scale) {
  // An undefined tensor cannot be a Function input; an empty optional can.
  const auto maybe_offset = offset.defined() ? c10::make_optional(offset) : c10::nullopt;
  return LsqFn::apply(v, step, maybe_offset, range.q_n, range.q_p, grad_scale);
}

LsqQuantizerImpl::LsqQuantizerImpl(
    std::string method, QuantTarget target, int64_t bits, bool with_offset)
    : QuantizerImpl(std::move(method), target, bits), range_(lsq_range(target, bits, describe())) {
  // Placeholder state until initialize(): a unit step, no shift.
  step = register_parameter("step", torch::ones({}));
  if (with_offset) {
    offset = register_parameter("offset", torch::zeros({}));
  }
}

void LsqQuantizerImpl::set_state(double step_size, double offset_value) {
  TORCH_CHECK(
      std::isfinite(step_size) && step_size > 0.0 && std::isfinite(offset_value),
      describe(),
      ": initialization gave step size s=",
      step_size,
      " and offset ",
      offset_value,
      "; expected a finite s > 0 (constant or non-finite input?)");
  torch::NoGradGuard no_grad;
  step.fill_(step_size);
  if (offset.defined()) {
    offset.fill_(offset_value);
  }
}

torch::Tensor LsqQuantizerImpl::quantize(const torch::Tensor& x) {
  check_finite_input(x);
  const double s = step.item<double>();
  TORCH_CHECK(
      std::isfinite(s) && s > 0.0, describe(), ": step size s must be finite and > 0, got ", s);
  // N_W = numel for weights; N_F = features of one sample for activations.
  const int64_t n = target() == QuantTarget::kActivation && x.dim() >= 2
                        ? x.numel() / std::max<int64_t>(x.size(0), 1)
                        : x.numel();
  const double grad_scale =
      1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(n, 1) * range_.q_p));
  return lsq_quantize(x, step, offset, range_, grad_scale);
}

ActivationGrid LsqQuantizerImpl::activation_grid() const {
  const double s = step.item<double>();
  const double beta = offset.defined() ? offset.item<double>() : 0.0;
  TORCH_CHECK(
      std::isfinite(s) && s > 0.0 && std::isfinite(beta),
      describe(),
      ": cannot export step ",
      s,
      " and offset ",
      beta);
  ActivationGrid grid;
  grid.values = {range_.q_p + 1, s, 1, 0, beta};
  grid.in_scale = 1.0 / s;
  grid.in_shift = -beta / s;
  return grid;
}

GridValues LsqQuantizerImpl::weight_values(const torch::Tensor& /*weight*/) const {
  return {range_.q_n + range_.q_p + 1, step.item<double>(), 1, range_.q_n, 0.0};
}

std::vector<std::pair<std::string, double>> LsqQuantizerImpl::scalars() const {
  std::vector<std::pair<std::string, double>> out = {{"s", step.item<double>()}};
  if (offset.defined()) {
    out.emplace_back("beta", offset.item<double>());
  }
  return out;
}

std::string LsqQuantizerImpl::spec() const {
  return method() + ":bits=" + std::to_string(bits());
}

}  // namespace ewgs::quant
