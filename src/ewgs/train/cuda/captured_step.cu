// CapturedStep with LibTorch's at::cuda::CUDAGraph (include/ewgs/train/captured_step.h):
// eager warm-up on a side stream, one capture of forward, backward and
// DeviceOptimizerStep, then replays into static inputs and outputs.
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/Exception.h>
#include <torch/cuda.h>

#include "ewgs/kernels/interval_quant.h"
#include "ewgs/train/captured_step.h"
#include "ewgs/train/device_optimizer_step.h"

namespace ewgs::train {

struct CapturedStep::Impl {
  Optimizers& optimizers;
  std::vector<torch::Tensor> params;
  ForwardLoss forward_loss;
  c10::cuda::CUDAStream side;
  /// The batch shape being warmed up for, and how many such batches ran.
  std::vector<int64_t> warm_shape;
  int warmed = 0;
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  std::unique_ptr<DeviceOptimizerStep> update;
  torch::Tensor images;  ///< the graph's static inputs
  torch::Tensor labels;
  StepOutputs outputs;  ///< the graph's static outputs
  std::vector<kernels::DeferredQuantizerCheck> checks;

  Impl(Optimizers& o, std::vector<torch::Tensor> p, ForwardLoss f)
      : optimizers(o),
        params(std::move(p)),
        forward_loss(std::move(f)),
        side(c10::cuda::getStreamFromPool()) {}

  /// An ordinary step on the side stream, ordered after and before the current stream's work.
  StepOutputs warm_up(const std::function<StepOutputs()>& eager_step) {
    torch::cuda::synchronize();
    StepOutputs out;
    {
      const c10::cuda::CUDAStreamGuard guard(side);
      out = eager_step();
    }
    torch::cuda::synchronize();
    return out;
  }

  void capture(const torch::Tensor& batch_images, const torch::Tensor& batch_labels) {
    images = batch_images.clone();
    labels = batch_labels.clone();
    // The captured backward allocates the gradients in the graph's memory pool,
    // where every replay writes them.
    for (auto& p : params) {
      p.mutable_grad() = torch::Tensor();
    }
    update = std::make_unique<DeviceOptimizerStep>(optimizers);
    kernels::take_deferred_quantizer_checks();  // none belong to this graph
    torch::cuda::synchronize();
    graph = std::make_unique<at::cuda::CUDAGraph>();
    {
      const c10::cuda::CUDAStreamGuard guard(side);
      graph->capture_begin();
      outputs = forward_loss(images, labels);
      outputs.loss.backward();
      update->step();
      graph->capture_end();
    }
    checks = kernels::take_deferred_quantizer_checks();
    for (auto& c : checks) {
      c.flag.zero_();
    }
    torch::cuda::synchronize();
  }

  StepOutputs replay(const torch::Tensor& batch_images, const torch::Tensor& batch_labels) {
    images.copy_(batch_images);
    labels.copy_(batch_labels);
    update->prepare();
    graph->replay();
    update->finish();
    return outputs;
  }
};

CapturedStep::CapturedStep(
    Optimizers& optimizers, std::vector<torch::Tensor> params, ForwardLoss forward_loss)
    : impl_(std::make_unique<Impl>(optimizers, std::move(params), std::move(forward_loss))) {}

CapturedStep::~CapturedStep() = default;

StepOutputs CapturedStep::step(
    const torch::Tensor& images,
    const torch::Tensor& labels,
    const std::function<StepOutputs()>& eager_step) {
  auto& s = *impl_;
  const auto shape = images.sizes().vec();
  if (s.graph) {
    return shape == s.images.sizes().vec() ? s.replay(images, labels) : eager_step();
  }
  // The graph is for the largest batch seen (a run resumed at an epoch's last,
  // partial batch meets the full ones later); other shapes train the ordinary way.
  if (s.warm_shape.empty() || shape[0] > s.warm_shape[0]) {
    s.warm_shape = shape;
    s.warmed = 0;
  }
  if (shape != s.warm_shape) {
    return eager_step();
  }
  if (s.warmed < kWarmupSteps) {
    ++s.warmed;
    return s.warm_up(eager_step);
  }
  s.capture(images, labels);
  return s.replay(images, labels);
}

void CapturedStep::check_quantizer_inputs() const {
  const auto& checks = impl_->checks;
  if (checks.empty()) {
    return;
  }
  std::vector<torch::Tensor> flags;
  for (const auto& c : checks) {
    flags.push_back(c.flag);
  }
  const auto seen = torch::cat(flags).cpu();
  const auto* set = seen.data_ptr<int>();
  for (size_t i = 0; i < checks.size(); ++i) {
    TORCH_CHECK(
        set[i] == 0,
        kernels::quantizer_check_failure(set[i], checks[i].what),
        ", seen in a replay of the training step's CUDA graph (run.cuda_graph)");
  }
}

bool CapturedStep::captured() const {
  return impl_->graph != nullptr;
}

}  // namespace ewgs::train
