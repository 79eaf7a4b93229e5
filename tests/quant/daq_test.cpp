// DAQ (docs/methods/daq.md): hard-rounding forward, the closed-form backward against
// the soft formula's derivative, gradients to x, l, u, initialization, golden parity.
#include <array>
#include <cmath>

#include "ewgs/nn/qconv2d.h"
#include "ewgs/quant/registry.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using quant::QuantTarget;

/// A DAQ quantizer from `spec` with interval [l, u] (l ignored for activations).
quant::QuantizerPtr make_daq(const std::string& spec, QuantTarget target, double l, double u) {
  auto q = quant::make_quantizer(spec, target);
  torch::NoGradGuard no_grad;
  auto params = q->named_parameters();
  if (params.contains("lower")) {
    params["lower"].fill_(l);
  }
  params["upper"].fill_(u);
  return q;
}

double param(const quant::QuantizerPtr& q, const std::string& name) {
  return q->named_parameters()[name].item<double>();
}

double param_grad(const quant::QuantizerPtr& q, const std::string& name) {
  return q->named_parameters()[name].grad().item<double>();
}

/// The soft output's derivative, written as the chain rule of
/// y = f - c p_0 + (1 + c) p_1, p_1 = sigmoid(tau (s_1 - s_0)), tau (s_1 - s_0) = +-gamma:
///   dy/dr = (1 + 2c) sigmoid'(gamma) tau (s_0 + s_1),  tau = gamma / |s_0 - s_1|.
torch::Tensor soft_slope(const torch::Tensor& r, double gamma, double sigma) {
  const double c = 1.0 / std::expm1(gamma);
  const double sigmoid_prime = std::exp(gamma) / std::pow(1.0 + std::exp(gamma), 2);
  const auto nearest = (r > 0.5).to(torch::kDouble);
  const auto s_0 = torch::exp(-r) * torch::exp(-nearest.pow(2) / (sigma * sigma));
  const auto s_1 = torch::exp(r - 1.0) * torch::exp(-(1.0 - nearest).pow(2) / (sigma * sigma));
  const auto tau = gamma / (s_0 - s_1).abs();
  return (1.0 + 2.0 * c) * sigmoid_prime * tau * (s_0 + s_1);
}

/// DAQ's soft rounding of r in [0, 1] with the temperature and the nearest level frozen at
/// r0, written with plain double arithmetic (docs/methods/daq.md, Forward).
double soft_round(double r, double r0, double gamma, double sigma) {
  const int nearest = std::abs(r0 - 1.0) < std::abs(r0) ? 1 : 0;  // tie -> floor
  const auto scores = [&](double at) {
    std::array<double, 2> s{};
    for (int j = 0; j < 2; ++j) {
      const double kernel = std::exp(-std::pow(j - nearest, 2) / (sigma * sigma));
      s[j] = std::exp(-std::abs(at - j)) * kernel;
    }
    return s;
  };
  const auto s0 = scores(r0);
  const double tau = gamma / std::abs(s0[0] - s0[1]);
  const auto s = scores(r);
  const double e_0 = std::exp(tau * s[0]);
  const double e_1 = std::exp(tau * s[1]);
  const double c = 1.0 / (std::exp(gamma) - 1.0);
  return (-c * e_0 + (1.0 + c) * e_1) / (e_0 + e_1);
}

class DaqTest : public SeededTest {};

