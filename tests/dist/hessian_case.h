// The Hessian delta estimate that dist_worker's ranks share and dist_test checks:
// its options and the numbers each rank saves.
#pragma once

#include <torch/torch.h>

#include "ewgs/hessian/delta_estimator.h"

namespace ewgs::test {

/// capped: targets no estimate meets, so every quantizer takes exactly
/// kCappedProbes probes per batch (odd: in the last round of two ranks only
/// rank 0 draws). Otherwise the default targets, met adaptively.
constexpr int64_t kCappedProbes = 63;

inline hessian::EstimatorOptions shared_estimate_options(bool capped) {
  hessian::EstimatorOptions options;
  options.seed = 3;
  if (capped) {
    options.max_probes = kCappedProbes;
    options.min_probes = kCappedProbes;
    options.target_rse = 0;
    options.target_abs_error = 0;
    options.settle_z = 1e300;
  } else {
    options.max_probes = 2000;
  }
  return options;
}

/// One row per quantizer: delta_unclipped, delta_stderr, probes, met_target.
inline torch::Tensor estimate_table(const hessian::DeltaEstimate& estimate) {
  std::vector<double> values;
  for (const auto& q : estimate.quantizers) {
    values.insert(
        values.end(),
        {q.delta_unclipped,
         q.delta_stderr,
         static_cast<double>(q.probes),
         q.met_target ? 1.0 : 0.0});
  }
  return torch::tensor(values, torch::kDouble).reshape({-1, 4});
}

}  // namespace ewgs::test
