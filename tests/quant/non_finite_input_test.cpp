// NaN reaching a quantizer is an error that names the layer, on every path (the
// fused CPU and CUDA kernels, the composite ops, the twice-differentiable path the
// Hessian estimator uses) and for every method. No path may turn NaN into a level.
#include <torch/torch.h>

#include "ewgs/models/registry.h"
#include "ewgs/nn/quantized_layers.h"
#include "ewgs/quant/fused_kernels.h"
#include "ewgs/quant/interval_quantizer.h"
#include "ewgs/quant/registry.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

/// small_cnn at W2A2 EWGS, initialized on a finite batch, on `device`.
models::ClassifierPtr initialized_model(const torch::Device& device) {
  models::ModelOptions options;
  options.num_classes = 10;
  options.in_channels = 1;
  options.quant.weight = "ewgs:bits=2";
  options.quant.act = "ewgs:bits=2";
  auto model = models::make_model("small_cnn", options);
  model->to(device);
  model->train();
  model->forward(torch::randn({4, 1, 12, 12}, device));
  return model;
}

/// A batch whose NaN reaches conv2's activation quantizer through conv1 (FP).
torch::Tensor nan_batch(const torch::Device& device) {
  auto x = torch::randn({4, 1, 12, 12});
  x[1][0][5][5] = std::numeric_limits<float>::quiet_NaN();
  return x.to(device);
}

void expect_named_error(
    models::ClassifierImpl& model, const torch::Device& device, const std::string& path) {
  EWGS_EXPECT_THROWS_WITH(
      model.forward(nan_batch(device)),
      "ewgs activation quantizer of conv2: input has non-finite values (NaN or Inf)");
  SCOPED_TRACE(path);
}

class NonFiniteInputTest : public SeededTest {
 protected:
  void TearDown() override { quant::set_fused_kernels(true); }
};

TEST_F(NonFiniteInputTest, EveryCpuPathNamesTheLayer) {
  const torch::Device cpu(torch::kCPU);
  auto model = initialized_model(cpu);
  expect_named_error(*model, cpu, "fused kernel");
  quant::set_fused_kernels(false);
  expect_named_error(*model, cpu, "composite ops");
  quant::set_fused_kernels(true);
  for (const auto& item : nn::named_quantized_layers(*model)) {
    for (const auto& q : item.layer->quantizers()) {
      q->set_differentiable_backward(true);
    }
  }
  expect_named_error(*model, cpu, "differentiable path");
}

TEST_F(NonFiniteInputTest, EveryMethodNamesTheLayer) {
  for (const auto& method : quant::quantizer_registry().names()) {
    if (method == "lbt") {
      continue;  // A gradient quantizer: its forward passes the layer output through.
    }
    int tested = 0;
    for (const auto target : {quant::QuantTarget::kWeight, quant::QuantTarget::kActivation}) {
      quant::QuantizerPtr q;
      try {
        q = quant::make_quantizer(method + ":bits=2", target);
      } catch (const c10::Error&) {
        continue;  // e.g. PACT has no weight quantizer
      }
      q->set_layer("block3");
      q->train();
      auto x = torch::randn({2, 3, 4, 4});
      q->initialize(x);
      for (const float bad :
           {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
        auto y = x.clone();
        y[1][2][3][0] = bad;
        SCOPED_TRACE(method + " " + std::to_string(bad));
        EWGS_EXPECT_THROWS_WITH(
            q->forward(y), q->describe() + " of block3: input has non-finite values (NaN or Inf)");
      }
      ++tested;
    }
    EXPECT_GT(tested, 0) << method;
  }
}

TEST_F(NonFiniteInputTest, TheCudaKernelNamesTheLayer_CUDA) {
  const torch::Device cuda(torch::kCUDA);
  auto model = initialized_model(cuda);
  expect_named_error(*model, cuda, "fused CUDA kernel");
  quant::set_fused_kernels(false);
  expect_named_error(*model, cuda, "composite ops on CUDA");
}

}  // namespace
}  // namespace ewgs::test
