// The ranks that share one Hutchinson estimate: each draws its own probes, and
// every rank receives all of them in rank order, so all keep identical running
// statistics and take identical stopping decisions without a coordinator.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "ewgs/core/collective.h"

namespace ewgs::hessian {

/// One probe's sample v^T H v and the variance its rows bound (0 unused).
struct ProbeResult {
  double sample = 0.0;
  double row_variance = 0.0;
};

class ProbeRanks {
 public:
  /// `ranks` null: this process alone, and nothing is exchanged.
  explicit ProbeRanks(std::shared_ptr<Collective> ranks);

  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_size_; }

  /// The seed of this rank's probes: `seed` itself on rank 0, so one process
  /// draws what it always drew, and a well-mixed other seed on each other rank.
  uint64_t probe_seed(uint64_t seed) const;

  /// Rank 0's `value` on every rank (a quantity every rank computes, made
  /// bitwise identical so no rank can decide differently from the others).
  double rank_zero_value(double value, const at::Device& device);

  /// Every drawing rank's probe, in rank order, on every rank. The first
  /// `drawing` ranks pass their probe; the others pass none.
  std::vector<ProbeResult> gather(
      const std::optional<ProbeResult>& mine, int64_t drawing, const at::Device& device);

 private:
  std::shared_ptr<Collective> ranks_;
  int64_t rank_ = 0;
  int64_t world_size_ = 1;
};

}  // namespace ewgs::hessian