TEST_F(DaqTest, ForwardIsHardRoundingForAllBitWidths) {
  for (int64_t bits = 1; bits <= 8; ++bits) {
    const double steps = std::pow(2.0, static_cast<double>(bits)) - 1.0;
    const std::string spec = "daq:bits=" + std::to_string(bits);
    auto w = make_daq(spec, QuantTarget::kWeight, -2.0, 2.5);
    auto a = make_daq(spec, QuantTarget::kActivation, 0.0, 1.5);
    const auto x_w = torch::randn({8192}) * 0.3 + 0.1;
    const auto x_a = torch::cat({torch::rand({4096}) * 2.0 - 0.2, torch::linspace(0, 1.5, 4096)});
    // z exactly as the quantizer forms it, then round(z) with ties to the floor.
    const auto s = (x_w - x_w.mean()) / x_w.std();
    const auto z_w = torch::clamp((s + 2.0f) / (4.5f / static_cast<float>(steps)), 0, steps);
    const auto z_a = torch::clamp(x_a / (1.5f / static_cast<float>(steps)), 0, steps);
    const auto hard = [](const torch::Tensor& z) { return torch::ceil(z - 0.5); };
    const auto out_w = w->forward(x_w);
    const auto out_a = a->forward(x_a);
    EXPECT_TRUE(all_close(out_w, (2.0 * hard(z_w) - steps) / steps, 0, 1e-6)) << bits;
    EXPECT_TRUE(all_close(out_a, hard(z_a) / steps, 0, 1e-6)) << bits;
    // Off exact ties, this is torch::round.
    const auto off_tie = (z_a - torch::floor(z_a)) != 0.5;
    EXPECT_TRUE(all_equal(
        out_a.masked_select(off_tie), (torch::round(z_a) / steps).masked_select(off_tie)));
    EXPECT_EQ(std::get<0>(torch::_unique(out_a)).numel(), int64_t{1} << bits) << bits;
    EXPECT_TRUE(((out_w >= -1) & (out_w <= 1)).all().item<bool>());
  }
}

TEST_F(DaqTest, SoftFormulaEqualsHardRoundingOnEveryFractionalPart) {
  // Eq. 10-11: the shifted levels -c, 1 + c cancel the farther level's weight exactly.
  for (double gamma : {0.5, 2.0, 5.0}) {
    for (double sigma : {1.0, 2.0}) {
      for (double r = 0.0; r < 1.0; r += 1.0 / 64) {
        EXPECT_NEAR(soft_round(r, r, gamma, sigma), r > 0.5 ? 1.0 : 0.0, 1e-12) << r;
      }
    }
  }
}

TEST_F(DaqTest, TiesGoToTheFloorLevel) {
  auto a = make_daq("daq:bits=2", QuantTarget::kActivation, 0, 3.0);  // Delta = 1
  const auto out = a->forward(torch::tensor({0.5f, 1.5f, 2.5f, 2.75f}));
  EXPECT_TRUE(all_equal(out, torch::tensor({0.0f, 1.0f / 3, 2.0f / 3, 1.0f})));
}

TEST_F(DaqTest, BackwardMatchesTheClosedForm) {
  for (double gamma : {1.0, 2.0, 4.0}) {
    for (double sigma : {1.0, 2.0}) {
      const std::string spec =
          "daq:bits=3,gamma=" + std::to_string(gamma) + ",sigma=" + std::to_string(sigma);
      auto a = make_daq(spec, QuantTarget::kActivation, 0, 7.0);  // Delta = 1, z = x inside
      auto x = (torch::rand({2048}) * 9.0 - 1.0).requires_grad_(true);
      const auto g = torch::randn({2048});
      a->forward(x).backward(g);
      const auto z = x.detach().to(torch::kDouble);
      const auto inside = ((z >= 0) & (z <= 7)).to(torch::kDouble);
      const auto r = z.clamp(0, 7) - z.clamp(0, 7).floor();
      const auto expected = g.to(torch::kDouble) * soft_slope(r, gamma, sigma) * inside / 7.0;
      EXPECT_TRUE(all_close(x.grad().to(torch::kDouble), expected, 1e-5, 1e-7))
          << "gamma=" << gamma << " sigma=" << sigma;
    }
  }
}

TEST_F(DaqTest, BackwardMatchesFiniteDifferencesOfTheSoftFormula) {
  // docs/methods/daq.md, Backward: the closed form agrees with the code's formulas to 5 digits.
  for (double sigma : {1.0, 2.0}) {
    auto a =
        make_daq("daq:bits=8,sigma=" + std::to_string(sigma), QuantTarget::kActivation, 0, 255.0);
    auto x = (torch::linspace(3.02, 3.98, 97).to(torch::kFloat)).requires_grad_(true);
    a->forward(x).sum().backward();
    const auto grads = x.grad().to(torch::kDouble) * 255.0;  // dQ_A/dx = (dy/dz) / N_L
    const auto xs = x.detach().to(torch::kDouble);
    for (int64_t i = 0; i < xs.numel(); ++i) {
      const double r = xs[i].item<double>() - 3.0;
      const double h = 1e-6;
      const double fd =
          (soft_round(r + h, r, 2.0, sigma) - soft_round(r - h, r, 2.0, sigma)) / (2 * h);
      EXPECT_NEAR(grads[i].item<double>(), fd, 1e-5 * std::abs(fd))
          << "r=" << r << " sigma=" << sigma;
    }
  }
}

