// DoReFa against its formulas (docs/methods/dorefa.md, D1-D4): tanh-normalized weights,
// 1-bit sign(w) E|w|, clipped activations, closed-form STE and EWGS (Eq. 4) backwards, delta
// and capture, errors.
#include <cmath>

#include "quant/comparator_test_util.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using quant::QuantTarget;

class DorefaTest : public SeededTest {};

double steps_of(int64_t bits) {
  return std::pow(2.0, static_cast<double>(bits)) - 1.0;
}

/// t = tanh(w) / (2 max|tanh(w)|) + 1/2.
torch::Tensor normalized(const torch::Tensor& w) {
  const auto t = torch::tanh(w);
  return t / (2.0 * t.abs().max()) + 0.5;
}

/// EWGS Eq. 4 on the rounding: g (1 + delta sign(g) (x_n - x_q)).
torch::Tensor ewgs_scaled(
    const torch::Tensor& g, const torch::Tensor& x_n, double steps, double delta) {
  const auto x_q = torch::round(x_n * steps) / steps;
  return g * (1.0 + delta * torch::sign(g) * (x_n - x_q));
}

/// d/dw of sum(g * (2 quantize_k(t) - 1)) with the max not detached, in double:
/// g_t = 2 g scaled by EWGS, then dt_i/dw_i = (1 - tanh^2 w_i) / (2M) and the
/// max element k also gets -sign(tanh w_k)(1 - tanh^2 w_k) sum_i g_t,i tanh w_i / (2M^2).
torch::Tensor weight_grad(
    const torch::Tensor& w, const torch::Tensor& g, int64_t bits, double delta) {
  const auto w64 = w.to(torch::kDouble);
  const auto th = torch::tanh(w64);
  const auto max_abs = th.abs().max();
  const int64_t k = th.abs().flatten().argmax().item<int64_t>();
  const auto x_n = normalized(w).to(torch::kDouble);  // as the quantizer rounds it, in float
  const auto g_t = ewgs_scaled(2.0 * g.to(torch::kDouble), x_n, steps_of(bits), delta);
  const auto dtanh = 1.0 - th * th;
  auto grad = (g_t * dtanh / (2.0 * max_abs)).flatten();
  const auto through_max = (g_t * th).sum() / (2.0 * max_abs * max_abs);
  grad[k] -= torch::sign(th.flatten()[k]) * dtanh.flatten()[k] * through_max;
  return grad.reshape(w.sizes());
}

TEST_F(DorefaTest, WeightForwardIsTwiceTheQuantizedNormalizedTanhMinusOne) {
  const auto w = torch::randn({8, 4, 3, 3}) * 0.3;
  for (int64_t bits : {2, 3, 4, 8}) {
    auto q = make("dorefa:bits=" + std::to_string(bits), QuantTarget::kWeight);
    const double steps = steps_of(bits);
    const auto expected = 2.0 * (torch::round(normalized(w) * steps) / steps) - 1.0;
    const auto out = q->forward(w);
    EXPECT_TRUE(all_equal(out, expected)) << bits;
    // The largest |w| maps to the end levels -1 / +1.
    EXPECT_FLOAT_EQ(out.abs().max().item<float>(), 1.0f);
    EXPECT_LE(std::get<0>(torch::_unique(out)).numel(), int64_t{1} << bits);
  }
}

TEST_F(DorefaTest, OneBitWeightsAreSignTimesMeanAbsWithIdentityGradient) {
  auto q = make("dorefa:bits=1", QuantTarget::kWeight);
  auto w = torch::tensor({-0.4f, 0.0f, 0.2f, 1.4f, -0.6f}).requires_grad_(true);
  const auto out = q->forward(w);
  const float e = (0.4f + 0.0f + 0.2f + 1.4f + 0.6f) / 5.0f;
  EXPECT_TRUE(all_close(out, torch::tensor({-e, e, e, e, -e}), 0, 1e-7));  // sign(0) = +1
  const auto g = torch::tensor({1.0f, -2.0f, 3.0f, -4.0f, 5.0f});
  out.backward(g);
  EXPECT_TRUE(all_equal(w.grad(), g));
}

