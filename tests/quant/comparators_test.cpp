// The comparator quantizers (LSQ, LSQ+, PACT, DoReFa) against an independent PyTorch
// implementation (scripts/gen_comparator_golden.py), and inside a QConv2d training step.
#include <cmath>

#include "ewgs/nn/qconv2d.h"
#include "quant/comparator_test_util.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using quant::QuantTarget;

QuantTarget target_of(const nlohmann::json& c) {
  return c["target"] == "weight" ? QuantTarget::kWeight : QuantTarget::kActivation;
}

std::string spec_of(const std::string& method, const nlohmann::json& c) {
  return method + ":bits=" + std::to_string(c["bits"].get<int64_t>());
}

/// Expects |actual - expected| <= tol (1 + |expected|).
void expect_near(double actual, double expected, double tol, const std::string& what) {
  EXPECT_NEAR(actual, expected, tol * (1.0 + std::abs(expected))) << what;
}

class ComparatorsTest : public SeededTest {
 protected:
  void SetUp() override {
    SeededTest::SetUp();
    golden_ = load_golden("comparators.json");
  }
  nlohmann::json golden_;
};

TEST_F(ComparatorsTest, LsqAndLsqPlusMatchPyTorch) {
  ASSERT_EQ(golden_["lsq"].size(), 12u);
  for (const auto& c : golden_["lsq"]) {
    const std::string what = spec_of(c["method"], c) + " " + c["target"].get<std::string>();
    auto q = make(spec_of(c["method"], c), target_of(c));
    set_param(*q, "step", c["s"].get<double>());
    if (c.contains("beta")) {
      set_param(*q, "offset", c["beta"].get<double>());
    }
    auto x = tensor_from_json(c["x"]).requires_grad_(true);
    const auto out = q->forward(x);
    out.backward(tensor_from_json(c["grad_out"]));
    EXPECT_TRUE(all_close(out, tensor_from_json(c["out"]), 0, 1e-6)) << what;
    EXPECT_TRUE(all_close(x.grad(), tensor_from_json(c["grad_x"]), 1e-6, 0)) << what;
    expect_near(param_grad(*q, "step"), c["grad_s"].get<double>(), 1e-5, what);
    if (c.contains("beta")) {
      expect_near(param_grad(*q, "offset"), c["grad_beta"].get<double>(), 1e-5, what);
    }
  }
}

TEST_F(ComparatorsTest, LsqInitializationsMatchPyTorch) {
  ASSERT_EQ(golden_["init"].size(), 16u);
  for (const auto& c : golden_["init"]) {
    const std::string what = spec_of(c["method"], c) + " " + c["target"].get<std::string>() + " " +
                             c.value("data", std::string());
    auto q = make(spec_of(c["method"], c), target_of(c));
    q->initialize(tensor_from_json(c["x"]));
    expect_near(param(*q, "step").item<double>(), c["s"].get<double>(), 1e-6, what);
    if (c.contains("beta")) {
      expect_near(param(*q, "offset").item<double>(), c["beta"].get<double>(), 1e-6, what);
    }
  }
}

TEST_F(ComparatorsTest, PactMatchesPyTorch) {
  ASSERT_EQ(golden_["pact"].size(), 4u);
  for (const auto& c : golden_["pact"]) {
    const std::string what = spec_of("pact", c);
    auto q = make(spec_of("pact", c), QuantTarget::kActivation);
    set_param(*q, "alpha", c["alpha"].get<double>());
    auto x = tensor_from_json(c["x"]).requires_grad_(true);
    const auto out = q->forward(x);
    out.backward(tensor_from_json(c["grad_out"]));
    EXPECT_TRUE(all_close(out, tensor_from_json(c["out"]), 0, 1e-6)) << what;
    EXPECT_TRUE(all_equal(x.grad(), tensor_from_json(c["grad_x"]))) << what;
    expect_near(param_grad(*q, "alpha"), c["grad_alpha"].get<double>(), 1e-6, what);
  }
}

