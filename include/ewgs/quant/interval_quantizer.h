// The paper's uniform quantizer with a learnable interval [l, u] (EWGS Eq. 1-3),
// shared by the STE and EWGS estimators, which differ only in the rounding backward.
#pragma once

#include <torch/arg.h>

#include "ewgs/quant/quantizer.h"

namespace ewgs::quant {

/// Options of the learnable-interval quantizer.
struct IntervalQuantizerOptions {
  IntervalQuantizerOptions(std::string method, QuantTarget target, int64_t bits)
      : method_(std::move(method)), target_(target), bits_(bits) {}
  /// Registered estimator name ("ste", "ewgs"); decides the rounding backward.
  TORCH_ARG(std::string, method);
  /// Weights map x_q to 2(x_q - 0.5) in [-1, 1]; activations keep x_q in [0, 1].
  TORCH_ARG(QuantTarget, target);
  /// Bit-width b in [1, 8]; 2^b levels.
  TORCH_ARG(int64_t, bits);
  /// Initial EWGS scaling factor delta >= 0 (paper Eq. 4); 0 is the STE.
  TORCH_ARG(double, delta) = 0.0;
  /// Whether the quantizer keeps delta as a settable buffer (EWGS) or has
  /// none (STE).
  TORCH_ARG(bool, has_delta) = true;
};

/// x_n = clip((x - l) / (u - l), 0, 1)                  (Eq. 1)
/// x_q = round((2^b - 1) x_n) / (2^b - 1)               (Eq. 2)
/// Q_W = 2 (x_q - 0.5),  Q_A = x_q                        (Eq. 3)
///
/// Parameters "lower" (l) and "upper" (u) are learnable scalars; the buffer
/// "delta" holds the EWGS scale. Gradients reach x, l and u through the clip
/// with its boundaries included; clipped elements give l and u no gradient.
class IntervalQuantizerImpl : public QuantizerImpl {
 public:
  explicit IntervalQuantizerImpl(const IntervalQuantizerOptions& options);

  /// Weights: l, u = -/+ 3 std(w). Activations: l = min(x),
  /// u = 3 std(x) / sqrt(1 - 2/pi) (paper Sec. 4.1, official code).
  void initialize(const torch::Tensor& x) override;

  std::vector<std::pair<std::string, double>> scalars() const override;
  std::string spec() const override;
  bool has_delta() const override { return options_.has_delta(); }
  double delta() const override;
  void set_delta(double delta) override;

  /// code = round(s (x - l) / (u - l)) on [0, s], value code / s (s = 2^b - 1).
  ActivationGrid activation_grid() const override;

  /// Number of rounding steps 2^b - 1.
  int64_t steps() const { return (int64_t{1} << bits()) - 1; }

  torch::Tensor lower;
  torch::Tensor upper;
  /// Scalar buffer; undefined when the estimator has no delta (STE).
  torch::Tensor delta_buffer;

 protected:
  torch::Tensor quantize(const torch::Tensor& x) override;
  /// Weights 2 x_q - 1 = (2 code - s) / s.
  GridValues weight_values(const torch::Tensor& weight) const override;

 private:
  torch::Tensor quantize_composite(const torch::Tensor& x);

  IntervalQuantizerOptions options_;
};

}  // namespace ewgs::quant