TEST_F(DaqTest, SlopeHasTheValuesMethodsStates) {
  // r = 0: 0.36 (sigma = 1) and 0.50 (sigma = 2); peak at r = 0.5 about 2.2 for sigma = 2.
  const struct {
    double sigma, z, slope, tol;
  } cases[] = {
      {1, 0.0, 0.362, 1e-3},
      {2, 0.0, 0.497, 1e-3},
      {2, 0.5, 2.2, 0.05},
      {1, 0.1, 0.38, 0.01},
      {1, 0.49, 0.59, 0.01},
      {2, 0.1, 0.57, 0.01},
      {2, 0.49, 2.05, 0.03}};
  for (const auto& c : cases) {
    auto a =
        make_daq("daq:bits=2,sigma=" + std::to_string(c.sigma), QuantTarget::kActivation, 0, 3.0);
    auto x = torch::full({1}, c.z, torch::kFloat).requires_grad_(true);
    a->forward(x).backward(torch::ones({1}));
    EXPECT_NEAR(x.grad().item<double>() * 3.0, c.slope, c.tol)
        << "sigma=" << c.sigma << " z=" << c.z;
  }
  // Symmetric around the transition, continuous across integers.
  auto a = make_daq("daq:bits=2", QuantTarget::kActivation, 0, 3.0);
  auto x = torch::tensor({0.3f, 0.7f, 0.999f, 1.0f}).requires_grad_(true);
  a->forward(x).sum().backward();
  EXPECT_NEAR(x.grad()[0].item<double>(), x.grad()[1].item<double>(), 1e-5);
  EXPECT_NEAR(x.grad()[2].item<double>(), x.grad()[3].item<double>(), 1e-3);
}

TEST_F(DaqTest, GradientsReachXLowerAndUpperThroughTheClamp) {
  const double l = -1.5;
  const double u = 2.0;
  for (int64_t bits : {1, 2, 4}) {
    const double steps = std::pow(2.0, static_cast<double>(bits)) - 1.0;
    auto q = make_daq("daq:bits=" + std::to_string(bits), QuantTarget::kWeight, l, u);
    auto w = (torch::randn({1024}) * 0.2).requires_grad_(true);
    const auto g = torch::randn({1024});
    q->forward(w).backward(g);
    const auto wd = w.detach();
    const double std_w = wd.std().item<double>();
    const auto s = (wd - wd.mean()) / wd.std();
    const float delta = static_cast<float>(u - l) / static_cast<float>(steps);
    const auto ratio = ((s - static_cast<float>(l)) / delta).to(torch::kDouble);
    const auto inside = ((ratio >= 0) & (ratio <= steps)).to(torch::kDouble);
    const auto z = ratio.clamp(0, steps);
    // dQ_W/dy = 2 / N_L; dy/dz from the closed form; then dz/d(x, u, l).
    const auto slope = soft_slope(z - z.floor(), 2.0, 1.0);
    const auto g_z = g.to(torch::kDouble) * 2.0 / steps * slope * inside;
    const auto g_w = g_z * steps / (u - l) / std_w;
    const double g_u = (g_z * -z / (u - l)).sum().item<double>();
    const double g_l = (g_z * (z - steps) / (u - l)).sum().item<double>();
    EXPECT_TRUE(all_close(w.grad().to(torch::kDouble), g_w, 1e-4, 1e-6)) << bits;
    EXPECT_NEAR(param_grad(q, "upper"), g_u, 1e-4 * (1 + std::abs(g_u))) << bits;
    EXPECT_NEAR(param_grad(q, "lower"), g_l, 1e-4 * (1 + std::abs(g_l))) << bits;
    EXPECT_GT((1 - inside).sum().item<double>(), 0) << "some weights should be clipped";
  }
}

