// Data-parallel gradients: after each rank's backward pass, the gradients of the
// model's parameters are averaged over the ranks in flat buckets, one all-reduce each.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "ewgs/dist/process_group.h"

namespace ewgs::dist {

/// The factor of a rank's mean loss over its `local` samples that makes the
/// mean over `world` ranks the mean loss of the `global` samples of the step:
/// local * world / global (1 when the shards are equal).
double local_loss_weight(int64_t local, int64_t global, int64_t world);

/// Averages `.grad()` of a fixed list of parameters over the ranks of `group`.
/// Parameters are packed into buckets of about `bucket_bytes` (same dtype and
/// device) in reverse order, as backward produces them; all buckets are
/// reduced concurrently. A parameter without a gradient on every rank keeps
/// none (the optimizer skips it, as in one process); one with a gradient on
/// some ranks only gets zeros from the others.
/// Each rank's loss is scaled by local_loss_weight() before backward.
class GradientReducer {
 public:
  GradientReducer(
      std::shared_ptr<ProcessGroup> group,
      std::vector<at::Tensor> parameters,
      int64_t bucket_bytes = 25 << 20);

  /// Replaces every gradient by its mean over the ranks (a no-op alone).
  void average();

  /// Buckets in use: for benchmarks and tests.
  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }

  /// Wall seconds spent in average() since the last call (then reset to 0).
  double take_seconds();

 private:
  std::shared_ptr<ProcessGroup> group_;
  std::vector<at::Tensor> parameters_;
  /// Indices into parameters_, one list per bucket.
  std::vector<std::vector<size_t>> buckets_;
  double seconds_ = 0.0;
};

}  // namespace ewgs::dist
