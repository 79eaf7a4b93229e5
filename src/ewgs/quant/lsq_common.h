// The step-size quantizer LSQ and LSQ+ share (Esser et al. 2020; Bhalgat et al. 2020):
// integer range, forward, closed-form backward and gradient scaling, in one place.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "ewgs/quant/quantizer.h"

namespace ewgs::quant {

/// Integer range of v̄: [-q_n, q_p] (LSQ Sec. 2).
struct LsqRange {
  int64_t q_n = 0;
  int64_t q_p = 0;
};

/// v̂ = clamp(round((v - β) / s), -q_n, q_p) s + β, with LSQ's backward:
///   r = (v - β) / s,  inside = -q_n < r < q_p (strict, LSQ Eq. 3 and 5)
///   ∂v̂/∂v = inside                                          (LSQ Eq. 5)
///   ∂v̂/∂s = round(r) - r inside, -q_n below, q_p above       (LSQ Eq. 3)
///         = v̄ - r·inside
///   ∂v̂/∂β = 1 - inside                        (LSQ+; docs/methods/lsq.md, P2)
/// The gradients of s and β are multiplied by `grad_scale` (LSQ Sec. 2.2).
/// `offset` (β) may be undefined: then v̂ = v̄ s (LSQ, symmetric LSQ+).
torch::Tensor lsq_quantize(
    const torch::Tensor& v,
    const torch::Tensor& step,
    const torch::Tensor& offset,
    LsqRange range,
    double grad_scale);

/// Base of the LSQ and LSQ+ quantizers: a learnable step size s (parameter
/// "step") and, for LSQ+ activations, a learnable offset β (parameter
/// "offset"). Weights are signed, q_n = 2^(b-1), q_p = 2^(b-1) - 1, so they
/// need b >= 2 (1 bit would leave q_p = 0, no positive level); activations
/// are unsigned, q_n = 0, q_p = 2^b - 1, b >= 1. The output approximates
/// the input, so layers need no output scale.
///
/// Gradient scale g = 1 / sqrt(N q_p) (LSQ Sec. 2.2) with N the number of
/// weights for weights and, for activations, N_F = the number of features
/// of one sample (numel / batch size; C·H·W for a conv input, the batch
/// being dimension 0; numel for a 1-D input).
class LsqQuantizerImpl : public QuantizerImpl {
 public:
  LsqQuantizerImpl(std::string method, QuantTarget target, int64_t bits, bool with_offset);

  std::vector<std::pair<std::string, double>> scalars() const override;
  /// "<method>:bits=B"; the learnable state is in the parameters.
  std::string spec() const override;
  bool output_in_input_scale() const override { return true; }

  LsqRange range() const { return range_; }

  /// Activations: code = clamp(round((x - beta) / s), 0, q_p), value s code + beta.
  ActivationGrid activation_grid() const override;

  torch::Tensor step;
  /// Undefined when the quantizer is symmetric (LSQ, LSQ+ weights).
  torch::Tensor offset;

 protected:
  torch::Tensor quantize(const torch::Tensor& x) override;
  /// Weights: code = v̄ + q_n, value s (code - q_n).
  GridValues weight_values(const torch::Tensor& weight) const override;

  /// Sets s (and β when the quantizer has one) after checking s > 0.
  void set_state(double step_size, double offset_value);

 private:
  LsqRange range_;
};

}  // namespace ewgs::quant