TEST_F(DaqTest, ClippedActivationsGiveNoGradient) {
  auto a = make_daq("daq:bits=2", QuantTarget::kActivation, 0, 1.0);
  auto x = torch::tensor({-0.5f, -1e-3f, 1.001f, 4.0f}).requires_grad_(true);
  a->forward(x).sum().backward();
  EXPECT_TRUE(all_equal(x.grad(), torch::zeros({4})));
  EXPECT_EQ(param_grad(a, "upper"), 0.0);
}

TEST_F(DaqTest, WeightsAreStandardizedWithDetachedStatistics) {
  // Scaling and shifting w leaves Q_W unchanged; the gradient scales by 1 / std.
  auto q = make_daq("daq:bits=2", QuantTarget::kWeight, -3, 3);
  const auto w = torch::randn({256});
  auto w1 = w.clone().requires_grad_(true);
  auto w2 = (w * 10.0 + 4.0).requires_grad_(true);
  const auto out1 = q->forward(w1);
  const auto out2 = q->forward(w2);
  EXPECT_TRUE(all_close(out1, out2, 0, 1e-6));
  out1.sum().backward();
  out2.sum().backward();
  EXPECT_TRUE(all_close(w2.grad() * 10.0, w1.grad(), 1e-4, 1e-6));
}

TEST_F(DaqTest, InitializesIntervalsAsTheOfficialCode) {
  auto w = make_daq("daq:bits=1", QuantTarget::kWeight, -0.1, 0.2);
  w->initialize(torch::randn({64, 3, 3}) * 0.01);
  EXPECT_EQ(param(w, "lower"), -3.0);
  EXPECT_EQ(param(w, "upper"), 3.0);
  auto a = make_daq("daq:bits=1", QuantTarget::kActivation, 0, 1);
  const auto x = torch::relu(torch::randn({128, 16}));
  a->initialize(x);
  EXPECT_NEAR(param(a, "upper"), 3.0 * x.std().item<double>(), 1e-6);  // no half-normal factor
  EXPECT_FALSE(a->named_parameters().contains("lower"));               // l_A = 0 is fixed
  EXPECT_EQ(a->named_parameters().size(), 1u);
  EWGS_EXPECT_THROWS_WITH(a->initialize(torch::ones({10})), "std 0");
}

TEST_F(DaqTest, LayersGetAnOutputScaleInitializedFromTheFirstBatch) {
  nn::QConv2d conv(
      nn::QConv2dOptions(4, 8, 3).padding(1).weight_quant("daq:bits=1").act_quant("daq:bits=1"));
  ASSERT_TRUE(conv->output_scale.defined());
  const auto x = torch::relu(torch::randn({2, 4, 6, 6}));
  conv->train();
  const auto y = conv->forward(x);
  torch::NoGradGuard no_grad;
  const auto full = torch::conv2d(x, conv->weight, {}, 1, 1).abs().mean();
  const auto q = torch::conv2d(
      conv->act_quant->forward(x), conv->weight_quant->forward(conv->weight), {}, 1, 1);
  EXPECT_NEAR(conv->output_scale.item<double>(), (full / q.abs().mean()).item<double>(), 1e-5);
  EXPECT_TRUE(all_close(y, conv->output_scale.abs() * q, 1e-5, 1e-6));
}

TEST_F(DaqTest, SpecScalarsAndDefaults) {
  auto w = quant::make_quantizer("daq:bits=2", QuantTarget::kWeight);
  EXPECT_EQ(w->spec(), "daq:bits=2,gamma=2,sigma=1");
  EXPECT_FALSE(w->output_in_input_scale());
  EXPECT_FALSE(w->has_delta());
  auto a = quant::make_quantizer("daq:bits=3,gamma=1.5", QuantTarget::kActivation);
  EXPECT_EQ(a->spec(), "daq:bits=3,gamma=1.5,sigma=2");
  EXPECT_EQ(w->scalars().size(), 2u);
  ASSERT_EQ(a->scalars().size(), 1u);
  EXPECT_EQ(a->scalars()[0].first, "u");
  EXPECT_EQ(quant::make_quantizer(a->spec(), QuantTarget::kActivation)->spec(), a->spec());
}

