// AQE (docs/methods/aqe.md): mixed training forward and hard inference forward for 1, 2 and
// n >= 3 bits, the paper's 2 alpha hard-tanh backward, weight clipping, golden parity.
#include "ewgs/nn/qconv2d.h"
#include "ewgs/quant/registry.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using quant::QuantTarget;

/// h(a) of Eq. 21 for 1 bit (sign, 0 -> +1) and 2 bits with threshold `delta`.
torch::Tensor sign_or_ternary(const torch::Tensor& a, int64_t bits, double delta) {
  if (bits == 1) {
    return torch::where(a >= 0, torch::ones_like(a), -torch::ones_like(a));
  }
  return torch::where(a.abs() > delta, torch::sign(a), torch::zeros_like(a));
}

class AqeTest : public SeededTest {};

TEST_F(AqeTest, TrainingForwardMixesTheHardValueWithTheInput) {
  for (double alpha : {0.5, 0.25, 1.0}) {
    for (int64_t bits : {1, 2}) {
      for (auto target : {QuantTarget::kWeight, QuantTarget::kActivation}) {
        auto q = quant::make_quantizer(
            "aqe:bits=" + std::to_string(bits) + ",alpha=" + std::to_string(alpha), target);
        q->train();
        const auto a = torch::rand({4096}) * 2.6 - 1.3;
        const auto h = sign_or_ternary(a, bits, 0.7 * a.abs().mean().item<double>());
        const auto expected = alpha * h + (1 - alpha) * a;
        EXPECT_TRUE(all_close(q->forward(a), expected, 0, 1e-6)) << bits << " " << alpha;
      }
    }
  }
}

TEST_F(AqeTest, ThreeBitsUseThePowerOfTwoLevelsWithLinearMidpointThresholds) {
  auto q = quant::make_quantizer("aqe:bits=3", QuantTarget::kActivation);
  q->eval();
  // Levels {0, 1/4, 1/2, 1}; thresholds 1/8 (to 0, inclusive), 3/8 and 3/4 (upward).
  const auto a = torch::tensor(
      {0.0f, 0.1f, 0.125f, 0.13f, 0.37f, 0.375f, 0.74f, 0.75f, 0.9f, 1.2f, -0.3f, -0.125f, -2.0f});
  const auto expected = torch::tensor(
      {0.0f, 0.0f, 0.0f, 0.25f, 0.25f, 0.5f, 0.5f, 1.0f, 1.0f, 1.0f, -0.25f, 0.0f, -1.0f});
  EXPECT_TRUE(all_equal(q->forward(a), expected));
  q->train();
  EXPECT_TRUE(all_close(q->forward(a), 0.5 * expected + 0.5 * a, 0, 1e-7));
}

TEST_F(AqeTest, WiderPowerOfTwoQuantizersRoundToTheNearestLevel) {
  for (int64_t bits : {3, 4, 5}) {
    const int64_t q_levels = (int64_t{1} << (bits - 1)) - 1;
    auto q = quant::make_quantizer("aqe:bits=" + std::to_string(bits), QuantTarget::kWeight);
    q->eval();
    // Magnitudes log-uniform from below the smallest level to above 1, both signs.
    const auto magnitude = torch::exp2(torch::rand({20000}) * (q_levels + 1.5) - (q_levels + 1));
    const auto a = magnitude * (torch::randint(0, 2, {20000}) * 2 - 1);
    auto levels = std::vector<float>{0.0f};
    for (int64_t p = 0; p < q_levels; ++p) {
      levels.push_back(std::ldexp(1.0f, static_cast<int>(-p)));
    }
    const auto table = torch::tensor(levels);
    const auto nearest = (a.abs().unsqueeze(1) - table).abs().argmin(1);
    const auto expected = torch::sign(a) * table.index({nearest});
    const auto out = q->forward(a);
    EXPECT_TRUE(all_equal(out, expected)) << bits;
    EXPECT_EQ(std::get<0>(torch::_unique(out)).numel(), 2 * q_levels + 1) << bits;
  }
}