TEST_F(DorefaTest, OneBitWeightsWithEwgsScaleByTheBinarizationError) {
  auto q = make("dorefa:bits=1,estimator=ewgs,delta=0.5", QuantTarget::kWeight);
  auto w = torch::tensor({-0.4f, 0.0f, 0.2f, 1.6f, -0.8f}).requires_grad_(true);
  const auto out = q->forward(w);
  const float e = (0.4f + 0.0f + 0.2f + 1.6f + 0.8f) / 5.0f;
  EXPECT_TRUE(all_close(out, torch::tensor({-e, e, e, e, -e}), 0, 1e-7));  // forward as STE
  const auto g = torch::tensor({1.0f, -2.0f, 3.0f, -4.0f, 5.0f});
  out.backward(g);
  // x_n = 1/2 + w / (2 * 1.6); x_q = [w >= 0]; g (1 + 0.5 sign(g) (x_n - x_q)).
  const auto x_n = torch::tensor({0.375f, 0.5f, 0.5625f, 1.0f, 0.25f});
  const auto x_q = torch::tensor({0.0f, 1.0f, 1.0f, 1.0f, 0.0f});
  const auto expected = g * (1.0 + 0.5 * torch::sign(g) * (x_n - x_q));
  EXPECT_TRUE(all_close(w.grad(), expected, 1e-6, 0)) << w.grad();
  // delta = 0 is the STE exactly.
  q->set_delta(0.0);
  w.mutable_grad().zero_();
  q->forward(w).backward(g);
  EXPECT_TRUE(all_equal(w.grad(), g));
}

TEST_F(DorefaTest, ActivationsClipToTheUnitIntervalThenQuantize) {
  for (int64_t bits : {1, 2, 4, 8}) {
    auto q = make("dorefa:bits=" + std::to_string(bits), QuantTarget::kActivation);
    const auto x = torch::cat({torch::randn({2000}), torch::linspace(-0.5, 1.5, 2001)});
    const double steps = steps_of(bits);
    const auto expected = torch::round(x.clamp(0.0, 1.0) * steps) / steps;
    EXPECT_TRUE(all_equal(q->forward(x), expected)) << bits;
    EXPECT_TRUE(all_equal(q->forward(torch::tensor({-3.0f, 7.0f})), torch::tensor({0.0f, 1.0f})));
  }
}

TEST_F(DorefaTest, BackwardMatchesClosedFormForSteAndEwgs) {
  for (double delta : {0.0, 0.01, 0.3, 2.0}) {
    const std::string estimator =
        delta == 0.0 ? "estimator=ste" : "estimator=ewgs,delta=" + std::to_string(delta);
    for (int64_t bits : {1, 2, 4, 8}) {
      const std::string what = estimator + " bits=" + std::to_string(bits);
      if (bits > 1) {
        auto w_q =
            make("dorefa:bits=" + std::to_string(bits) + "," + estimator, QuantTarget::kWeight);
        auto w = (torch::randn({6, 20}) * 0.5).requires_grad_(true);
        const auto g = torch::randn({6, 20});
        w_q->forward(w).backward(g);
        EXPECT_TRUE(all_close(w.grad(), weight_grad(w.detach(), g, bits, delta), 1e-5, 1e-6))
            << what;
      }
      auto a_q =
          make("dorefa:bits=" + std::to_string(bits) + "," + estimator, QuantTarget::kActivation);
      // Clipped below and above, exactly 0 and 1 (passed), both gradient signs.
      auto a = torch::cat({torch::rand({300}) * 2.0 - 0.5, torch::tensor({0.0f, 1.0f})})
                   .requires_grad_(true);
      const auto g = torch::randn({302});
      a_q->forward(a).backward(g);
      const auto ad = a.detach();
      const auto passed = ((ad >= 0.0) & (ad <= 1.0)).to(torch::kDouble);
      const auto expected =
          ewgs_scaled(
              g.to(torch::kDouble), ad.clamp(0.0, 1.0).to(torch::kDouble), steps_of(bits), delta) *
          passed;
      EXPECT_TRUE(all_close(a.grad(), expected, 1e-6, 1e-7)) << what;
    }
  }
}

TEST_F(DorefaTest, EwgsWithZeroDeltaIsExactlyTheSte) {
  for (auto target : {QuantTarget::kWeight, QuantTarget::kActivation}) {
    const auto x = target == QuantTarget::kWeight ? torch::randn({5, 7}) * 0.4
                                                  : torch::rand({5, 7}) * 1.4 - 0.2;
    const auto g = torch::randn({5, 7});
    auto ste_x = x.clone().requires_grad_(true);
    auto ewgs_x = x.clone().requires_grad_(true);
    const auto ste_out = make("dorefa:bits=2", target)->forward(ste_x);
    const auto ewgs_out = make("dorefa:bits=2,estimator=ewgs,delta=0", target)->forward(ewgs_x);
    ste_out.backward(g);
    ewgs_out.backward(g);
    EXPECT_TRUE(all_equal(ste_out, ewgs_out));
    EXPECT_TRUE(all_equal(ste_x.grad(), ewgs_x.grad()));
  }
}

