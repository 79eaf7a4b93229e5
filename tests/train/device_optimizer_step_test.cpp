// DeviceOptimizerStep against LibTorch's own SGD and Adam: the same parameters and
// state after many steps with changing learning rates, the host step counts kept,
// and the preconditions a captured CUDA graph relies on.
#include "ewgs/train/device_optimizer_step.h"

#include <torch/torch.h>

#include <functional>

#include "support/support.h"

namespace ewgs::test {
namespace {

using MakeOptimizer =
    std::function<std::unique_ptr<torch::optim::Optimizer>(std::vector<torch::Tensor>)>;

/// Parameters of odd shapes, the same values in every call.
std::vector<torch::Tensor> make_params() {
  torch::manual_seed(11);
  return {
      torch::randn({7, 3}).requires_grad_(true),
      torch::randn({5}).requires_grad_(true),
      torch::randn({2, 3, 3, 3}).requires_grad_(true)};
}

/// The gradient of step `t` for every parameter: fixed, different per step.
void set_gradients(const std::vector<torch::Tensor>& params, int64_t t) {
  torch::manual_seed(100 + t);
  for (const auto& p : params) {
    p.mutable_grad() = torch::randn_like(p);
  }
}

double learning_rate(int64_t t) {
  return t < 6 ? 0.01 : 0.003;  // changes mid-way, as a schedule does between epochs
}

/// The largest parameter difference after `steps` updates by LibTorch alone and
/// by one LibTorch step (which creates the state) then DeviceOptimizerStep: the
/// moments and momentum buffers feed every later update, so they are compared too.
/// `adam_step` receives the host step count Adam's state ends with.
double max_difference(const MakeOptimizer& make, int64_t steps, int64_t* adam_step = nullptr) {
  auto reference_params = make_params();
  auto device_params = make_params();
  train::Optimizers reference{make(reference_params), nullptr};
  train::Optimizers device{make(device_params), nullptr};
  std::unique_ptr<train::DeviceOptimizerStep> device_step;
  for (int64_t t = 0; t < steps; ++t) {
    reference.set_learning_rates(learning_rate(t), 0);
    device.set_learning_rates(learning_rate(t), 0);
    set_gradients(reference_params, t);
    set_gradients(device_params, t);
    reference.step();
    if (t == 0) {
      device.step();
      device_step = std::make_unique<train::DeviceOptimizerStep>(device);
    } else {
      device_step->prepare();
      device_step->step();
      device_step->finish();
    }
  }
  double out = 0;
  for (size_t i = 0; i < reference_params.size(); ++i) {
    out = std::max(out, (reference_params[i] - device_params[i]).abs().max().item<double>());
  }
  if (adam_step != nullptr) {
    for (auto& [key, state] : device.model->state()) {
      *adam_step = static_cast<torch::optim::AdamParamState&>(*state).step();
    }
  }
  return out;
}

TEST(DeviceOptimizerStepTest, MatchesLibTorchAdamExactly) {
  for (double weight_decay : {0.0, 1e-4}) {
    for (bool amsgrad : {false, true}) {
      int64_t host_step = -1;
      const double diff = max_difference(
          [&](std::vector<torch::Tensor> p) {
            return std::make_unique<torch::optim::Adam>(
                p, torch::optim::AdamOptions(0.01).weight_decay(weight_decay).amsgrad(amsgrad));
          },
          12,
          &host_step);
      EXPECT_EQ(diff, 0.0) << "weight_decay " << weight_decay << " amsgrad " << amsgrad;
      EXPECT_EQ(host_step, 12);
    }
  }
}

TEST(DeviceOptimizerStepTest, MatchesLibTorchSgdToRounding) {
  for (bool nesterov : {false, true}) {
    const double diff = max_difference(
        [&](std::vector<torch::Tensor> p) {
          return std::make_unique<torch::optim::SGD>(
              p,
              torch::optim::SGDOptions(0.01).momentum(0.9).weight_decay(5e-4).nesterov(nesterov));
        },
        12);
    // LibTorch applies lr with one multiply-add, this step multiplies first: one
    // rounding more per update, a few float ulps after 12 steps (a wrong momentum,
    // decay or learning rate moves parameters by 1e-4 or more here).
    EXPECT_LT(diff, 1e-6) << "nesterov " << nesterov;
  }
}

TEST(DeviceOptimizerStepTest, NeedsTheOptimizerStateOfEveryParameterWithAGradient) {
  auto params = make_params();
  train::Optimizers optimizers{
      std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(0.01)), nullptr};
  set_gradients(params, 0);
  EWGS_EXPECT_THROWS_WITH(
      train::DeviceOptimizerStep{optimizers}, "take one ordinary optimizer step first");
}

}  // namespace
}  // namespace ewgs::test
