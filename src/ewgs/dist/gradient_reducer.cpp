// Bucketed gradient averaging (include/ewgs/dist/gradient_reducer.h).
#include "ewgs/dist/gradient_reducer.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <chrono>
#include <utility>

namespace ewgs::dist {

double local_loss_weight(int64_t local, int64_t global, int64_t world) {
  TORCH_CHECK(
      local >= 0 && local <= global && global > 0 && world >= 1,
      "local_loss_weight: need 0 <= local <= global, ",
      "global > 0 and world >= 1, got local ",
      local,
      ", global ",
      global,
      ", world ",
      world);
  return static_cast<double>(local) * static_cast<double>(world) / static_cast<double>(global);
}

GradientReducer::GradientReducer(
    std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> parameters, int64_t bucket_bytes)
    : group_(std::move(group)), parameters_(std::move(parameters)) {
  TORCH_CHECK(group_ != nullptr, "GradientReducer: the process group is null");
  TORCH_CHECK(bucket_bytes > 0, "GradientReducer: bucket_bytes must be > 0, got ", bucket_bytes);
  int64_t filled = 0;
  for (size_t i = parameters_.size(); i-- > 0;) {
    const auto& p = parameters_[i];
    const bool fits = !buckets_.empty() &&
                      filled + static_cast<int64_t>(p.nbytes()) <= bucket_bytes &&
                      parameters_[buckets_.back().front()].options().type_equal(p.options());
    if (!fits) {
      buckets_.emplace_back();
      filled = 0;
    }
    buckets_.back().push_back(i);
    filled += static_cast<int64_t>(p.nbytes());
  }
}

double GradientReducer::take_seconds() {
  return std::exchange(seconds_, 0.0);
}

void GradientReducer::average() {
  if (group_->world_size() == 1) {
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  // Which parameters have a gradient on some rank (a max over presence flags).
  auto present = at::empty({static_cast<int64_t>(parameters_.size())}, at::kFloat);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    present.data_ptr<float>()[i] = parameters_[i].grad().defined() ? 1.0f : 0.0f;
  }
  present = present.to(group_->tensor_options().device());
  group_->all_reduce_max(present);
  present = present.cpu();
  const auto* flags = present.data_ptr<float>();
  std::vector<at::Tensor> flat;
  std::vector<std::unique_ptr<PendingCollective>> pending;
  for (const auto& bucket : buckets_) {
    std::vector<at::Tensor> grads;
    for (size_t i : bucket) {
      if (flags[i] == 0.0f) {
        continue;
      }
      auto& p = parameters_[i];
      if (!p.grad().defined()) {
        p.mutable_grad() = at::zeros_like(p);
      }
      grads.push_back(p.grad().reshape({-1}));
    }
    if (grads.empty()) {
      flat.emplace_back();
      continue;
    }
    flat.push_back(at::cat(grads));
    pending.push_back(group_->start_all_reduce_sum(flat.back()));
  }
  for (auto& p : pending) {
    p->wait();
  }
  const double scale = 1.0 / static_cast<double>(group_->world_size());
  for (size_t b = 0; b < buckets_.size(); ++b) {
    if (!flat[b].defined()) {
      continue;
    }
    int64_t offset = 0;
    for (size_t i : buckets_[b]) {
      if (flags[i] == 0.0f) {
        continue;
      }
      auto grad = parameters_[i].grad();
      const int64_t n = grad.numel();
      grad.copy_(flat[b].narrow(0, offset, n).view_as(grad)).mul_(scale);
      offset += n;
    }
  }
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace ewgs::dist
