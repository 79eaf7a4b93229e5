// The MINW-Net ConvNet (docs/methods/aqe.md, MINW-Net): shapes for 28x28x1 and 32x32x3
// inputs, which layers AQE quantizes, no output scales, and weight clipping through the model.
#include <torch/torch.h>

#include "ewgs/models/model_summary.h"
#include "ewgs/models/registry.h"
#include "ewgs/nn/quantized_layers.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using models::ModelOptions;
using models::QuantSpec;

const QuantSpec kAqeW1A1{"aqe:bits=1", "aqe:bits=1"};

class MinwCnnTest : public SeededTest {};

TEST_F(MinwCnnTest, RunsForwardAndBackwardOnBothImageSizes) {
  struct Case {
    int64_t channels, size, classes;
  };
  for (const auto& c : {Case{1, 28, 10}, Case{3, 32, 100}}) {
    auto model = models::make_model("minw_cnn", ModelOptions{c.classes, c.channels, kAqeW1A1});
    model->train();
    const auto x = torch::randn({4, c.channels, c.size, c.size});
    const auto logits = model->forward(x);
    EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{4, c.classes})) << c.size;
    torch::nn::functional::cross_entropy(logits, torch::tensor({0, 1, 2, 3})).backward();
    for (const auto& p : model->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
    }
    model->eval();
    torch::NoGradGuard no_grad;
    EXPECT_EQ(model->forward(x).sizes(), (std::vector<int64_t>{4, c.classes}));
  }
}

TEST_F(MinwCnnTest, QuantizesTheInnerLayersWithAqeAndNoOutputScale) {
  auto model = models::make_model("minw_cnn", ModelOptions{10, 1, kAqeW1A1});
  const auto layers = nn::named_quantized_layers(*model);
  std::vector<std::string> names;
  for (const auto& item : layers) {
    names.push_back(item.name);
    ASSERT_TRUE(item.layer->weight_quant && item.layer->act_quant) << item.name;
    EXPECT_EQ(item.layer->weight_quant->method(), "aqe");
    EXPECT_EQ(item.layer->act_quant->spec(), "aqe:bits=1,alpha=0.5");
    EXPECT_FALSE(item.layer->output_scale.defined()) << item.name;
  }
  EXPECT_EQ(
      names, (std::vector<std::string>{"conv2", "conv3", "conv4", "conv5", "conv6", "fc1", "fc2"}));
  const auto summary = models::summarize(*model);
  EXPECT_EQ(summary.quantizer_parameters, 0);
  // 3x3 convs 1-64-64-128-128-256-256 (no bias), fc 1024-256-256 (no bias) and
  // 256-10 (bias), BN affine parameters.
  const int64_t convs = 9 * (1 * 64 + 64 * 64 + 64 * 128 + 128 * 128 + 128 * 256 + 256 * 256);
  const int64_t fcs = 1024 * 256 + 256 * 256 + 256 * 10 + 10;
  const int64_t bns = 2 * (64 + 64 + 128 + 128 + 256 + 256 + 256 + 256);
  EXPECT_EQ(summary.model_parameters, convs + fcs + bns);

  QuantSpec all = kAqeW1A1;
  all.quantize_first_last = true;
  auto full = models::make_model("minw_cnn", ModelOptions{10, 3, all});
  const auto all_layers = nn::named_quantized_layers(*full);
  ASSERT_EQ(all_layers.size(), 9u);
  EXPECT_EQ(all_layers.front().name, "conv1");
  EXPECT_EQ(all_layers.back().name, "fc3");
}

TEST_F(MinwCnnTest, OptimizerStepNotificationsClipEveryQuantizedWeight) {
  auto model = models::make_model("minw_cnn", ModelOptions{10, 1, kAqeW1A1});
  model->train();
  model->forward(torch::randn({2, 1, 28, 28}));  // quantizers see their weights
  {
    torch::NoGradGuard no_grad;
    for (const auto& item : nn::named_quantized_layers(*model)) {
      model->named_parameters()[item.name + ".weight"].mul_(100.0);
    }
  }
  nn::notify_optimizer_step(*model);
  const auto params = model->named_parameters();
  for (const auto& item : nn::named_quantized_layers(*model)) {
    // Every scaled weight had elements far outside [-1, 1]: now exactly at the ends.
    EXPECT_EQ(params[item.name + ".weight"].abs().max().item<float>(), 1.0f) << item.name;
  }
  EXPECT_LT(params["conv1.weight"].abs().max().item<float>(), 1.0f);  // FP layer untouched
}

}  // namespace
}  // namespace ewgs::test
