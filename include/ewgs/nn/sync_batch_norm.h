// BatchNorm layers of the models: LibTorch's BatchNorm1d/2d computation and state
// names, whose training-mode statistics can be taken over all ranks of a
// data-parallel run instead (model.sync_bn).
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/options/batchnorm.h>
#include <torch/nn/pimpl.h>

#include <memory>

#include "ewgs/core/collective.h"

namespace ewgs::nn {

/// BatchNorm over (N, C) or (N, C, L) inputs (`Dims` 1) or (N, C, H, W) ones
/// (`Dims` 2), with LibTorch's parameters and buffers (weight, bias,
/// running_mean, running_var, num_batches_tracked) and, alone or in eval mode,
/// LibTorch's computation. Synchronized over a group, a training step takes the
/// mean and biased variance of the union of every rank's batch (two all-reduces,
/// both differentiable) and updates the running statistics with the union's
/// unbiased variance, as one process with the whole batch would.
template <int64_t Dims>
class SyncBatchNormImpl : public torch::nn::Cloneable<SyncBatchNormImpl<Dims>> {
 public:
  explicit SyncBatchNormImpl(const torch::nn::BatchNormOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& input);
  /// Statistics over `group` from now on (nullptr: this rank's batch only).
  void synchronize(std::shared_ptr<Collective> group) { group_ = std::move(group); }

  torch::nn::BatchNormOptions options;
  torch::Tensor weight;
  torch::Tensor bias;
  torch::Tensor running_mean;
  torch::Tensor running_var;
  torch::Tensor num_batches_tracked;

 private:
  std::shared_ptr<Collective> group_;
};

using SyncBatchNorm1dImpl = SyncBatchNormImpl<1>;
using SyncBatchNorm2dImpl = SyncBatchNormImpl<2>;
TORCH_MODULE_IMPL(SyncBatchNorm1d, SyncBatchNorm1dImpl);
TORCH_MODULE_IMPL(SyncBatchNorm2d, SyncBatchNorm2dImpl);

/// Points every SyncBatchNorm of `model` at `group` (nullptr: local again);
/// returns how many layers it set.
int64_t synchronize_batch_norm(torch::nn::Module& model, const std::shared_ptr<Collective>& group);

}  // namespace ewgs::nn
