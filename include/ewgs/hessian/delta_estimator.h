// Sets EWGS's scaling factor delta from the Hessian of the loss with respect to each
// quantizer's discrete values (paper Eq. 5-10, Algorithm 1; docs/methods/hessian.md).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <nlohmann/json.hpp>

#include "ewgs/core/collective.h"
#include "ewgs/quant/quantizer.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ewgs::hessian {

/// The gradient representative G of Eq. 10 (paper Table 4 compares them).
enum class Representative {
  /// 3 std(grad), unbiased std over all elements (the paper's choice).
  kThreeStd,
  /// max |grad|.
  kMaxAbs,
  /// mean |grad|.
  kMeanAbs,
};

/// "3std", "max" or "mean".
Representative parse_representative(const std::string& text);
const char* to_string(Representative representative);

/// G of `grad` by `representative`.
double representative_value(const at::Tensor& grad, Representative representative);

/// The Hutchinson loop that estimates the traces.
enum class Estimator {
  /// The same quantity as kFaithful, probing until each quantizer's own
  /// standard error is small (all quantizers per backward pass).
  kFast,
  /// The official code's per-quantizer loop, stopped by relative change.
  kFaithful,
};

/// "fast" or "faithful".
Estimator parse_estimator(const std::string& text);
const char* to_string(Estimator estimator);

/// "weight" or "act": how metrics, JSON and tables name the target of a delta
/// (weight or activation quantizer).
const char* delta_target_key(quant::QuantTarget target);

/// How to estimate.
struct EstimatorOptions {
  Estimator estimator = Estimator::kFast;
  Representative representative = Representative::kThreeStd;
  /// Most Hutchinson probes per quantizer and batch.
  int64_t max_probes = 50;
  /// faithful: stop when |m_k - m_{k-1}| / (m_{k-1} + 1e-6) < tolerance.
  double tolerance = 1e-3;
  /// fast: stop a quantizer when the standard error of its delta is at most
  /// target_rse * |delta| ...
  double target_rse = 0.1;
  /// ... or at most this absolute value.
  double target_abs_error = 1e-5;
  /// fast: probes before a stopping test applies (2 where the per-sample
  /// bound of split_samples also checks the error).
  int64_t min_probes = 6;
  /// fast: an activation quantizer's probe is split by sample (its rows), and
  /// the spread of those per-sample probes bounds the probe's variance, so one
  /// backward pass gives B probes' worth of error estimate (approximate under
  /// training-mode BatchNorm, which couples the samples; see README).
  bool split_samples = true;
  /// fast: also stop when the estimate lies this many standard errors below
  /// zero: the clipped delta max(0, .) is then 0 unless a z-sigma event.
  double settle_z = 3.0;
  /// Seed of the Rademacher probes (the global generator is not used).
  uint64_t seed = 0;
  /// Ranks that share the fast estimator's probes: every rank calls
  /// estimate_deltas with the same model and batches, draws probes of its own
  /// (rank 0 those of `seed`), and every rank gets the one estimate made from
  /// the probes of all, so N ranks reach the error target about N times
  /// sooner. The faithful estimator runs whole on every rank. Null: alone.
  std::shared_ptr<Collective> ranks;
  /// Called after each quantizer and batch with a one-line report (optional).
  std::function<void(const std::string&)> progress;
  /// Asked after each quantizer and batch (optional; not with `ranks`, whose
  /// ranks must finish together): true ends the estimate early, marked
  /// `stopped`, without quantizers (a stop signal need not wait for minutes of
  /// Hessian-vector products).
  std::function<bool()> stop;
};

/// The fast estimator's target on an unclipped delta and its standard error:
/// stderr <= widen * max(target_rse |delta|, target_abs_error), or delta +
/// settle_z stderr < 0. widen > 1 relaxes the error target for one of several
/// batches whose mean is the estimate (sqrt of their count).
bool meets_target(
    double delta, double delta_stderr, const EstimatorOptions& options, double widen = 1.0);

/// The estimate of one quantizer.
struct QuantizerEstimate {
  /// Layer name, e.g. "layer1.0.conv1".
  std::string layer;
  /// kWeight or kActivation (delta_target_key names it).
  quant::QuantTarget target = quant::QuantTarget::kWeight;
  /// Elements N of x_q (for activations including the batch dimension).
  int64_t numel = 0;
  /// Tr(H)/N averaged over the batches, and its standard error.
  double trace_per_element = 0.0;
  double trace_stderr = 0.0;
  /// G averaged over the batches.
  double representative = 0.0;
  /// mean over batches of (Tr(H)/N)/G, before clipping at 0, and its standard error.
  double delta_unclipped = 0.0;
  double delta_stderr = 0.0;
  /// max(0, delta_unclipped): what the quantizer gets.
  double delta = 0.0;
  /// Hessian-vector products spent, over all batches, and their wall time.
  int64_t probes = 0;
  double probe_seconds = 0.0;
  /// The fast estimator's target holds: delta_stderr <= max(target_rse
  /// |delta_unclipped|, target_abs_error), or delta_unclipped + settle_z
  /// delta_stderr < 0 (the clipped delta is settled at 0).
  bool met_target = false;
  /// True when the estimate was unusable and the previous delta kept.
  bool kept_previous = false;
  /// Why the previous delta was kept ("gradient is zero", "non-finite estimate").
  std::string note;

  nlohmann::json to_json() const;
};

/// All quantizers' estimates from one update.
struct DeltaEstimate {
  Estimator estimator = Estimator::kFast;
  int64_t batches = 0;
  double wall_s = 0.0;
  /// EstimatorOptions::stop ended it early: no quantizers, and no delta changes.
  bool stopped = false;
  std::vector<QuantizerEstimate> quantizers;

  nlohmann::json to_json() const;
};

using Batch = std::pair<at::Tensor, at::Tensor>;
using ForwardFn = std::function<at::Tensor(const at::Tensor&)>;

/// Estimates delta for every quantizer of `model` that has one (EWGS) from
/// the mean cross-entropy of `forward` on `batches` (images, labels), in
/// training mode. The model is left exactly as found: parameters, buffers
/// (BatchNorm running statistics), gradients, training flag and the global
/// RNG. Deltas are not changed; see apply_deltas.
DeltaEstimate estimate_deltas(
    torch::nn::Module& model,
    const ForwardFn& forward,
    const std::vector<Batch>& batches,
    const EstimatorOptions& options);

/// Sets each quantizer's delta from `estimate`, except those kept.
void apply_deltas(torch::nn::Module& model, const DeltaEstimate& estimate);

}  // namespace ewgs::hessian
