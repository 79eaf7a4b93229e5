// Probes shared among ranks (probe_ranks.h): one all-reduce of a slot per rank,
// zeros elsewhere, so the sums are each rank's values exactly.
#include "probe_ranks.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "ewgs/core/splitmix64.h"

namespace ewgs::hessian {

ProbeRanks::ProbeRanks(std::shared_ptr<Collective> ranks) : ranks_(std::move(ranks)) {
  if (ranks_) {
    rank_ = ranks_->rank();
    world_size_ = ranks_->world_size();
  }
}

uint64_t ProbeRanks::probe_seed(uint64_t seed) const {
  if (rank_ == 0) {
    return seed;
  }
  // The rank-th SplitMix64 output from the seed: distinct, uncorrelated streams per rank.
  return detail::splitmix64(seed, static_cast<uint64_t>(rank_));
}

double ProbeRanks::rank_zero_value(double value, const at::Device& device) {
  if (world_size_ == 1) {
    return value;
  }
  auto slot = at::full(
      {1}, rank_ == 0 ? value : 0.0, at::TensorOptions().dtype(at::kDouble).device(device));
  ranks_->all_reduce_sum(slot);
  return slot.cpu().item<double>();
}

std::vector<ProbeResult> ProbeRanks::gather(
    const std::optional<ProbeResult>& mine, int64_t drawing, const at::Device& device) {
  TORCH_CHECK(
      drawing >= 1 && drawing <= world_size_,
      "probes drawn by ",
      drawing,
      " of ",
      world_size_,
      " ranks");
  TORCH_CHECK(
      mine.has_value() == (rank_ < drawing),
      "rank ",
      rank_,
      (mine ? " drew a probe" : " drew no probe"),
      " where ",
      drawing,
      " ranks draw");
  if (world_size_ == 1) {
    return {*mine};
  }
  auto slots = at::zeros({2, world_size_}, at::TensorOptions().dtype(at::kDouble));
  if (mine) {
    slots[0][rank_] = mine->sample;
    slots[1][rank_] = mine->row_variance;
  }
  auto exchanged = slots.to(device);
  ranks_->all_reduce_sum(exchanged);
  const auto all = exchanged.cpu().contiguous();
  const auto* values = all.data_ptr<double>();
  std::vector<ProbeResult> out;
  for (int64_t r = 0; r < drawing; ++r) {
    out.push_back({values[r], values[world_size_ + r]});
  }
  return out;
}

}  // namespace ewgs::hessian
