// Forward of the learnable-interval quantizer against paper Eq. 1-3, its
// initialization (Sec. 4.1) and its errors on bad input.
#include "ewgs/quant/interval_quantizer.h"

#include <cmath>

#include "quant/quant_test_util.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using quant::QuantTarget;

class IntervalQuantizerTest : public SeededTest {};

/// Eq. 1-3 in double precision.
torch::Tensor expected_forward(
    const torch::Tensor& x, double l, double u, int64_t bits, QuantTarget target) {
  const double steps = std::pow(2.0, static_cast<double>(bits)) - 1.0;
  const auto x_n = ((x.to(torch::kDouble) - l) / (u - l)).clamp(0.0, 1.0);
  // Levels k / steps, rounded once to float like the quantizer's output.
  const auto x_q = (torch::round(x_n * steps) / steps).to(torch::kFloat);
  return target == QuantTarget::kWeight ? 2.0f * (x_q - 0.5f) : x_q;
}

TEST_F(IntervalQuantizerTest, ForwardMatchesEquationsForAllBitWidths) {
  for (int64_t bits = 1; bits <= 8; ++bits) {
    for (auto target : {QuantTarget::kWeight, QuantTarget::kActivation}) {
      auto q = make_interval_quantizer("ewgs", target, bits, -0.5, 1.25, 0.01);
      const auto x = torch::cat({torch::randn({4096}) * 1.5, torch::linspace(-0.5, 1.25, 4096)});
      const auto out = q->forward(x);
      // The float32 ratio (x - l) / (u - l) may fall on the other side of a
      // rounding tie than the exact one only within float epsilon of it.
      const auto expected = expected_forward(x, -0.5, 1.25, bits, target);
      const int64_t differing = (out != expected).sum().item<int64_t>();
      EXPECT_LE(differing, 2) << "bits=" << bits;
      const auto levels = std::get<0>(torch::_unique(out));
      EXPECT_EQ(levels.numel(), int64_t{1} << bits) << "bits=" << bits;
    }
  }
}

TEST_F(IntervalQuantizerTest, OneBitWeightsAreExactlyPlusMinusOne) {
  auto q = make_interval_quantizer("ste", QuantTarget::kWeight, 1, -0.3, 0.3);
  const auto out = q->forward(torch::randn({1000}));
  EXPECT_TRUE(((out == 1.0) | (out == -1.0)).all().item<bool>());
  EXPECT_GT((out == 1.0).sum().item<int64_t>(), 300);
  EXPECT_GT((out == -1.0).sum().item<int64_t>(), 300);
}

TEST_F(IntervalQuantizerTest, TwoBitWeightsHaveNoZeroLevel) {
  auto q = make_interval_quantizer("ste", QuantTarget::kWeight, 2, -1.0, 1.0);
  const auto out = q->forward(torch::linspace(-1.5, 1.5, 301));
  const auto levels = std::get<0>(torch::_unique(out));
  EXPECT_TRUE(all_close(levels, torch::tensor({-1.0f, -1.0f / 3, 1.0f / 3, 1.0f}), 0, 1e-7));
}

TEST_F(IntervalQuantizerTest, TiesRoundHalfToEven) {
  // [l, u] = [-1, 1]: x = 0 maps exactly to x_n = 0.5.
  auto one_bit = make_interval_quantizer("ste", QuantTarget::kActivation, 1, -1.0, 1.0);
  EXPECT_EQ(one_bit->forward(torch::zeros({1})).item<float>(), 0.0f);  // round(0.5) = 0
  auto two_bit = make_interval_quantizer("ste", QuantTarget::kActivation, 2, -1.0, 1.0);
  EXPECT_FLOAT_EQ(two_bit->forward(torch::zeros({1})).item<float>(), 2.0f / 3);  // round(1.5) = 2
  // x_n = 0.25 with 3 bits: 7 * 0.25 = 1.75 is no tie; 0.5 -> 3.5 rounds to 4.
  auto three_bit = make_interval_quantizer("ste", QuantTarget::kActivation, 3, 0.0, 1.0);
  EXPECT_FLOAT_EQ(three_bit->forward(torch::full({1}, 0.5)).item<float>(), 4.0f / 7);
}

TEST_F(IntervalQuantizerTest, ClipsAtBothEnds) {
  auto w = make_interval_quantizer("ewgs", QuantTarget::kWeight, 3, -0.2, 0.4);
  const auto out = w->forward(torch::tensor({-5.0f, -0.2f, 0.4f, 7.0f}));
  EXPECT_TRUE(all_equal(out, torch::tensor({-1.0f, -1.0f, 1.0f, 1.0f})));
  auto a = make_interval_quantizer("ewgs", QuantTarget::kActivation, 2, 0.5, 2.5);
  EXPECT_TRUE(all_equal(
      a->forward(torch::tensor({0.0f, 0.5f, 2.5f, 9.0f})),
      torch::tensor({0.0f, 0.0f, 1.0f, 1.0f})));
}

