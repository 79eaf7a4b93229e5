// The paper's optimizer grouping: model parameters (weights, biases, BatchNorm)
// get the configured optimizer with weight decay; quantizer parameters (l, u,
// alpha) get Adam at optim.quant_lr without weight decay.
#include "ewgs/train/optimizers.h"

#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/torch.h>

#include <set>

#include "ewgs/nn/qconv2d.h"
#include "ewgs/nn/qlinear.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

struct NetImpl : torch::nn::Module {
  NetImpl()
      : conv(register_module(
            "conv",
            nn::QConv2d(
                nn::QConv2dOptions(1, 2, 3).weight_quant("ewgs:bits=1").act_quant("ewgs:bits=2")))),
        bn(register_module("bn", torch::nn::BatchNorm2d(2))),
        fc(register_module(
            "fc",
            nn::QLinear(nn::QLinearOptions(2, 3)
                            .bias(true)
                            .weight_quant("ewgs:bits=2")
                            .act_quant("off")))) {}
  nn::QConv2d conv;
  torch::nn::BatchNorm2d bn;
  nn::QLinear fc;
};
TORCH_MODULE(Net);

std::set<const void*> identities(const std::vector<torch::Tensor>& tensors) {
  std::set<const void*> out;
  for (const auto& t : tensors) {
    out.insert(t.unsafeGetTensorImpl());
  }
  return out;
}

std::vector<torch::Tensor> named(Net& net, const std::vector<std::string>& names) {
  std::vector<torch::Tensor> out;
  const auto params = net->named_parameters();
  for (const auto& name : names) {
    out.push_back(params[name]);
  }
  return out;
}

const std::vector<std::string> kModelParameters = {
    "conv.weight", "bn.weight", "bn.bias", "fc.weight", "fc.bias"};
const std::vector<std::string> kQuantizerParameters = {
    "conv.weight_quant.lower",
    "conv.weight_quant.upper",
    "conv.act_quant.lower",
    "conv.act_quant.upper",
    "conv.output_scale",
    "fc.weight_quant.lower",
    "fc.weight_quant.upper",
    "fc.output_scale"};

TEST(OptimizersTest, ModelParametersGetSgdWithWeightDecayQuantizerParametersAdamWithout) {
  Net net;
  train::TrainConfig config;
  config.optim_optimizer = "sgd";
  config.optim_lr = 0.1;
  config.optim_momentum = 0.9;
  config.optim_weight_decay = 5e-4;
  config.optim_nesterov = true;
  config.optim_quant_lr = 1e-3;
  auto optimizers = train::make_optimizers(config, *net);

  auto* sgd = dynamic_cast<torch::optim::SGD*>(optimizers.model.get());
  ASSERT_NE(sgd, nullptr);
  ASSERT_EQ(sgd->param_groups().size(), 1u);
  const auto& sgd_options =
      static_cast<const torch::optim::SGDOptions&>(sgd->param_groups()[0].options());
  EXPECT_EQ(sgd_options.lr(), 0.1);
  EXPECT_EQ(sgd_options.weight_decay(), 5e-4);
  EXPECT_EQ(sgd_options.momentum(), 0.9);
  EXPECT_TRUE(sgd_options.nesterov());
  EXPECT_EQ(identities(sgd->param_groups()[0].params()), identities(named(net, kModelParameters)));

  auto* adam = dynamic_cast<torch::optim::Adam*>(optimizers.quant.get());
  ASSERT_NE(adam, nullptr);
  ASSERT_EQ(adam->param_groups().size(), 1u);
  const auto& adam_options =
      static_cast<const torch::optim::AdamOptions&>(adam->param_groups()[0].options());
  EXPECT_EQ(adam_options.lr(), 1e-3);
  EXPECT_EQ(adam_options.weight_decay(), 0.0);
  EXPECT_EQ(
      identities(adam->param_groups()[0].params()), identities(named(net, kQuantizerParameters)));

  optimizers.set_learning_rates(0.05, 2e-3);
  EXPECT_EQ(sgd->param_groups()[0].options().get_lr(), 0.05);
  EXPECT_EQ(adam->param_groups()[0].options().get_lr(), 2e-3);
}

TEST(OptimizersTest, AStepWithZeroGradientsDecaysModelWeightsOnly) {
  Net net;
  train::TrainConfig config;
  config.optim_optimizer = "sgd";
  config.optim_lr = 0.1;
  config.optim_momentum = 0;
  config.optim_weight_decay = 0.01;
  auto optimizers = train::make_optimizers(config, *net);
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : net->named_parameters()) {
    before[p.key()] = p.value().detach().clone();
    p.value().mutable_grad() = torch::zeros_like(p.value());
  }
  optimizers.step();
  const auto params = net->named_parameters();
  for (const auto& name : kModelParameters) {
    // SGD with weight decay: p -= lr * wd * p.
    EXPECT_TRUE(all_close(params[name], before[name] * (1 - 0.1 * 0.01), 1e-6, 1e-7)) << name;
  }
  for (const auto& name : kQuantizerParameters) {
    EXPECT_TRUE(all_equal(params[name], before[name])) << name;  // no decay on l, u, alpha
  }
}

TEST(OptimizersTest, AdamCarriesTheWeightDecayAsL2) {
  Net net;
  train::TrainConfig config;
  config.optim_optimizer = "adam";
  config.optim_lr = 1e-3;
  config.optim_weight_decay = 1e-4;
  auto optimizers = train::make_optimizers(config, *net);
  auto* adam = dynamic_cast<torch::optim::Adam*>(optimizers.model.get());
  ASSERT_NE(adam, nullptr);
  const auto& options =
      static_cast<const torch::optim::AdamOptions&>(adam->param_groups()[0].options());
  EXPECT_EQ(options.weight_decay(), 1e-4);
  EXPECT_EQ(options.lr(), 1e-3);
  EXPECT_EQ(identities(adam->param_groups()[0].params()), identities(named(net, kModelParameters)));
}

}  // namespace
}  // namespace ewgs::test
