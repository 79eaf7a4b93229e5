// The processes of a data-parallel run and their collectives, on LibTorch's c10d:
// a TCPStore rendezvous at MASTER_ADDR:MASTER_PORT and a Gloo (CPU) or NCCL (CUDA) group.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/TensorOptions.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ewgs/core/collective.h"
#include "ewgs/dist/launch_env.h"

namespace ewgs::dist {

struct ProcessGroupOptions {
  /// "auto" (NCCL for CUDA tensors when LibTorch has it, else Gloo), "gloo" or "nccl".
  std::string backend = "auto";
  /// Longest wait for the rendezvous and for any collective: a rank that died
  /// or stalls turns into an error on the others after this many seconds.
  double timeout_s = 300.0;
};

/// A collective in flight; wait() returns once its result is in place.
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  virtual void wait() = 0;
};

/// The group of all ranks of the run. With one process every collective is
/// the identity and nothing is connected. Collectives must be called by all
/// ranks in the same order with tensors of the same shape and dtype; an error
/// (a rank that died, a timeout) is a c10::Error naming this rank, the
/// operation and the timeout.
class ProcessGroup : public Collective {
 public:
  /// Connects to the others (rank 0 serves the store); `cuda` selects the
  /// backend of "auto". A rendezvous that does not complete within the
  /// timeout is an error naming MASTER_ADDR:MASTER_PORT.
  static std::shared_ptr<ProcessGroup> connect(
      const LaunchEnv& env, const ProcessGroupOptions& options, bool cuda);
  /// The group of a process that runs alone.
  static std::shared_ptr<ProcessGroup> single();

  int64_t rank() const override { return rank_; }
  int64_t world_size() const override { return world_size_; }
  /// "gloo", "nccl" or "none" (one process).
  virtual std::string backend() const = 0;
  /// Where collectives take their tensors: the CPU for Gloo, this rank's GPU for NCCL.
  virtual at::TensorOptions tensor_options() const = 0;

  /// Sums `tensor` over all ranks, in place.
  void all_reduce_sum(at::Tensor& tensor) override;
  /// Element-wise maximum of `tensor` over all ranks, in place.
  void all_reduce_max(at::Tensor& tensor);
  /// Starts the in-place sum of `tensor` (kept alive until wait()).
  virtual std::unique_ptr<PendingCollective> start_all_reduce_sum(at::Tensor tensor) = 0;
  /// Copies rank `root`'s `tensor` into every rank's, in place.
  virtual void broadcast(at::Tensor& tensor, int64_t root = 0) = 0;
  /// Every rank's `local`, in rank order (shapes must agree).
  virtual std::vector<at::Tensor> all_gather(const at::Tensor& local) = 0;
  /// Returns once every rank has called it.
  virtual void barrier() = 0;

  /// Rank `root`'s text on every rank.
  std::string broadcast_text(const std::string& text, int64_t root = 0);
  /// Every rank's text, in rank order (lengths may differ).
  std::vector<std::string> all_gather_text(const std::string& text);

 protected:
  ProcessGroup(int64_t rank, int64_t world_size) : rank_(rank), world_size_(world_size) {}
  virtual void all_reduce(at::Tensor& tensor, bool max) = 0;

 private:
  int64_t rank_;
  int64_t world_size_;
};

}  // namespace ewgs::dist
