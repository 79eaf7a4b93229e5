// QConv2d: paper initialization and gradients against PyTorch golden values,
// one-time initialization that survives save/load, shapes and errors.
#include "ewgs/nn/qconv2d.h"

#include <torch/torch.h>

#include <sstream>

#include "ewgs/quant/interval_quantizer.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using nn::QConv2d;
using nn::QConv2dOptions;

double scalar(const quant::QuantizerPtr& q, const char* which) {
  auto* iq = dynamic_cast<quant::IntervalQuantizerImpl*>(q.get());
  return (std::string(which) == "l" ? iq->lower : iq->upper).item<double>();
}

double scalar_grad(const quant::QuantizerPtr& q, const char* which) {
  auto* iq = dynamic_cast<quant::IntervalQuantizerImpl*>(q.get());
  return (std::string(which) == "l" ? iq->lower : iq->upper).grad().item<double>();
}

class QConv2dTest : public SeededTest {};

TEST_F(QConv2dTest, FirstTrainingForwardMatchesPyTorchGolden) {
  const auto golden = load_golden("qconv2d_init.json");
  for (const auto& c : golden["cases"]) {
    const std::string delta = std::to_string(c["delta"].get<double>());
    QConv2d conv(
        QConv2dOptions(3, 4, 3)
            .padding(1)
            .weight_quant("ewgs:bits=" + std::to_string(c["bits_w"].get<int>()) + ",delta=" + delta)
            .act_quant("ewgs:bits=" + std::to_string(c["bits_a"].get<int>()) + ",delta=" + delta));
    {
      torch::NoGradGuard no_grad;
      conv->weight.copy_(tensor_from_json(golden["weight"]));
    }
    auto x = tensor_from_json(golden["input"]).requires_grad_(true);
    conv->train();
    const auto y = conv->forward(x);
    EXPECT_NEAR(scalar(conv->weight_quant, "l"), c["l_w"].get<double>(), 1e-6);
    EXPECT_NEAR(scalar(conv->weight_quant, "u"), c["u_w"].get<double>(), 1e-6);
    EXPECT_NEAR(scalar(conv->act_quant, "l"), c["l_a"].get<double>(), 1e-6);
    EXPECT_NEAR(scalar(conv->act_quant, "u"), c["u_a"].get<double>(), 1e-6);
    EXPECT_NEAR(conv->output_scale.item<double>(), c["alpha"].get<double>(), 1e-5);
    EXPECT_TRUE(all_close(y, tensor_from_json(c["out"]), 1e-5, 1e-6));
    y.backward(tensor_from_json(golden["grad_out"]));
    EXPECT_TRUE(all_close(x.grad(), tensor_from_json(c["grad_x"]), 1e-4, 1e-5));
    EXPECT_TRUE(all_close(conv->weight.grad(), tensor_from_json(c["grad_w"]), 1e-4, 1e-5));
    EXPECT_NEAR(
        conv->output_scale.grad().item<double>(),
        c["grad_alpha"].get<double>(),
        1e-4 * (1 + std::abs(c["grad_alpha"].get<double>())));
    for (const char* which : {"l", "u"}) {
      const std::string key = std::string(which);
      const double gw = c["grad_" + key + "_w"].get<double>();
      const double ga = c["grad_" + key + "_a"].get<double>();
      EXPECT_NEAR(scalar_grad(conv->weight_quant, which), gw, 1e-4 * (1 + std::abs(gw)));
      EXPECT_NEAR(scalar_grad(conv->act_quant, which), ga, 1e-4 * (1 + std::abs(ga)));
    }
  }
}

TEST_F(QConv2dTest, OutputScaleGradientIsSignOfAlphaTimesConv) {
  QConv2d conv(QConv2dOptions(2, 3, 3).weight_quant("ewgs:bits=2").act_quant("ewgs:bits=2"));
  conv->train();
  const auto x = torch::relu(torch::randn({2, 2, 6, 6}));
  conv->forward(x);  // initializes
  {
    torch::NoGradGuard no_grad;
    conv->output_scale.fill_(-0.7);  // applied as |alpha|
  }
  const auto g = torch::randn({2, 3, 4, 4});
  const auto y = conv->forward(x);
  y.backward(g);
  const auto unscaled = y.detach() / 0.7;
  EXPECT_NEAR(conv->output_scale.grad().item<double>(), -(g * unscaled).sum().item<double>(), 1e-4);
}

