// Shared checks and capture logic of every quantizer (include/ewgs/quant/quantizer.h).
#include "ewgs/quant/quantizer.h"

#include <c10/util/Exception.h>

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

torch::Tensor QuantizerImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.defined(), describe(), ": input is undefined");
  TORCH_CHECK(
      x.is_floating_point(),
      describe(),
      ": expected a floating-point input, got ",
      x.scalar_type());
  return quantize(x);
}

double QuantizerImpl::delta() const {
  return 0.0;
}

void QuantizerImpl::set_delta(double delta) {
  TORCH_CHECK(
      false, describe(), " has no gradient scale delta to set (asked for ", delta, ")");
}

void QuantizerImpl::set_capture(bool on) {
  capture_ = on;
  if (!on) {
    captured_ = torch::Tensor();
  }
}

void QuantizerImpl::record_discrete(const torch::Tensor& x_q) {
  if (capture_) {
    captured_ = x_q;
  }
}

} // namespace ewgs::quant
