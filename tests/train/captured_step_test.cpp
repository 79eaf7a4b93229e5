// CapturedStep: replays of the CUDA graph train like the ordinary steps, a NaN input
// inside a replay is an error naming the quantizer, and a build without CUDA says so.
#include "ewgs/train/captured_step.h"

#include <torch/torch.h>

#include "ewgs/models/registry.h"
#include "ewgs/version.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

/// small_cnn with EWGS W1A1 and its optimizers (Adam, as the paper's recipe).
struct Trained {
  models::ClassifierPtr model;
  train::Optimizers optimizers;

  explicit Trained(const torch::Device& device) {
    train::TrainConfig config;
    config.quant_method = "ewgs";
    config.quant_wbits = 1;
    config.quant_abits = 1;
    config.quant_delta = "1e-3";
    config.optim_optimizer = "adam";
    config.optim_lr = 1e-3;
    torch::manual_seed(3);
    model = models::make_model("small_cnn", {10, 3, config.quant_spec()});
    model->to(device);
    model->train();
    optimizers = train::make_optimizers(config, *model);
  }

  train::StepOutputs forward_loss(const torch::Tensor& images, const torch::Tensor& labels) {
    auto logits = model->forward(images);
    return {torch::nn::functional::cross_entropy(logits, labels), logits};
  }

  train::StepOutputs eager_step(const torch::Tensor& images, const torch::Tensor& labels) {
    optimizers.zero_grad();
    auto out = forward_loss(images, labels);
    out.loss.backward();
    optimizers.step();
    return out;
  }

  std::unique_ptr<train::CapturedStep> captured_step() {
    return std::make_unique<train::CapturedStep>(
        optimizers, model->parameters(), [this](const torch::Tensor& i, const torch::Tensor& l) {
          return forward_loss(i, l);
        });
  }
};

/// Batch `t` of 16 images (the last of every 4 is partial, 5 images).
std::pair<torch::Tensor, torch::Tensor> batch(int64_t t, const torch::Device& device) {
  torch::manual_seed(1000 + t);
  const int64_t n = t % 4 == 3 ? 5 : 16;
  return {torch::randn({n, 3, 32, 32}).to(device), torch::randint(0, 10, {n}).to(device)};
}

TEST(CapturedStepTest, ReplaysTrainLikeTheOrdinarySteps_CUDA) {
  const torch::Device cuda(torch::kCUDA);
  Trained eager(cuda);
  Trained graphed(cuda);
  auto graph = graphed.captured_step();
  for (int64_t t = 0; t < 12; ++t) {
    const auto data = batch(t, cuda);  // named members: lambdas may not capture bindings (C++17)
    const auto& images = data.first;
    const auto& labels = data.second;
    const double lr = t < 6 ? 1e-3 : 3e-4;  // a schedule's change needs no re-capture
    eager.optimizers.set_learning_rates(lr, 1e-5);
    graphed.optimizers.set_learning_rates(lr, 1e-5);
    const auto a = eager.eager_step(images, labels);
    const auto b = graph->step(images, labels, [&] { return graphed.eager_step(images, labels); });
    EXPECT_TRUE(all_close(b.loss.cpu(), a.loss.cpu(), 1e-4, 1e-6)) << "step " << t;
  }
  EXPECT_TRUE(graph->captured());
  graph->check_quantizer_inputs();
  const auto want = eager.model->named_parameters();
  for (const auto& p : graphed.model->named_parameters()) {
    // Same formulas; cuDNN may pick other algorithms inside the capture.
    EXPECT_TRUE(all_close(p.value().cpu(), want[p.key()].cpu(), 1e-4, 1e-5)) << p.key();
  }
}

TEST(CapturedStepTest, ANonFiniteInputInAReplayNamesTheQuantizer_CUDA) {
  const torch::Device cuda(torch::kCUDA);
  Trained graphed(cuda);
  auto graph = graphed.captured_step();
  for (int64_t t = 0; t < 6; ++t) {
    const auto data = batch(t % 3, cuda);  // full batches only
    const auto& images = data.first;
    const auto& labels = data.second;
    if (t == 5) {
      images[0][1][2][3] = std::numeric_limits<float>::quiet_NaN();
    }
    graph->step(images, labels, [&] { return graphed.eager_step(images, labels); });
  }
  ASSERT_TRUE(graph->captured());
  EWGS_EXPECT_THROWS_WITH(
      graph->check_quantizer_inputs(),
      "input has non-finite values (NaN or Inf), seen in a replay of the training step's CUDA "
      "graph");
}

#if !defined(EWGS_WITH_CUDA)
TEST(CapturedStepTest, ABuildWithoutCudaSaysHowToGetOne) {
  Trained trained(torch::kCPU);
  EWGS_EXPECT_THROWS_WITH(trained.captured_step(), "configure with -DEWGS_USE_CUDA=ON");
}
#endif

}  // namespace
}  // namespace ewgs::test