TEST_F(QConv2dTest, InitializesOnceAndNotInEvalMode) {
  QConv2d conv(QConv2dOptions(2, 3, 3).weight_quant("ste:bits=1").act_quant("ste:bits=1"));
  conv->eval();
  conv->forward(torch::relu(torch::randn({1, 2, 5, 5})));
  EXPECT_FALSE(conv->quant_initialized());
  conv->train();
  conv->forward(torch::relu(torch::randn({1, 2, 5, 5})));
  EXPECT_TRUE(conv->quant_initialized());
  const double alpha = conv->output_scale.item<double>();
  conv->forward(torch::relu(torch::randn({1, 2, 5, 5})) * 10);
  EXPECT_EQ(conv->output_scale.item<double>(), alpha);
}

TEST_F(QConv2dTest, LoadedModelKeepsItsInitializationAndNeverReinitializes) {
  QConv2d trained(QConv2dOptions(2, 3, 3).weight_quant("ewgs:bits=2").act_quant("ewgs:bits=2"));
  trained->train();
  trained->forward(torch::relu(torch::randn({4, 2, 5, 5})));
  std::stringstream stream;
  torch::save(trained, stream);

  QConv2d loaded(QConv2dOptions(2, 3, 3).weight_quant("ewgs:bits=2").act_quant("ewgs:bits=2"));
  torch::load(loaded, stream);
  EXPECT_TRUE(loaded->quant_initialized());
  loaded->train();
  const auto x = torch::relu(torch::randn({4, 2, 5, 5})) * 3;
  const auto y = loaded->forward(x);
  EXPECT_TRUE(all_equal(y, trained->forward(x)));
  EXPECT_EQ(loaded->output_scale.item<double>(), trained->output_scale.item<double>());
}

TEST_F(QConv2dTest, RegistersParametersByName) {
  QConv2d conv(QConv2dOptions(2, 3, 3).weight_quant("ewgs:bits=1").act_quant("ewgs:bits=1"));
  std::vector<std::string> names;
  for (const auto& p : conv->named_parameters()) {
    names.push_back(p.key());
  }
  EXPECT_EQ(
      names,
      (std::vector<std::string>{
          "weight",
          "output_scale",
          "weight_quant.lower",
          "weight_quant.upper",
          "act_quant.lower",
          "act_quant.upper"}));
  std::vector<std::string> buffers;
  for (const auto& b : conv->named_buffers()) {
    buffers.push_back(b.key());
  }
  EXPECT_EQ(
      buffers,
      (std::vector<std::string>{"quant_initialized", "weight_quant.delta", "act_quant.delta"}));
}

TEST_F(QConv2dTest, BothQuantizersOffIsAPlainConv) {
  QConv2d conv(QConv2dOptions(2, 3, 3).padding(1).weight_quant("off").act_quant("fp"));
  EXPECT_EQ(conv->parameters().size(), 1u);
  conv->train();
  const auto x = torch::randn({1, 2, 4, 4});
  EXPECT_TRUE(all_equal(conv->forward(x), torch::conv2d(x, conv->weight, {}, 1, 1)));
}

TEST_F(QConv2dTest, StrideAndGroupsShapeTheOutput) {
  QConv2d conv(QConv2dOptions(4, 8, 3).stride(2).padding(1).groups(2));
  conv->train();
  EXPECT_EQ(
      conv->forward(torch::relu(torch::randn({2, 4, 8, 8}))).sizes(),
      (std::vector<int64_t>{2, 8, 4, 4}));
  EXPECT_EQ(conv->weight.sizes(), (std::vector<int64_t>{8, 2, 3, 3}));
}

TEST_F(QConv2dTest, RejectsWrongInputShapeAndBadOptions) {
  QConv2d conv(QConv2dOptions(3, 4, 3));
  EWGS_EXPECT_THROWS_WITH(
      conv->forward(torch::randn({1, 2, 5, 5})),
      "expected input of shape (N, 3, H, W), got [1, 2, 5, 5]");
  EWGS_EXPECT_THROWS_WITH(conv->forward(torch::randn({3, 5, 5})), "got [3, 5, 5]");
  EWGS_EXPECT_THROWS_WITH(QConv2d(QConv2dOptions(3, 4, 3).groups(2)), "divisible by groups (2)");
  EWGS_EXPECT_THROWS_WITH(
      QConv2d(QConv2dOptions(3, 4, 3).weight_quant("ewgs:bits=0")), "bits must be in [1, 8]");
}

TEST_F(QConv2dTest, NonFiniteInputIsAnErrorNamingTheQuantizer) {
  QConv2d conv(QConv2dOptions(1, 2, 1).weight_quant("ewgs:bits=2").act_quant("ewgs:bits=2"));
  conv->train();
  conv->forward(torch::rand({1, 1, 4, 4}));
  auto bad = torch::rand({1, 1, 4, 4});
  bad[0][0][1][1] = NAN;
  EWGS_EXPECT_THROWS_WITH(conv->forward(bad), "ewgs activation quantizer: input has non-finite");
}

}  // namespace
}  // namespace ewgs::test