TEST_F(AqeTest, InferenceIsTheHardQuantizer) {
  for (int64_t bits : {1, 2, 3}) {
    auto q = quant::make_quantizer("aqe:bits=" + std::to_string(bits), QuantTarget::kWeight);
    q->eval();
    const auto w = torch::rand({512}) * 2 - 1;
    const auto out = q->forward(w.clone().requires_grad_(true));
    EXPECT_FALSE(out.requires_grad());
    if (bits < 3) {
      EXPECT_TRUE(all_equal(out, sign_or_ternary(w, bits, 0.7 * w.abs().mean().item<double>())));
    }
    EXPECT_LE(std::get<0>(torch::_unique(out)).numel(), bits == 1 ? 2 : bits == 2 ? 3 : 7);
  }
}

TEST_F(AqeTest, TwoBitActivationsUseARunningThresholdAtInference) {
  auto q = quant::make_quantizer("aqe:bits=2", QuantTarget::kActivation);
  auto abs_mean = q->named_buffers()["abs_mean"];
  q->train();
  const auto first = torch::rand({256}) * 2 - 1;
  q->initialize(first);
  EXPECT_NEAR(abs_mean.item<double>(), first.abs().mean().item<double>(), 1e-7);
  const auto second = (torch::rand({256}) * 2 - 1) * 0.5;
  q->forward(second);
  const double running =
      0.9 * first.abs().mean().item<double>() + 0.1 * second.abs().mean().item<double>();
  EXPECT_NEAR(abs_mean.item<double>(), running, 1e-6);
  q->eval();
  // One element alone is quantized with 0.7 * running E|a|, not its own magnitude.
  const double threshold = 0.7 * running;
  EXPECT_EQ(q->forward(torch::full({1}, threshold * 1.01)).item<float>(), 1.0f);
  EXPECT_EQ(q->forward(torch::full({1}, -threshold * 0.99)).item<float>(), 0.0f);
  EXPECT_NEAR(abs_mean.item<double>(), running, 1e-6);  // eval leaves it alone
  EXPECT_EQ(q->scalars()[0].first, "abs_mean");
}

TEST_F(AqeTest, BackwardIsTwoAlphaTimesTheHardTanhStraightThrough) {
  for (double alpha : {0.5, 0.3, 1.0}) {
    for (int64_t bits : {1, 2, 3}) {
      auto q = quant::make_quantizer(
          "aqe:bits=" + std::to_string(bits) + ",alpha=" + std::to_string(alpha),
          QuantTarget::kActivation);
      q->train();
      auto a = (torch::rand({1024}) * 3 - 1.5).requires_grad_(true);
      const auto g = torch::randn({1024});
      q->forward(a).backward(g);
      const auto expected = 2 * alpha * g * (a.detach().abs() <= 1).to(torch::kFloat);
      EXPECT_TRUE(all_close(a.grad(), expected, 1e-6, 1e-7)) << bits << " " << alpha;
    }
  }
  // Eq. 18-19, not autograd of the mixed forward ((1 - alpha) g): with alpha = 1/2 the
  // gradient inside [-1, 1] is g itself, and 0 at |a| > 1.
  auto q = quant::make_quantizer("aqe:bits=1", QuantTarget::kWeight);
  auto a = torch::tensor({-1.0f, -0.2f, 0.0f, 1.0f, 1.01f, -3.0f}).requires_grad_(true);
  q->forward(a).backward(torch::full({6}, 0.7f));
  EXPECT_TRUE(all_equal(a.grad(), torch::tensor({0.7f, 0.7f, 0.7f, 0.7f, 0.0f, 0.0f})));
}