TEST_F(IntervalQuantizerTest, InitializesWeightsToThreeStd) {
  auto q = make_interval_quantizer("ewgs", QuantTarget::kWeight, 1, -1, 1);
  const auto w = torch::randn({64, 3, 3}) * 0.1 + 0.05;
  q->initialize(w);
  const double s = w.std().item<double>();  // unbiased, not mean-centred interval
  EXPECT_NEAR(q->lower.item<double>(), -3 * s, 1e-7);
  EXPECT_NEAR(q->upper.item<double>(), 3 * s, 1e-7);
}

TEST_F(IntervalQuantizerTest, InitializesActivationsFromMinAndHalfNormalStd) {
  auto q = make_interval_quantizer("ewgs", QuantTarget::kActivation, 2, 0, 1);
  const auto x = torch::relu(torch::randn({256, 16})) + 0.01;
  q->initialize(x);
  EXPECT_NEAR(q->lower.item<double>(), x.min().item<double>(), 1e-7);
  EXPECT_NEAR(q->upper.item<double>(), 3 * x.std().item<double>() / std::sqrt(1 - 2 / M_PI), 1e-6);
}

TEST_F(IntervalQuantizerTest, RejectsEmptyOrInvertedInterval) {
  auto q = make_interval_quantizer("ewgs", QuantTarget::kWeight, 2, 0.5, 0.5);
  EWGS_EXPECT_THROWS_WITH(
      q->forward(torch::ones({3})), "the interval needs l < u, got l=0.5 u=0.5");
  auto inverted = make_interval_quantizer("ste", QuantTarget::kActivation, 2, 1.0, -1.0);
  EWGS_EXPECT_THROWS_WITH(inverted->forward(torch::ones({3})), "l=1 u=-1");
}

TEST_F(IntervalQuantizerTest, RejectsNonFiniteInput) {
  auto q = make_interval_quantizer("ewgs", QuantTarget::kActivation, 2, 0, 1);
  EWGS_EXPECT_THROWS_WITH(
      q->forward(torch::tensor({0.5f, NAN})),
      "ewgs activation quantizer: input has non-finite values");
  EWGS_EXPECT_THROWS_WITH(q->forward(torch::tensor({INFINITY})), "non-finite");
}

TEST_F(IntervalQuantizerTest, RejectsIntegerInput) {
  auto q = make_interval_quantizer("ewgs", QuantTarget::kActivation, 2, 0, 1);
  EWGS_EXPECT_THROWS_WITH(q->forward(torch::ones({3}, torch::kLong)), "floating-point input");
}

TEST_F(IntervalQuantizerTest, RejectsBitsOutsideTheSupportedRange) {
  for (int64_t bits : {0, 9, 16, -1}) {
    EWGS_EXPECT_THROWS_WITH(
        make_interval_quantizer("ewgs", QuantTarget::kWeight, bits, 0, 1),
        "bits must be in [1, 8] or 32 (off), got " + std::to_string(bits));
  }
}

TEST_F(IntervalQuantizerTest, InitializationRejectsConstantTensors) {
  auto q = make_interval_quantizer("ewgs", QuantTarget::kWeight, 2, -1, 1);
  EWGS_EXPECT_THROWS_WITH(q->initialize(torch::zeros({10})), "std 0");
}

TEST_F(IntervalQuantizerTest, DeltaMustBeFiniteAndNonNegative) {
  auto q = make_interval_quantizer("ewgs", QuantTarget::kWeight, 2, -1, 1);
  q->set_delta(0.25);
  EXPECT_DOUBLE_EQ(q->delta(), 0.25);
  EWGS_EXPECT_THROWS_WITH(q->set_delta(-1e-3), "delta must be finite and >= 0, got -0.001");
  EWGS_EXPECT_THROWS_WITH(q->set_delta(NAN), "delta must be finite");
  auto ste = make_interval_quantizer("ste", QuantTarget::kWeight, 2, -1, 1);
  EXPECT_FALSE(ste->has_delta());
  EWGS_EXPECT_THROWS_WITH(ste->set_delta(0.1), "ste weight quantizer has no gradient scale delta");
}

TEST_F(IntervalQuantizerTest, RegistersStateByName) {
  auto q = make_interval_quantizer("ewgs", QuantTarget::kWeight, 2, -1, 1, 0.5);
  const auto params = q->named_parameters();
  EXPECT_TRUE(params.contains("lower"));
  EXPECT_TRUE(params.contains("upper"));
  EXPECT_EQ(params.size(), 2u);
  const auto buffers = q->named_buffers();
  ASSERT_TRUE(buffers.contains("delta"));
  EXPECT_FLOAT_EQ(buffers["delta"].item<float>(), 0.5f);
  EXPECT_EQ(q->spec(), "ewgs:bits=2,delta=0.5");
}

}  // namespace
}  // namespace ewgs::test
