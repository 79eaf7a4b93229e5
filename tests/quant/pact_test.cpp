// PACT against its formulas (docs/methods/pact.md, Eq. 1-3): clip to [0, α] and quantize,
// STE gradients of x and α, α = alpha_init, the L2 penalty on α, activation-only errors.
#include <cmath>

#include "quant/comparator_test_util.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using quant::QuantTarget;

class PactTest : public SeededTest {};

TEST_F(PactTest, ForwardClipsToAlphaAndQuantizesUniformly) {
  for (int64_t bits = 1; bits <= 8; ++bits) {
    auto q = make("pact:bits=" + std::to_string(bits), QuantTarget::kActivation);
    const float alpha = 1.7f;
    set_param(*q, "alpha", alpha);
    const auto x = torch::cat({torch::randn({3000}) * 2.0, torch::linspace(-1.0, 3.0, 4001)});
    const auto out = q->forward(x);
    const double steps = std::pow(2.0, static_cast<double>(bits)) - 1.0;
    const auto y = x.clamp(0.0, alpha);
    const auto expected = torch::round(y * steps / alpha) * alpha / steps;
    EXPECT_TRUE(all_equal(out, expected)) << "bits=" << bits;
    const auto levels = std::get<0>(torch::_unique(out));
    EXPECT_EQ(levels.numel(), int64_t{1} << bits) << "bits=" << bits;
    EXPECT_FLOAT_EQ(levels.min().item<float>(), 0.0f);
    EXPECT_FLOAT_EQ(levels.max().item<float>(), alpha);
  }
}

TEST_F(PactTest, OneBitOutputsZeroOrAlpha) {
  auto q = make("pact:bits=1", QuantTarget::kActivation);
  set_param(*q, "alpha", 2.0);
  const auto out = q->forward(torch::tensor({-1.0f, 0.9f, 1.0f, 1.1f, 5.0f}));
  // round(y / 2): 0.5 is a tie, rounded to even (0).
  EXPECT_TRUE(all_equal(out, torch::tensor({0.0f, 0.0f, 0.0f, 2.0f, 2.0f})));
}

TEST_F(PactTest, BackwardIsTheStraightThroughGradientOfTheClip) {
  for (int64_t bits : {1, 2, 4, 8}) {
    auto q = make("pact:bits=" + std::to_string(bits), QuantTarget::kActivation);
    const float alpha = 1.25f;
    set_param(*q, "alpha", alpha);
    // Negative, inside, exactly 0 and α, above α; gradients of both signs.
    auto x = torch::cat({torch::rand({500}) * 3.0 - 1.0, torch::tensor({0.0f, alpha})})
                 .requires_grad_(true);
    const auto g = torch::randn({502});
    q->forward(x).backward(g);
    const auto xd = x.detach();
    const auto inside = ((xd >= 0.0) & (xd < alpha)).to(torch::kFloat);
    const auto clipped = (xd >= alpha).to(torch::kDouble);
    EXPECT_TRUE(all_equal(x.grad(), g * inside)) << bits;
    const double expected_alpha = (g.to(torch::kDouble) * clipped).sum().item<double>();
    EXPECT_NEAR(param_grad(*q, "alpha"), expected_alpha, 1e-5) << bits;
    EXPECT_EQ(x.grad()[500].item<float>(), g[500].item<float>());  // x = 0 passes
    EXPECT_EQ(x.grad()[501].item<float>(), 0.0f);                  // x = α is clipped
  }
}

TEST_F(PactTest, InitializesAlphaToAlphaInitWhateverTheBatch) {
  auto q = make("pact:bits=2", QuantTarget::kActivation);
  EXPECT_FLOAT_EQ(param(*q, "alpha").item<float>(), 10.0f);
  set_param(*q, "alpha", 3.0);
  q->initialize(torch::rand({8, 4}) * 100);
  EXPECT_FLOAT_EQ(param(*q, "alpha").item<float>(), 10.0f);
  auto custom = make("pact:bits=2,alpha_init=4", QuantTarget::kActivation);
  custom->initialize(torch::rand({8, 4}));
  EXPECT_FLOAT_EQ(param(*custom, "alpha").item<float>(), 4.0f);
  const auto scalars = custom->scalars();
  ASSERT_EQ(scalars.size(), 1u);
  EXPECT_EQ(scalars[0].first, "alpha");
  EXPECT_DOUBLE_EQ(scalars[0].second, 4.0);
}

TEST_F(PactTest, RegularizerIsDecayTimesAlphaSquared) {
  auto q = make("pact:bits=2,decay=0.01", QuantTarget::kActivation);
  set_param(*q, "alpha", 3.0);
  const auto r = q->regularizer();
  ASSERT_TRUE(r.defined());
  EXPECT_NEAR(r.item<double>(), 0.01 * 9.0, 1e-7);
  r.backward();
  EXPECT_NEAR(param_grad(*q, "alpha"), 2 * 0.01 * 3.0, 1e-7);
  auto by_default = make("pact:bits=2", QuantTarget::kActivation);
  EXPECT_NEAR(by_default->regularizer().item<double>(), 1e-4 * 100.0, 1e-8);
  EXPECT_FALSE(make("pact:bits=2,decay=0", QuantTarget::kActivation)->regularizer().defined());
}

TEST_F(PactTest, RejectsWeightsAndBadValues) {
  EWGS_EXPECT_THROWS_WITH(
      make("pact:bits=2", QuantTarget::kWeight),
      "pact weight quantizer: PACT quantizes activations only, not weights; PACT quantizes "
      "weights with DoReFa, e.g. dorefa:bits=2");
  EWGS_EXPECT_THROWS_WITH(make("pact:bits=2", QuantTarget::kGradient), "not gradients");
  EWGS_EXPECT_THROWS_WITH(make("pact:bits=0", QuantTarget::kActivation), "got 0");
  EWGS_EXPECT_THROWS_WITH(
      make("pact:bits=2,alpha_init=0", QuantTarget::kActivation),
      "pact activation quantizer: alpha_init must be finite and > 0, got 0");
  EWGS_EXPECT_THROWS_WITH(
      make("pact:bits=2,decay=-1", QuantTarget::kActivation), "decay must be finite and >= 0");
  EWGS_EXPECT_THROWS_WITH(make("pact:bits=2,delta=0.1", QuantTarget::kActivation), "delta");
  auto q = make("pact:bits=2", QuantTarget::kActivation);
  set_param(*q, "alpha", -0.5);
  EWGS_EXPECT_THROWS_WITH(q->forward(torch::ones({2})), "alpha must be finite and > 0, got -0.5");
}

TEST_F(PactTest, SpecRoundTripsAndOutputIsOnTheInputScale) {
  auto q = make("pact:bits=3", QuantTarget::kActivation);
  EXPECT_EQ(q->spec(), "pact:alpha_init=10,bits=3,decay=0.0001");
  auto custom = make("pact:decay=0.001,bits=2,alpha_init=6.5", QuantTarget::kActivation);
  EXPECT_EQ(custom->spec(), "pact:alpha_init=6.5,bits=2,decay=0.001");
  EXPECT_EQ(make(custom->spec(), QuantTarget::kActivation)->spec(), custom->spec());
  EXPECT_TRUE(q->output_in_input_scale());
  EXPECT_FALSE(q->has_delta());
}

}  // namespace
}  // namespace ewgs::test