TEST_F(AqeTest, LayersHaveNoOutputScaleAndClipTheirWeightsAfterEveryStep) {
  nn::QConv2d conv(
      nn::QConv2dOptions(3, 4, 3).padding(1).weight_quant("aqe:bits=1").act_quant("aqe:bits=1"));
  EXPECT_FALSE(conv->output_scale.defined());
  EXPECT_TRUE(conv->quantizer_parameters().empty());
  conv->train();
  const auto x = torch::rand({2, 3, 5, 5}) * 2 - 1;
  torch::optim::SGD sgd(conv->parameters(), torch::optim::SGDOptions(50.0));
  torch::nn::functional::mse_loss(conv->forward(x), torch::ones({2, 4, 5, 5}) * 9).backward();
  sgd.step();
  EXPECT_GT(conv->weight.abs().max().item<float>(), 1.0f);  // the step left [-1, 1]
  const auto before = conv->weight.detach().clone();
  for (const auto& q : conv->quantizers()) {
    q->after_optimizer_step();  // what the trainer's nn::notify_optimizer_step calls
  }
  EXPECT_TRUE(all_equal(conv->weight.detach(), before.clamp(-1, 1)));
  EXPECT_LE(conv->weight.abs().max().item<float>(), 1.0f);
}

TEST_F(AqeTest, SpecDefaultsAndErrors) {
  auto q = quant::make_quantizer("aqe:bits=2", QuantTarget::kWeight);
  EXPECT_EQ(q->spec(), "aqe:bits=2,alpha=0.5");
  EXPECT_TRUE(q->output_in_input_scale());
  EXPECT_FALSE(q->has_delta());
  EXPECT_TRUE(q->parameters().empty());
  EXPECT_TRUE(q->scalars().empty());
  EXPECT_EQ(
      quant::make_quantizer("aqe:bits=1,alpha=0.3", QuantTarget::kActivation)->spec(),
      "aqe:bits=1,alpha=0.3");
  for (const std::string alpha : {"0", "1.5", "-0.5"}) {
    EWGS_EXPECT_THROWS_WITH(
        quant::make_quantizer("aqe:alpha=" + alpha, QuantTarget::kActivation),
        "aqe activation quantizer: alpha must be in (0, 1], got ");
  }
  EWGS_EXPECT_THROWS_WITH(
      quant::make_quantizer("aqe:alpha=nan", QuantTarget::kActivation),
      "alpha must be a finite number within float range");
  EWGS_EXPECT_THROWS_WITH(
      quant::make_quantizer("aqe:bits=9", QuantTarget::kWeight),
      "aqe weight quantizer: bits must be in [1, 8] or 32 (off), got 9");
  EWGS_EXPECT_THROWS_WITH(
      quant::make_quantizer("aqe:bits=1", QuantTarget::kGradient),
      "cannot be a gradient quantizer");
  EWGS_EXPECT_THROWS_WITH(
      quant::make_quantizer("aqe:bits=1,delta=0.7", QuantTarget::kWeight), "has no key 'delta'");
  EWGS_EXPECT_THROWS_WITH(
      q->forward(torch::tensor({INFINITY})), "aqe weight quantizer: input has non-finite");
}

TEST_F(AqeTest, MatchesAnIndependentPyTorchImplementation) {
  const auto golden = load_golden("daq_aqe.json");
  ASSERT_EQ(golden["aqe"].size(), 16u);
  for (const auto& c : golden["aqe"]) {
    const std::string spec = "aqe:bits=" + std::to_string(c["bits"].get<int>()) +
                             ",alpha=" + c10::str(c["alpha"].get<double>());
    const bool weight = c["target"] == "weight";
    auto q = quant::make_quantizer(spec, weight ? QuantTarget::kWeight : QuantTarget::kActivation);
    auto x = tensor_from_json(c["x"]).requires_grad_(true);
    q->train();
    q->initialize(x.detach());  // 2-bit activations: inference threshold from this batch
    const auto out = q->forward(x);
    out.backward(tensor_from_json(c["grad_out"]));
    const std::string what = spec + (weight ? " weight" : " activation");
    EXPECT_TRUE(all_close(out, tensor_from_json(c["out"]), 0, 1e-7)) << what;
    EXPECT_TRUE(all_close(x.grad(), tensor_from_json(c["grad_x"]), 0, 1e-7)) << what;
    q->eval();
    EXPECT_TRUE(all_equal(q->forward(x.detach()), tensor_from_json(c["hard"]))) << what;
  }
}

}  // namespace
}  // namespace ewgs::test
