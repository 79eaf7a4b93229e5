// The quantizer interface every method implements: a module that maps a weight or
// activation tensor to its quantized value, with learnable state registered by name.
#pragma once

#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ewgs/quant/integer_grid.h"

namespace ewgs::quant {

/// What a quantizer acts on; weights and activations differ in their output
/// map (paper Eq. 3) and their initialization. Gradient quantizers sit on a
/// layer's output: identity forward, they quantize the gradient going back
/// (fixed-point training).
enum class QuantTarget { kWeight, kActivation, kGradient };

/// "weight", "activation" or "gradient".
const char* to_string(QuantTarget target);

/// The bit-width that means "not quantized".
constexpr int64_t kBitsOff = 32;

/// Checks that `bits` is a supported bit-width (1..8, or 32 for off).
void check_bits(int64_t bits, const std::string& where);

/// Base class of all quantizers.
///
/// `forward()` is not virtual: it runs the checks every method shares (defined,
/// floating dtype) and then calls `quantize()`, which rejects non-finite input
/// (check_finite_input, or inside a fused kernel). Learnable scalars are
/// parameters, non-learnable state (the EWGS delta) are buffers, both by name.
class QuantizerImpl : public torch::nn::Module {
 public:
  QuantizerImpl(std::string method, QuantTarget target, int64_t bits);

  /// Quantizes `x` (any shape, float). Returns a tensor of the same shape.
  torch::Tensor forward(const torch::Tensor& x);

  /// Sets the learnable state from a first batch `x` (paper Sec. 4.1);
  /// layers call it once, on their first training forward.
  virtual void initialize(const torch::Tensor& x) = 0;

  const std::string& method() const { return method_; }
  /// "ewgs weight quantizer": how error messages name this quantizer.
  std::string describe() const;
  /// describe() and the layer set_layer named, "ewgs weight quantizer of
  /// layer1.0.conv1": how errors raised inside a model's forward name it.
  std::string describe_in_layer() const;
  /// Names the layer this quantizer belongs to, for describe_in_layer().
  void set_layer(std::string layer) { layer_ = std::move(layer); }
  QuantTarget target() const { return target_; }
  int64_t bits() const { return bits_; }

  /// Scalar state worth logging, e.g. {{"l", -0.1}, {"u", 0.1}, {"delta", 0}}.
  virtual std::vector<std::pair<std::string, double>> scalars() const = 0;

  /// Canonical spec text that rebuilds this quantizer, e.g. "ewgs:bits=1,delta=0".
  virtual std::string spec() const = 0;

  /// Whether the output is already on the input's scale (LSQ, PACT: v_q
  /// approximates v), so a layer needs no learnable output scale. Methods
  /// whose output lives in [-1, 1] or [0, 1] (EWGS, DoReFa) return false.
  virtual bool output_in_input_scale() const { return false; }

  /// A term the trainer adds to the loss (e.g. PACT's L2 penalty on its
  /// clipping level); undefined when the method has none.
  virtual torch::Tensor regularizer() const { return torch::Tensor(); }

  /// Called after every optimizer step (e.g. a gradient quantizer's clipping
  /// interval update); nothing by default.
  virtual void after_optimizer_step() {}

  /// Whether the backward carries an element-wise gradient scale delta that
  /// the Hessian estimator may set (paper Eq. 4, 10).
  virtual bool has_delta() const { return false; }
  virtual double delta() const;
  virtual void set_delta(double delta);

  /// Export: the integer grid of this activation quantizer in eval mode. An
  /// error that names the quantizer and the reason when its forward is not a
  /// uniform grid (the default).
  virtual ActivationGrid activation_grid() const;

  /// Export: the codes of `weight` quantized by this weight quantizer in eval
  /// mode, and their values; checks that every element of forward(weight)
  /// lies on the grid of weight_values(weight).
  WeightGrid weight_grid(const torch::Tensor& weight);

  /// Why the Hessian estimator cannot set this quantizer's delta (Eq. 10
  /// needs a delta and the discrete values x_q it scales), or "" when it can.
  virtual std::string hessian_delta_obstacle() const;

  /// While capture is on, forward() keeps its discrete output x_q (with its
  /// autograd history) so the Hessian of the loss w.r.t. x_q can be formed.
  void set_capture(bool on);
  bool capturing() const { return capture_; }
  const torch::Tensor& captured() const { return captured_; }

  /// Whether forward must build a twice-differentiable graph (composite
  /// ops) instead of the fused single-pass kernels; a gradient quantizer then
  /// leaves gradients unquantized (the Hessian estimator sets it).
  void set_differentiable_backward(bool on) { differentiable_backward_ = on; }
  bool differentiable_backward() const { return differentiable_backward_; }

 protected:
  /// Values of this weight quantizer's codes for `weight`; an error naming the
  /// reason by default (not exportable).
  virtual GridValues weight_values(const torch::Tensor& weight) const;

  /// The method's quantization of a checked `x`.
  virtual torch::Tensor quantize(const torch::Tensor& x) = 0;

  /// An error naming the quantizer and its layer when `x` holds NaN or Inf, so that
  /// a diverging input stops at the first quantizer it reaches instead of being
  /// clamped onto the grid. One reduction and a host read.
  void check_finite_input(const torch::Tensor& x) const;

  /// Methods call this with their discrete value x_q in [0, 1] and go on with what it
  /// returns: x_q itself, or, while capturing an x_q without autograd history (from an
  /// input that needs no gradient, such as the images at a quantized first layer), x_q
  /// as a leaf that requires grad, so that the Hessian w.r.t. x_q is still formed.
  torch::Tensor record_discrete(const torch::Tensor& x_q);

 private:
  std::string method_;
  std::string layer_;
  QuantTarget target_;
  int64_t bits_;
  bool capture_ = false;
  bool differentiable_backward_ = false;
  torch::Tensor captured_;
};

using QuantizerPtr = std::shared_ptr<QuantizerImpl>;

}  // namespace ewgs::quant
