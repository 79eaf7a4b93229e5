// BatchNorm with statistics over all ranks (include/ewgs/nn/sync_batch_norm.h).
#include "ewgs/nn/sync_batch_norm.h"

#include <torch/torch.h>

#include "ewgs/nn/rank_gradients.h"

namespace ewgs::nn {
template <int64_t Dims>
SyncBatchNormImpl<Dims>::SyncBatchNormImpl(const torch::nn::BatchNormOptions& options_)
    : options(options_) {
  reset();
}

template <int64_t Dims>
void SyncBatchNormImpl<Dims>::reset() {
  const int64_t c = options.num_features();
  if (options.affine()) {
    weight = this->register_parameter("weight", torch::ones({c}));
    bias = this->register_parameter("bias", torch::zeros({c}));
  }
  if (options.track_running_stats()) {
    running_mean = this->register_buffer("running_mean", torch::zeros({c}));
    running_var = this->register_buffer("running_var", torch::ones({c}));
    num_batches_tracked =
        this->register_buffer("num_batches_tracked", torch::tensor(0, torch::kLong));
  }
}

template <int64_t Dims>
void SyncBatchNormImpl<Dims>::pretty_print(std::ostream& stream) const {
  stream << "ewgs::nn::SyncBatchNorm" << Dims << "d(" << options.num_features()
         << ", eps=" << options.eps() << ", momentum=";
  if (options.momentum().has_value()) {
    stream << *options.momentum();
  } else {
    stream << "None";
  }
  stream << ", affine=" << options.affine()
         << ", track_running_stats=" << options.track_running_stats()
         << (group_ ? ", synchronized" : "") << ")";
}

template <int64_t Dims>
torch::Tensor SyncBatchNormImpl<Dims>::forward(const torch::Tensor& x) {
  const bool rank_shaped = Dims == 2 ? x.dim() == 4 : (x.dim() == 2 || x.dim() == 3);
  TORCH_CHECK(
      rank_shaped,
      "SyncBatchNorm",
      Dims,
      "d: expected ",
      Dims == 2 ? "4D (N, C, H, W)" : "2D or 3D (N, C[, L])",
      " input, got ",
      x.dim(),
      "D");
  const bool training = this->is_training();
  // The running averages' weight: momentum, or 1/n for a cumulative average.
  double factor = 0.0;
  if (training && options.track_running_stats()) {
    num_batches_tracked.add_(1);
    factor = options.momentum().has_value() ? *options.momentum()
                                            : 1.0 / num_batches_tracked.item<double>();
  }
  if (group_ == nullptr || group_->world_size() == 1 || !training) {
    return torch::nn::functional::detail::batch_norm(
        x,
        running_mean,
        running_var,
        weight,
        bias,
        training || !options.track_running_stats(),
        factor,
        options.eps());
  }
  // Two passes, as LibTorch's kernels: the mean, then the variance of the
  // centred values, each a local sum all-reduced over the ranks.
  const int64_t channels = x.size(1);
  std::vector<int64_t> dims{0};
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = channels;
  for (int64_t d = 2; d < x.dim(); ++d) {
    dims.push_back(d);
  }
  // The count rides with the first sum (a constant: no gradient).
  const double local_count = static_cast<double>(x.numel() / std::max<int64_t>(channels, 1));
  const auto sum_and_count = all_reduce_sum(
      torch::cat({x.sum(dims), torch::full({1}, local_count, x.options())}), *group_);
  const auto count = sum_and_count.narrow(0, channels, 1);
  const double n = count.item<double>();
  TORCH_CHECK(
      n > 1, "SyncBatchNorm: expected more than one value per channel over all ranks, got ", n);
  const auto mean = sum_and_count.narrow(0, 0, channels) / count;
  const auto centred = x - mean.view(shape);
  const auto var = all_reduce_sum((centred * centred).sum(dims), *group_) / n;
  auto y = centred * torch::rsqrt(var + options.eps()).view(shape);
  if (options.affine()) {
    y = y * weight.view(shape) + bias.view(shape);
  }
  if (options.track_running_stats()) {
    torch::NoGradGuard no_grad;
    running_mean.mul_(1.0 - factor).add_(mean.detach(), factor);
    running_var.mul_(1.0 - factor).add_(var.detach() * (n / (n - 1.0)), factor);
  }
  return y;
}

template class SyncBatchNormImpl<1>;
template class SyncBatchNormImpl<2>;

int64_t synchronize_batch_norm(torch::nn::Module& model, const std::shared_ptr<Collective>& group) {
  int64_t set = 0;
  for (auto& module : model.modules()) {
    if (auto* bn2d = module->as<SyncBatchNorm2dImpl>()) {
      bn2d->synchronize(group);
      ++set;
    } else if (auto* bn1d = module->as<SyncBatchNorm1dImpl>()) {
      bn1d->synchronize(group);
      ++set;
    }
  }
  return set;
}

}  // namespace ewgs::nn
