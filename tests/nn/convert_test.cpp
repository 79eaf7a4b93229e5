// convert_to_quantized: a plain LibTorch Sequential becomes a quantized one with the
// same arithmetic where quantizers are off, the layers chosen by name, errors naming
// the layer, and the caller's model untouched.
#include "ewgs/nn/convert.h"

#include <torch/torch.h>

#include "ewgs/nn/qconv2d.h"
#include "ewgs/nn/qlinear.h"
#include "ewgs/nn/quantized_layers.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

namespace tnn = torch::nn;
using nn::convert_to_quantized;
using nn::ConvertOptions;

/// conv (bias) - BN - ReLU - grouped dilated strided conv ("mid") - ReLU - pool - flatten -
/// linear.
tnn::Sequential plain_network() {
  tnn::Sequential net;
  net->push_back(tnn::Conv2d(tnn::Conv2dOptions(3, 8, 3).padding(1).bias(true)));
  net->push_back(tnn::BatchNorm2d(8));
  net->push_back(tnn::ReLU());
  net->push_back(
      "mid",
      tnn::Conv2d(
          tnn::Conv2dOptions(8, 12, 3).stride(2).padding(2).dilation(2).groups(4).bias(false)));
  net->push_back(tnn::ReLU());
  net->push_back(tnn::AdaptiveAvgPool2d(tnn::AdaptiveAvgPool2dOptions(1)));
  net->push_back(tnn::Flatten());
  net->push_back(tnn::Linear(12, 5));
  return net;
}

ConvertOptions all_layers(const std::string& weight, const std::string& act) {
  ConvertOptions options;
  options.weight_quant = weight;
  options.act_quant = act;
  options.keep_first_last = false;
  return options;
}

class ConvertTest : public SeededTest {};

TEST_F(ConvertTest, LayersWithQuantizersOffComputeWhatTheOriginalsDid) {
  auto model = plain_network();
  model->eval();
  const auto x = torch::randn({4, 3, 9, 11});
  const auto expected = model->forward(x);

  auto conversion = convert_to_quantized(model, all_layers("off", "off"));
  conversion.model->eval();
  EXPECT_EQ(conversion.converted, (std::vector<std::string>{"0", "mid", "7"}));
  EXPECT_TRUE(conversion.kept.empty());
  EXPECT_TRUE(conversion.model[0]->as<nn::QConv2dImpl>() != nullptr);
  EXPECT_TRUE(conversion.model[3]->as<nn::QConv2dImpl>() != nullptr);
  EXPECT_TRUE(conversion.model[7]->as<nn::QLinearImpl>() != nullptr);
  // The same operations on the same numbers: bit-identical.
  EXPECT_TRUE(all_equal(conversion.model->forward(x), expected));
}

TEST_F(ConvertTest, FirstAndLastLayersStayFullPrecisionByDefault) {
  ConvertOptions options;
  options.weight_quant = options.act_quant = "ewgs:bits=2";
  auto conversion = convert_to_quantized(plain_network(), options);
  EXPECT_EQ(conversion.converted, (std::vector<std::string>{"mid"}));
  EXPECT_EQ(conversion.kept, (std::vector<std::string>{"0", "7"}));
  EXPECT_TRUE(conversion.model[0]->as<tnn::Conv2dImpl>() != nullptr);
  const auto layers = nn::named_quantized_layers(*conversion.model);
  ASSERT_EQ(layers.size(), 1U);
  EXPECT_EQ(layers[0].name, "mid");
}

TEST_F(ConvertTest, IncludeAndExcludeChooseLayersByWholeName) {
  auto options = all_layers("ewgs:bits=1", "ewgs:bits=1");
  options.include = "m.*|7";
  EXPECT_EQ(
      convert_to_quantized(plain_network(), options).converted,
      (std::vector<std::string>{"mid", "7"}));
  options.include = ".*";
  options.exclude = "7";
  EXPECT_EQ(
      convert_to_quantized(plain_network(), options).converted,
      (std::vector<std::string>{"0", "mid"}));
  options.exclude = "";
  options.include = "mi";  // a whole-name match: "mid" is not "mi"
  EWGS_EXPECT_THROWS_WITH(convert_to_quantized(plain_network(), options), "no layer was selected");
}

TEST_F(ConvertTest, WeightsAreCopiedAndTheCallersModelIsUntouched) {
  auto model = plain_network();
  const auto original_weight = model[0]->as<tnn::Conv2dImpl>()->weight.clone();
  auto conversion = convert_to_quantized(model, all_layers("ewgs:bits=2", "ewgs:bits=2"));
  auto* q = conversion.model[0]->as<nn::QConv2dImpl>();
  EXPECT_TRUE(torch::equal(q->weight, original_weight));
  EXPECT_TRUE(torch::equal(q->bias, model[0]->as<tnn::Conv2dImpl>()->bias));
  // Unconverted modules are copies too: training the result leaves the input alone.
  EXPECT_NE(conversion.model[1].get(), model[1].get());
  conversion.model->train();
  const auto x = torch::randn({4, 3, 9, 11});
  conversion.model->forward(x).sum().backward();
  torch::NoGradGuard no_grad;
  q->weight.add_(1.0);
  EXPECT_TRUE(torch::equal(model[0]->as<tnn::Conv2dImpl>()->weight, original_weight));
  EXPECT_EQ(model[1]->as<tnn::BatchNorm2dImpl>()->num_batches_tracked.item<int64_t>(), 0);
}

TEST_F(ConvertTest, QuantizedLayersTrainAndTheirErrorsNameTheLayer) {
  auto conversion = convert_to_quantized(plain_network(), all_layers("ewgs:bits=1", "ewgs:bits=2"));
  conversion.model->train();
  const auto loss = conversion.model->forward(torch::randn({4, 3, 9, 11})).pow(2).mean();
  loss.backward();
  auto* q = conversion.model[0]->as<nn::QConv2dImpl>();
  ASSERT_TRUE(q->weight.grad().defined());
  EXPECT_GT(q->weight.grad().abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(q->quant_initialized());
  auto bad = torch::randn({4, 3, 9, 11});
  bad[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  EWGS_EXPECT_THROWS_WITH(conversion.model->forward(bad), "quantizer of 0");
}

TEST_F(ConvertTest, UnsupportedLayersAndOptionsAreErrorsNamingThem) {
  tnn::Sequential same(
      tnn::Conv2d(tnn::Conv2dOptions(3, 4, 3).padding(torch::kSame)), tnn::Linear(4, 2));
  EWGS_EXPECT_THROWS_WITH(
      convert_to_quantized(same, all_layers("ewgs:bits=1", "off")), "layer '0' has \"same\"");
  tnn::Sequential reflect(
      tnn::Conv2d(tnn::Conv2dOptions(3, 4, 3).padding(1).padding_mode(torch::kReflect)),
      tnn::Linear(4, 2));
  EWGS_EXPECT_THROWS_WITH(
      convert_to_quantized(reflect, all_layers("ewgs:bits=1", "off")), "layer '0' pads");
  EWGS_EXPECT_THROWS_WITH(
      convert_to_quantized(plain_network(), all_layers("ewgs:bits=9", "off")), "bits");
  auto options = all_layers("ewgs:bits=1", "off");
  options.include = "(";
  EWGS_EXPECT_THROWS_WITH(
      convert_to_quantized(plain_network(), options), "ConvertOptions::include '('");
  EWGS_EXPECT_THROWS_WITH(
      convert_to_quantized(tnn::Sequential(tnn::ReLU()), options), "has no Conv2d or Linear layer");
}

}  // namespace
}  // namespace ewgs::test
