// Shared checks and capture logic of every quantizer (include/ewgs/quant/quantizer.h).
#include "ewgs/quant/quantizer.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

namespace ewgs::quant {

const char* to_string(QuantTarget target) {
  switch (target) {
    case QuantTarget::kWeight:
      return "weight";
    case QuantTarget::kActivation:
      return "activation";
    case QuantTarget::kGradient:
      return "gradient";
  }
  return "?";
}

void check_bits(int64_t bits, const std::string& where) {
  TORCH_CHECK(
      (bits >= 1 && bits <= 8) || bits == kBitsOff,
      where,
      ": bits must be in [1, 8] or 32 (off), got ",
      bits);
}

QuantizerImpl::QuantizerImpl(std::string method, QuantTarget target, int64_t bits)
    : method_(std::move(method)), target_(target), bits_(bits) {
  check_bits(bits, describe());
  TORCH_CHECK(bits != kBitsOff, describe(), ": bits=32 means no quantizer; do not construct one");
}

std::string QuantizerImpl::describe() const {
  return method_ + " " + to_string(target_) + " quantizer";
}

std::string QuantizerImpl::describe_in_layer() const {
  return layer_.empty() ? describe() : describe() + " of " + layer_;
}

torch::Tensor QuantizerImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.defined(), describe_in_layer(), ": input is undefined");
  TORCH_CHECK(
      x.is_floating_point(),
      describe_in_layer(),
      ": expected a floating-point input, got ",
      x.scalar_type());
  return quantize(x);
}

void QuantizerImpl::check_finite_input(const torch::Tensor& x) const {
  TORCH_CHECK(
      torch::isfinite(x).all().item<bool>(),
      describe_in_layer(),
      ": input has non-finite values (NaN or Inf)");
}

double QuantizerImpl::delta() const {
  return 0.0;
}

void QuantizerImpl::set_delta(double delta) {
  TORCH_CHECK(false, describe(), " has no gradient scale delta to set (asked for ", delta, ")");
}

ActivationGrid QuantizerImpl::activation_grid() const {
  TORCH_CHECK(false, describe(), " cannot be exported: its forward is not a uniform integer grid");
}

GridValues QuantizerImpl::weight_values(const torch::Tensor& /*weight*/) const {
  TORCH_CHECK(false, describe(), " cannot be exported: its forward is not a uniform integer grid");
}

WeightGrid QuantizerImpl::weight_grid(const torch::Tensor& weight) {
  TORCH_CHECK(
      target_ == QuantTarget::kWeight, describe(), ": weight_grid() is for weight quantizers");
  torch::NoGradGuard no_grad;
  const bool was_training = is_training();
  eval();
  const auto w_q = forward(weight).to(torch::kDouble);
  train(was_training);
  const auto values = weight_values(weight);
  // value = scale (gain code - zero) + offset  =>  code = ((value - offset) / scale + zero) / gain
  const auto codes = torch::round(
      ((w_q - values.offset) / values.scale + static_cast<double>(values.zero)) /
      static_cast<double>(values.gain));
  const auto on_grid =
      values.scale * (values.gain * codes - static_cast<double>(values.zero)) + values.offset;
  // Float32 rounding of the forward leaves each value within a tiny part of a step.
  const double off = (on_grid - w_q).abs().max().item<double>();
  TORCH_CHECK(
      off <= 1e-4 * std::abs(values.scale) * static_cast<double>(values.gain),
      describe(),
      ": a quantized weight lies ",
      off,
      " off the grid of step ",
      values.scale * static_cast<double>(values.gain),
      " (the forward and the export disagree)");
  TORCH_CHECK(
      codes.min().item<double>() >= 0.0 &&
          codes.max().item<double>() <= static_cast<double>(values.levels - 1),
      describe(),
      ": weight codes leave [0, ",
      values.levels - 1,
      "]");
  return {values, codes.to(torch::kUInt8)};
}

std::string QuantizerImpl::hessian_delta_obstacle() const {
  return has_delta() ? "" : "it has no gradient scale delta";
}

void QuantizerImpl::set_capture(bool on) {
  capture_ = on;
  if (!on) {
    captured_ = torch::Tensor();
  }
}

torch::Tensor QuantizerImpl::record_discrete(const torch::Tensor& x_q) {
  if (!capture_) {
    return x_q;
  }
  captured_ = x_q.requires_grad() ? x_q : x_q.detach().requires_grad_(true);
  return captured_;
}

}  // namespace ewgs::quant
