// Backward of STE and EWGS against the closed-form surrogate gradients of
// docs/methods/ewgs.md, Eq. 4: g_n = g_q (1 + delta sign(g_q)(x_n - x_q)), then through clip.
#include <cmath>

#include "ewgs/quant/rounding.h"
#include "quant/quant_test_util.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using quant::QuantTarget;

struct IntervalGrads {
  torch::Tensor x;
  double l;
  double u;
};

/// Closed-form gradients of sum(g * Q(x)) w.r.t. x, l, u in double precision.
IntervalGrads closed_form(
    const torch::Tensor& x_float,
    const torch::Tensor& g_float,
    double l,
    double u,
    int64_t bits,
    double delta,
    QuantTarget target) {
  const auto x = x_float.to(torch::kDouble);
  const auto g_out = g_float.to(torch::kDouble);
  const double steps = std::pow(2.0, static_cast<double>(bits)) - 1.0;
  const auto ratio = (x_float - static_cast<float>(l)) / static_cast<float>(u - l);
  const auto x_n = ratio.clamp(0.0, 1.0).to(torch::kDouble);
  const auto x_q = (torch::round(ratio.clamp(0.0, 1.0) * steps) / steps).to(torch::kDouble);
  // Eq. 3 output map: d Q_W / d x_q = 2, d Q_A / d x_q = 1.
  const auto g_q = target == QuantTarget::kWeight ? 2.0 * g_out : g_out;
  const auto g_n = g_q * (1.0 + delta * torch::sign(g_q) * (x_n - x_q));  // Eq. 4
  // Clip passes the gradient where l <= x <= u (boundaries included).
  const auto inside = ((ratio >= 0.0) & (ratio <= 1.0)).to(torch::kDouble);
  const auto g_inside = g_n * inside / (u - l);
  return {
      g_inside,
      (g_inside * (x_n - 1.0)).sum().item<double>(),
      (g_inside * (-x_n)).sum().item<double>()};
}

class EstimatorBackwardTest : public SeededTest {};

TEST_F(EstimatorBackwardTest, MatchesClosedFormForSteAndEwgs) {
  for (const std::string method : {"ste", "ewgs"}) {
    for (double delta : {0.0, 1e-3, 0.1, 0.7, 3.0}) {
      if (method == "ste" && delta != 0.0) {
        continue;
      }
      for (int64_t bits : {1, 2, 4, 8}) {
        for (auto target : {QuantTarget::kWeight, QuantTarget::kActivation}) {
          const double l = target == QuantTarget::kWeight ? -0.6 : 0.1;
          const double u = target == QuantTarget::kWeight ? 0.4 : 1.7;
          auto q = make_interval_quantizer(method, target, bits, l, u, delta);
          // Elements inside, clipped below and above, both gradient signs.
          auto x = (torch::rand({512}) * (u - l + 1.0) + (l - 0.5)).requires_grad_(true);
          const auto g = torch::randn({512});
          q->forward(x).backward(g);
          const auto expected = closed_form(x.detach(), g, l, u, bits, delta, target);
          const std::string what = method + " bits=" + std::to_string(bits) +
                                   " delta=" + std::to_string(delta) + " " +
                                   quant::to_string(target);
          EXPECT_TRUE(all_close(x.grad(), expected.x, 1e-5, 1e-6)) << what;
          EXPECT_NEAR(q->lower.grad().item<double>(), expected.l, 1e-4 * (1 + std::abs(expected.l)))
              << what;
          EXPECT_NEAR(q->upper.grad().item<double>(), expected.u, 1e-4 * (1 + std::abs(expected.u)))
              << what;
        }
      }
    }
  }
}

TEST_F(EstimatorBackwardTest, ClippedElementsGiveNoGradientToTheInterval) {
  auto q = make_interval_quantizer("ewgs", QuantTarget::kActivation, 2, 0.0, 1.0, 0.5);
  auto x = torch::tensor({-2.0f, -0.1f, 1.5f, 3.0f}).requires_grad_(true);
  q->forward(x).sum().backward();
  EXPECT_EQ(q->lower.grad().item<float>(), 0.0f);
  EXPECT_EQ(q->upper.grad().item<float>(), 0.0f);
  EXPECT_TRUE(all_equal(x.grad(), torch::zeros({4})));
}

TEST_F(EstimatorBackwardTest, BoundaryElementsPassTheGradient) {
  auto q = make_interval_quantizer("ste", QuantTarget::kActivation, 2, 0.0, 2.0);
  auto x = torch::tensor({0.0f, 2.0f}).requires_grad_(true);
  q->forward(x).sum().backward();
  EXPECT_TRUE(all_equal(x.grad(), torch::full({2}, 0.5f)));
}

TEST_F(EstimatorBackwardTest, EwgsWithZeroDeltaEqualsSteExactly) {
  const auto x_n = torch::rand({10000});
  const auto g = torch::randn({10000});
  auto a = x_n.clone().requires_grad_(true);
  auto b = x_n.clone().requires_grad_(true);
  quant::ewgs_round(a, 3, torch::zeros({})).backward(g);
  quant::ste_round(b, 3).backward(g);
  EXPECT_TRUE(all_equal(a.grad(), b.grad()));
  EXPECT_TRUE(all_equal(a.grad(), g));
}

TEST_F(EstimatorBackwardTest, EwgsScalesTowardTheLatentValue) {
  // x_n slightly above its level with a positive gradient: the update
  // -g moves it down toward x_q, so EWGS enlarges the gradient (Fig. 2).
  auto x_n = torch::tensor({0.40f, 0.40f, 0.26f, 0.26f}).requires_grad_(true);
  const auto g = torch::tensor({1.0f, -1.0f, 1.0f, -1.0f});
  quant::ewgs_round(x_n, 3, torch::full({}, 0.5)).backward(g);  // levels k/3
  const auto e = x_n.detach() - torch::round(x_n.detach() * 3) / 3;
  const auto expected = g * (1 + 0.5 * torch::sign(g) * e);
  EXPECT_TRUE(all_close(x_n.grad(), expected, 0, 1e-7));
  EXPECT_GT(x_n.grad()[0].item<float>(), 1.0f);   // e > 0, g > 0: larger
  EXPECT_GT(x_n.grad()[1].item<float>(), -1.0f);  // e > 0, g < 0: smaller magnitude
  EXPECT_LT(x_n.grad()[2].item<float>(), 1.0f);   // e < 0, g > 0: smaller
}

}  // namespace
}  // namespace ewgs::test