TEST_F(ComparatorsTest, DorefaMatchesPyTorch) {
  ASSERT_EQ(golden_["dorefa"].size(), 10u);
  for (const auto& c : golden_["dorefa"]) {
    std::string spec = spec_of("dorefa", c) + ",estimator=" + c["estimator"].get<std::string>();
    if (c["estimator"] == "ewgs") {
      spec += ",delta=" + std::to_string(c["delta"].get<double>());
    }
    const std::string what = spec + " " + c["target"].get<std::string>();
    auto q = make(spec, target_of(c));
    auto x = tensor_from_json(c["x"]).requires_grad_(true);
    const auto out = q->forward(x);
    out.backward(tensor_from_json(c["grad_out"]));
    EXPECT_TRUE(all_close(out, tensor_from_json(c["out"]), 0, 1e-6)) << what;
    EXPECT_TRUE(all_close(x.grad(), tensor_from_json(c["grad_x"]), 1e-5, 1e-6)) << what;
  }
}

/// One SGD step of a QConv2d with the given quantizers; every gradient finite.
void expect_trains_one_step(
    const std::string& weight_spec, const std::string& act_spec, bool expects_output_scale) {
  const std::string what = weight_spec + " / " + act_spec;
  nn::QConv2d conv(
      nn::QConv2dOptions(3, 4, 3).padding(1).weight_quant(weight_spec).act_quant(act_spec));
  EXPECT_EQ(conv->output_scale.defined(), expects_output_scale) << what;
  conv->train();
  torch::optim::SGD optimizer(conv->parameters(), torch::optim::SGDOptions(0.01));
  const auto x = torch::relu(torch::randn({4, 3, 6, 6}));
  const auto before = conv->weight.clone();
  for (int step = 0; step < 2; ++step) {
    optimizer.zero_grad();
    auto loss = conv->forward(x).pow(2).mean();
    const auto penalty = conv->regularizer();
    if (penalty.defined()) {
      loss = loss + penalty;
    }
    loss.backward();
    ASSERT_TRUE(std::isfinite(loss.item<double>())) << what;
    for (const auto& p : conv->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << what << " " << p.key();
      EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << what << " " << p.key();
    }
    optimizer.step();
  }
  EXPECT_FALSE(torch::equal(before, conv->weight)) << what;
  EXPECT_TRUE(conv->quant_initialized()) << what;
}

TEST_F(ComparatorsTest, QConv2dTrainsWithEachComparator) {
  expect_trains_one_step("dorefa:bits=2", "pact:bits=2", true);
  expect_trains_one_step("dorefa:bits=1", "dorefa:bits=2,estimator=ewgs", true);
  expect_trains_one_step("dorefa:bits=3,estimator=ewgs,delta=0.01", "off", true);
  expect_trains_one_step("lsq:bits=2", "lsq:bits=2", false);
  expect_trains_one_step("lsq_plus:bits=3", "lsq_plus:bits=2", false);
  expect_trains_one_step("lsq:bits=4", "pact:bits=4", false);
}

TEST_F(ComparatorsTest, LayerInitializationSetsTheLearnedScalars) {
  nn::QConv2d conv(
      nn::QConv2dOptions(3, 4, 3).weight_quant("lsq:bits=2").act_quant("lsq_plus:bits=2"));
  conv->train();
  const auto x = torch::relu(torch::randn({4, 3, 6, 6}));
  conv->forward(x);
  const double q_p = 1.0;  // 2-bit signed weights
  EXPECT_NEAR(
      param(*conv->weight_quant, "step").item<double>(),
      2.0 * conv->weight.abs().mean().item<double>() / std::sqrt(q_p),
      1e-6);
  auto fresh = make("lsq_plus:bits=2", QuantTarget::kActivation);
  fresh->initialize(x);
  EXPECT_EQ(param(*conv->act_quant, "step").item<float>(), param(*fresh, "step").item<float>());
  EXPECT_EQ(param(*conv->act_quant, "offset").item<float>(), param(*fresh, "offset").item<float>());
}

}  // namespace
}  // namespace ewgs::test