TEST_F(DorefaTest, EwgsHasASettableDeltaAndCapturesTheDiscreteValue) {
  auto q = make("dorefa:bits=2,estimator=ewgs", QuantTarget::kWeight);
  EXPECT_TRUE(q->has_delta());
  EXPECT_DOUBLE_EQ(q->delta(), 0.01f);  // EWGS Table 5's fixed delta by default
  EXPECT_EQ(q->named_buffers().size(), 1u);
  EXPECT_TRUE(q->named_buffers().contains("delta"));
  EXPECT_EQ(q->named_parameters().size(), 0u);
  q->set_delta(0.25);
  EXPECT_DOUBLE_EQ(q->delta(), 0.25);
  EXPECT_EQ(q->scalars().size(), 1u);
  EXPECT_EQ(q->scalars()[0].first, "delta");
  EWGS_EXPECT_THROWS_WITH(
      q->set_delta(-1.0), "dorefa weight quantizer: delta must be finite and >= 0, got -1");
  q->set_capture(true);
  const auto w = torch::randn({4, 9});
  const auto out = q->forward(w);
  const auto& x_q = q->captured();
  ASSERT_TRUE(x_q.defined());
  EXPECT_TRUE(all_equal(out, 2.0 * x_q - 1.0));
  EXPECT_TRUE(((x_q >= 0) & (x_q <= 1)).all().item<bool>());
  q->set_capture(false);
  auto ste = make("dorefa:bits=2", QuantTarget::kActivation);
  EXPECT_FALSE(ste->has_delta());
  EXPECT_TRUE(ste->scalars().empty());
  EWGS_EXPECT_THROWS_WITH(ste->set_delta(0.1), "has no gradient scale delta");
}

TEST_F(DorefaTest, RejectsUnsupportedSettings) {
  EWGS_EXPECT_THROWS_WITH(
      make("dorefa:bits=2,estimator=lsq", QuantTarget::kWeight),
      "dorefa weight quantizer: estimator must be ste or ewgs, got 'lsq'");
  EWGS_EXPECT_THROWS_WITH(
      make("dorefa:bits=2,delta=0.1", QuantTarget::kActivation),
      "delta applies only with estimator=ewgs, got estimator=ste and delta=0.1");
  EWGS_EXPECT_THROWS_WITH(
      make("dorefa:bits=2,estimator=ewgs,delta=-1", QuantTarget::kActivation), "got -1");
  EWGS_EXPECT_THROWS_WITH(make("dorefa:bits=2", QuantTarget::kGradient), "not implemented");
  EWGS_EXPECT_THROWS_WITH(make("dorefa:bits=9", QuantTarget::kWeight), "got 9");
  EWGS_EXPECT_THROWS_WITH(
      make("dorefa:bits=2", QuantTarget::kWeight)->forward(torch::zeros({3})), "max|tanh(w)| is 0");
  // 1-bit activations round a [0, 1] value, so EWGS applies to them.
  EXPECT_TRUE(make("dorefa:bits=1,estimator=ewgs", QuantTarget::kActivation)->has_delta());
}

TEST_F(DorefaTest, SpecRoundTripsAndLayersKeepTheirOutputScale) {
  for (const std::string text :
       {"dorefa:bits=2,estimator=ste",
        "dorefa:bits=4,delta=0.01,estimator=ewgs",
        "dorefa:bits=3,delta=0.5,estimator=ewgs"}) {
    auto q = make(text, QuantTarget::kWeight);
    EXPECT_EQ(q->spec(), text);
    EXPECT_EQ(make(q->spec(), QuantTarget::kActivation)->spec(), text);
    EXPECT_FALSE(q->output_in_input_scale());
  }
  EXPECT_EQ(
      make("dorefa:bits=2,estimator=ewgs", QuantTarget::kWeight)->spec(),
      "dorefa:bits=2,delta=0.01,estimator=ewgs");
  EXPECT_EQ(make("dorefa", QuantTarget::kWeight)->spec(), "dorefa:bits=4,estimator=ste");
}

}  // namespace
}  // namespace ewgs::test