TEST_F(DaqTest, RejectsBadSpecsAndInputs) {
  for (int64_t bits : {0, 9}) {
    EWGS_EXPECT_THROWS_WITH(
        quant::make_quantizer("daq:bits=" + std::to_string(bits), QuantTarget::kWeight),
        "daq weight quantizer: bits must be in [1, 8] or 32 (off), got " + std::to_string(bits));
  }
  EWGS_EXPECT_THROWS_WITH(
      quant::make_quantizer("daq:gamma=0", QuantTarget::kWeight),
      "daq weight quantizer: gamma must be finite and > 0, got 0");
  EWGS_EXPECT_THROWS_WITH(
      quant::make_quantizer("daq:gamma=nan", QuantTarget::kActivation),
      "gamma must be a finite number within float range");
  EWGS_EXPECT_THROWS_WITH(
      quant::make_quantizer("daq:sigma=-1", QuantTarget::kActivation),
      "daq activation quantizer: sigma must be finite and > 0, got -1");
  EWGS_EXPECT_THROWS_WITH(
      quant::make_quantizer("daq:bits=2,delta=0.1", QuantTarget::kWeight), "has no key 'delta'");
  EWGS_EXPECT_THROWS_WITH(
      quant::make_quantizer("daq:bits=2", QuantTarget::kGradient),
      "cannot be a gradient quantizer");
  auto w = make_daq("daq:bits=2", QuantTarget::kWeight, 1.0, 1.0);
  EWGS_EXPECT_THROWS_WITH(w->forward(torch::randn({4})), "the interval needs l < u, got l=1 u=1");
  auto a = make_daq("daq:bits=2", QuantTarget::kActivation, 0, -1.0);
  EWGS_EXPECT_THROWS_WITH(a->forward(torch::rand({4})), "l=0 u=-1");
  EWGS_EXPECT_THROWS_WITH(
      a->forward(torch::tensor({1.0f, NAN})), "daq activation quantizer: input has non-finite");
  auto ok = make_daq("daq:bits=2", QuantTarget::kWeight, -3, 3);
  EWGS_EXPECT_THROWS_WITH(ok->forward(torch::full({4}, 0.5f)), "cannot standardize a weight");
}

TEST_F(DaqTest, MatchesTheSoftFormulaOfAnIndependentPyTorchImplementation) {
  const auto golden = load_golden("daq_aqe.json");
  ASSERT_EQ(golden["daq"].size(), 20u);
  for (const auto& c : golden["daq"]) {
    const bool weight = c["target"] == "weight";
    const std::string spec = "daq:bits=" + std::to_string(c["bits"].get<int>()) +
                             ",gamma=" + c10::str(c["gamma"].get<double>()) +
                             ",sigma=" + c10::str(c["sigma"].get<double>());
    auto q = make_daq(
        spec,
        weight ? QuantTarget::kWeight : QuantTarget::kActivation,
        c["l"].get<double>(),
        c["u"].get<double>());
    auto x = tensor_from_json(c["x"]).requires_grad_(true);
    const auto out = q->forward(x);
    out.backward(tensor_from_json(c["grad_out"]));
    const std::string what = spec + (weight ? " weight" : " activation");
    // The soft output equals the hard rounding up to ~1e-16.
    EXPECT_TRUE(all_close(out, tensor_from_json(c["out"]), 0, 1e-6)) << what;
    EXPECT_TRUE(all_close(x.grad(), tensor_from_json(c["grad_x"]), 1e-5, 1e-6)) << what;
    const double g_u = c["grad_u"].get<double>();
    EXPECT_NEAR(param_grad(q, "upper"), g_u, 1e-5 * (1 + std::abs(g_u))) << what;
    if (weight) {
      const double g_l = c["grad_l"].get<double>();
      EXPECT_NEAR(param_grad(q, "lower"), g_l, 1e-5 * (1 + std::abs(g_l))) << what;
    }
  }
}

}  // namespace
}  // namespace ewgs::test
