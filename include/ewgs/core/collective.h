// What the layers below the data-parallel one need from a group of processes:
// sums over ranks. dist::ProcessGroup implements it on c10d.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace ewgs {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int64_t rank() const = 0;
  virtual int64_t world_size() const = 0;
  /// Sums `tensor` over all ranks, in place; every rank calls it in the same order.
  virtual void all_reduce_sum(at::Tensor& tensor) = 0;
};

}  // namespace ewgs
