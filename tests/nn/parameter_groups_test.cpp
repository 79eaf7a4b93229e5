// split_parameters: quantizer intervals and output scales go to the quantizer
// group, everything else to the model group, each parameter exactly once.
#include "ewgs/nn/parameter_groups.h"

#include <torch/torch.h>

#include "ewgs/nn/qconv2d.h"
#include "ewgs/nn/qlinear.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

struct TwoLayerNetImpl : torch::nn::Module {
  TwoLayerNetImpl()
      : conv(register_module(
            "conv",
            nn::QConv2d(nn::QConv2dOptions(1, 2, 3).weight_quant("ewgs:bits=1").act_quant("off")))),
        bn(register_module("bn", torch::nn::BatchNorm2d(2))),
        fc(register_module("fc", nn::QLinear(nn::QLinearOptions(2, 3).bias(true)))) {}
  nn::QConv2d conv;
  torch::nn::BatchNorm2d bn;
  nn::QLinear fc;
};
TORCH_MODULE(TwoLayerNet);

TEST(ParameterGroupsTest, SplitsQuantizerParametersFromModelParameters) {
  TwoLayerNet net;
  const auto groups = nn::split_parameters(*net);
  // model: conv.weight, bn.weight, bn.bias, fc.weight, fc.bias
  EXPECT_EQ(groups.model.size(), 5u);
  // quantizer: conv (alpha, l_W, u_W) + fc (alpha, l_W, u_W, l_A, u_A)
  EXPECT_EQ(groups.quantizer.size(), 8u);
  for (const auto& p : groups.quantizer) {
    EXPECT_EQ(p.dim(), 0);
  }
  EXPECT_TRUE(groups.model[0].is_same(net->conv->weight));
}

}  // namespace
}  // namespace ewgs::test
