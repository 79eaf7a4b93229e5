// Models: torchvision/official structure and names, parameter counts, which
// layers are quantized, and the official ResNet-20 checkpoint's logits.
#include <torch/torch.h>

#include <map>
#include <set>

#include "ewgs/core/pth_reader.h"
#include "ewgs/models/model_summary.h"
#include "ewgs/models/registry.h"
#include "ewgs/nn/state_dict.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using models::ModelOptions;
using models::QuantSpec;

const QuantSpec kW1A1{"ewgs:bits=1", "ewgs:bits=1"};

std::map<std::string, std::vector<int64_t>> state_shapes(torch::nn::Module& m) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto& [name, t] : nn::module_state(m)) {
    out[name] = t.sizes().vec();
  }
  return out;
}

class ModelsTest : public SeededTest {};

TEST_F(ModelsTest, TorchvisionModelsHaveTheSameNamesShapesAndCounts) {
  const auto golden = load_golden("models.json");
  for (const std::string name : {"resnet18", "resnet34", "mobilenet_v2"}) {
    auto model = models::make_model(name, ModelOptions{});
    std::map<std::string, std::vector<int64_t>> expected;
    for (const auto& entry : golden[name]["state"]) {
      expected[entry[0].get<std::string>()] = entry[1].get<std::vector<int64_t>>();
    }
    EXPECT_EQ(state_shapes(*model), expected) << name;
    const auto summary = models::summarize(*model);
    EXPECT_EQ(summary.total_parameters, golden[name]["parameters"].get<int64_t>()) << name;
    EXPECT_EQ(summary.quantizer_parameters, 0) << name;
    EXPECT_TRUE(summary.quantized_layers.empty()) << name;
  }
}

TEST_F(ModelsTest, ResNet20HasTheOfficialParameterCountAndQuantizesItsBlockConvs) {
  auto fp = models::make_model("resnet20", ModelOptions{10, 3, QuantSpec::full_precision()});
  EXPECT_EQ(models::summarize(*fp).total_parameters, 269850);
  auto q = models::make_model("resnet20", ModelOptions{10, 3, kW1A1});
  const auto summary = models::summarize(*q);
  ASSERT_EQ(summary.quantized_layers.size(), 18u);
  EXPECT_EQ(summary.quantized_layers.front().name, "layer1.0.conv1");
  EXPECT_EQ(summary.quantized_layers.back().name, "layer3.2.conv2");
  // Each quantized conv adds l_W, u_W, l_A, u_A and alpha.
  EXPECT_EQ(summary.quantizer_parameters, 18 * 5);
  EXPECT_EQ(summary.model_parameters, 269850);
}

TEST_F(ModelsTest, ImageNetModelsQuantizeBlockAndDownsampleConvs) {
  const auto r18 = models::summarize(*models::make_model("resnet18", ModelOptions{1000, 3, kW1A1}));
  EXPECT_EQ(r18.quantized_layers.size(), 19u);
  EXPECT_EQ(r18.quantized_layers[6].name, "layer2.0.downsample.0");
  const auto r34 = models::summarize(*models::make_model("resnet34", ModelOptions{1000, 3, kW1A1}));
  EXPECT_EQ(r34.quantized_layers.size(), 35u);
  QuantSpec all = kW1A1;
  all.quantize_first_last = true;
  const auto r18_all =
      models::summarize(*models::make_model("resnet18", ModelOptions{1000, 3, all}));
  EXPECT_EQ(r18_all.quantized_layers.size(), 21u);
  EXPECT_EQ(r18_all.quantized_layers.front().name, "conv1");
  EXPECT_EQ(r18_all.quantized_layers.back().name, "fc");
}

TEST_F(ModelsTest, MobileNetV2QuantizesEveryLayerWhenAsked) {
  QuantSpec all{"ewgs:bits=4", "ewgs:bits=4"};
  all.quantize_first_last = true;
  auto model = models::make_model("mobilenet_v2", ModelOptions{1000, 3, all});
  const auto summary = models::summarize(*model);
  EXPECT_EQ(summary.quantized_layers.size(), 53u);  // 52 convs + classifier
  EXPECT_EQ(summary.model_parameters, 3504872);
  EXPECT_EQ(summary.quantized_layers.front().name, "features.0.0");
  EXPECT_EQ(summary.quantized_layers.back().name, "classifier.1");
}

TEST_F(ModelsTest, EveryModelRunsForwardAndBackwardQuantized) {
  struct Case {
    std::string name;
    int64_t channels, size, classes;
  };
  for (const auto& c : std::vector<Case>{
           {"small_cnn", 1, 28, 10},
           {"resnet20", 3, 32, 10},
           {"resnet18", 3, 64, 7},
           {"mobilenet_v2", 3, 64, 5}}) {
    auto model = models::make_model(c.name, ModelOptions{c.classes, c.channels, kW1A1});
    model->train();
    const auto x = torch::randn({4, c.channels, c.size, c.size});
    const auto logits = model->forward(x);
    EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{4, c.classes})) << c.name;
    torch::nn::functional::cross_entropy(logits, torch::tensor({0, 1, 2, 3})).backward();
    for (const auto& p : model->parameters()) {
      ASSERT_TRUE(p.grad().defined()) << c.name;
      EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>()) << c.name;
    }
  }
}

TEST_F(ModelsTest, OfficialResNet20CheckpointLoadsAndReproducesPyTorchLogits) {
  auto model = models::make_model("resnet20", ModelOptions{10, 3, QuantSpec::full_precision()});
  const auto state =
      load_pth_state_dict(shared_data_path("resnet20-fp-cifar10jpeg-official.pth"), "model");
  const auto report = nn::load_state(*model, state, /*strict=*/true, "official checkpoint");
  EXPECT_EQ(report.loaded.size(), 121u);
  model->eval();
  const auto x = torch::arange(4 * 3 * 32 * 32, torch::kDouble)
                     .mul(0.1)
                     .sin()
                     .to(torch::kFloat)
                     .reshape({4, 3, 32, 32});
  const auto golden = load_golden("models.json");
  std::vector<double> flat;
  for (const auto& row : golden["resnet20_official_logits"]) {
    for (const auto& v : row) {
      flat.push_back(v.get<double>());
    }
  }
  const auto expected = torch::tensor(flat).reshape({4, 10}).to(torch::kFloat);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(all_close(model->forward(x), expected, 1e-4, 1e-4));
}

TEST_F(ModelsTest, FullPrecisionCheckpointSeedsAQuantizedModelByName) {
  auto model = models::make_model("resnet20", ModelOptions{10, 3, kW1A1});
  const auto state =
      load_pth_state_dict(shared_data_path("resnet20-fp-cifar10jpeg-official.pth"), "model");
  const auto report = nn::load_state(*model, state, /*strict=*/false, "official checkpoint");
  EXPECT_EQ(report.loaded.size(), 121u);
  EXPECT_TRUE(report.unexpected.empty());
  // Missing: per quantized conv lower/upper x2, output_scale, the initialized
  // flag and two deltas.
  EXPECT_EQ(report.missing.size(), 18u * 8u);
  EWGS_EXPECT_THROWS_WITH(
      nn::load_state(*model, state, /*strict=*/true, "official checkpoint"),
      "missing in official checkpoint: layer1.0.conv1.output_scale");
}

TEST_F(ModelsTest, ShapeMismatchNamesTheEntry) {
  auto model = models::make_model("resnet20", ModelOptions{100, 3, QuantSpec::full_precision()});
  const auto state =
      load_pth_state_dict(shared_data_path("resnet20-fp-cifar10jpeg-official.pth"), "model");
  EWGS_EXPECT_THROWS_WITH(
      nn::load_state(*model, state, false, "official checkpoint"),
      "linear.weight: model has [100, 64], official checkpoint has [10, 64]");
}

TEST_F(ModelsTest, UnknownModelSuggestsTheClosestName) {
  EWGS_EXPECT_THROWS_WITH(
      models::make_model("resnet2O", ModelOptions{}), "did you mean 'resnet20'");
}

}  // namespace
}  // namespace ewgs::test
