// LSQ and LSQ+ against their formulas (docs/methods/lsq.md): forward and clipping, the
// closed-form gradients of x, s and β with LSQ's gradient scale, initialization, errors.
#include <cmath>

#include "quant/comparator_test_util.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using quant::QuantTarget;

class LsqTest : public SeededTest {};

/// (Q_N, Q_P): signed weights [-2^(b-1), 2^(b-1) - 1], unsigned activations [0, 2^b - 1].
std::pair<int64_t, int64_t> range_of(QuantTarget target, int64_t bits) {
  if (target == QuantTarget::kWeight) {
    return {int64_t{1} << (bits - 1), (int64_t{1} << (bits - 1)) - 1};
  }
  return {0, (int64_t{1} << bits) - 1};
}

/// Expected gradients of sum(g * v̂) in double precision.
struct LsqGrads {
  torch::Tensor x;
  double s;
  double beta;
};

/// LSQ Eq. 3 and 5 plus ∂v̂/∂β = 1 outside the range, with r = (x - β)/s
/// taken in float like the quantizer and g_s = 1 / sqrt(n Q_P).
LsqGrads closed_form(
    const torch::Tensor& x,
    const torch::Tensor& g,
    double s,
    double beta,
    int64_t q_n,
    int64_t q_p,
    int64_t n) {
  const auto r = (x - static_cast<float>(beta)) / static_cast<float>(s);
  const auto r64 = r.to(torch::kDouble);
  const auto g64 = g.to(torch::kDouble);
  const auto inside = ((r64 > -q_n) & (r64 < q_p)).to(torch::kDouble);
  const auto below = (r64 <= -q_n).to(torch::kDouble);
  const auto above = (r64 >= q_p).to(torch::kDouble);
  const double scale = 1.0 / std::sqrt(static_cast<double>(n * q_p));
  const auto ds = inside * (torch::round(r64) - r64) - below * q_n + above * q_p;
  return {
      g64 * inside,
      scale * (g64 * ds).sum().item<double>(),
      scale * (g64 * (below + above)).sum().item<double>()};
}

TEST_F(LsqTest, ForwardRoundsToMultiplesOfTheStepAndClipsAtBothEnds) {
  for (const std::string method : {"lsq", "lsq_plus"}) {
    for (auto target : {QuantTarget::kWeight, QuantTarget::kActivation}) {
      for (int64_t bits : {1, 2, 3, 4, 8}) {
        if (target == QuantTarget::kWeight && bits == 1) {
          continue;
        }
        auto q = make(method + ":bits=" + std::to_string(bits), target);
        const bool offset = method == "lsq_plus" && target == QuantTarget::kActivation;
        const double s = 0.1;
        const double beta = offset ? -0.3 : 0.0;
        set_param(*q, "step", s);
        if (offset) {
          set_param(*q, "offset", beta);
        }
        const auto [q_n, q_p] = range_of(target, bits);
        const auto x = torch::randn({2000}) * 0.1 * static_cast<double>(q_p + q_n) + beta;
        const auto out = q->forward(x);
        const auto expected =
            torch::round((x - static_cast<float>(beta)) / static_cast<float>(s)).clamp(-q_n, q_p) *
                static_cast<float>(s) +
            static_cast<float>(beta);
        const std::string what =
            method + " " + quant::to_string(target) + " bits=" + std::to_string(bits);
        EXPECT_TRUE(all_close(out, expected, 0, 1e-6)) << what;
        // Far below and far above the range: the two end levels.
        const auto ends = q->forward(torch::tensor({-1e3f, 1e3f}));
        EXPECT_NEAR(ends[0].item<double>(), beta - static_cast<double>(q_n) * s, 1e-5) << what;
        EXPECT_NEAR(ends[1].item<double>(), beta + static_cast<double>(q_p) * s, 1e-5) << what;
        const auto levels =
            std::get<0>(torch::_unique(q->forward(torch::linspace(-1e2, 1e2, 9999))));
        EXPECT_EQ(levels.numel(), q_n + q_p + 1) << what;
      }
    }
  }
}

TEST_F(LsqTest, OneBitActivationsAreZeroOrOneStep) {
  auto q = make("lsq:bits=1", QuantTarget::kActivation);
  set_param(*q, "step", 0.5);
  const auto out = q->forward(torch::tensor({-1.0f, 0.2f, 0.24f, 0.26f, 0.9f, 3.0f}));
  EXPECT_TRUE(all_equal(out, torch::tensor({0.0f, 0.0f, 0.0f, 0.5f, 0.5f, 0.5f})));
}

TEST_F(LsqTest, BackwardMatchesClosedFormWithGradientScale) {
  for (const std::string method : {"lsq", "lsq_plus"}) {
    for (auto target : {QuantTarget::kWeight, QuantTarget::kActivation}) {
      for (int64_t bits : {1, 2, 4, 8}) {
        if (target == QuantTarget::kWeight && bits == 1) {
          continue;
        }
        auto q = make(method + ":bits=" + std::to_string(bits), target);
        const bool offset = method == "lsq_plus" && target == QuantTarget::kActivation;
        const double s = 0.07;
        const double beta = offset ? 0.2 : 0.0;
        set_param(*q, "step", s);
        if (offset) {
          set_param(*q, "offset", beta);
        }
        const auto [q_n, q_p] = range_of(target, bits);
        // Inside and clipped on both sides; activations as (N, C, H, W): the
        // gradient scale uses the C·H·W = 48 features of one sample.
        const double span = s * static_cast<double>(q_n + q_p + 4);
        const auto shape = target == QuantTarget::kWeight ? std::vector<int64_t>{6, 10}
                                                          : std::vector<int64_t>{5, 3, 4, 4};
        auto x =
            ((torch::rand(shape) - 0.5) * span + beta + s * (q_p - q_n) / 2.0).requires_grad_(true);
        const auto g = torch::randn(shape);
        q->forward(x).backward(g);
        const int64_t n = target == QuantTarget::kWeight ? 60 : 48;
        const auto expected = closed_form(x.detach(), g, s, beta, q_n, q_p, n);
        const std::string what =
            method + " " + quant::to_string(target) + " bits=" + std::to_string(bits);
        EXPECT_TRUE(all_close(x.grad(), expected.x, 0, 0)) << what;
        EXPECT_NEAR(param_grad(*q, "step"), expected.s, 1e-5 * (1 + std::abs(expected.s))) << what;
        if (offset) {
          EXPECT_NEAR(param_grad(*q, "offset"), expected.beta, 1e-5 * (1 + std::abs(expected.beta)))
              << what;
        }
      }
    }
  }
}

TEST_F(LsqTest, RangeEndsCountAsClippedAsInEquationThree) {
  // Q_N = 2, Q_P = 1 at 2 bits: r = -2 and r = 1 exactly are outside the open range.
  auto q = make("lsq:bits=2", QuantTarget::kWeight);
  set_param(*q, "step", 0.25);
  auto x = torch::tensor({-0.5f, 0.25f, 0.1f, -0.3f}).requires_grad_(true);
  q->forward(x).backward(torch::tensor({1.0f, 1.0f, 1.0f, -1.0f}));
  EXPECT_TRUE(all_equal(x.grad(), torch::tensor({0.0f, 0.0f, 1.0f, -1.0f})));
  // -Q_N + Q_P + (round(0.4) - 0.4) - (round(-1.2) + 1.2), times 1/sqrt(4 * 1).
  const double expected = (-2.0 + 1.0 + (0.0 - 0.4) - (-1.0 + 1.2)) / 2.0;
  EXPECT_NEAR(param_grad(*q, "step"), expected, 1e-6);
}

TEST_F(LsqTest, OffsetGetsGradientOnlyFromClippedElementsOfBothSigns) {
  auto q = make("lsq_plus:bits=2", QuantTarget::kActivation);
  set_param(*q, "step", 0.5);
  set_param(*q, "offset", -0.25);
  // r = (x + 0.25) / 0.5: -1.5 (clipped), 0.5 and 2.1 (inside), 4.5 (clipped).
  auto x = torch::tensor({-1.0f, 0.0f, 0.8f, 2.0f}).unsqueeze(0).requires_grad_(true);
  q->forward(x).backward(torch::tensor({{3.0f, 5.0f, 7.0f, -2.0f}}));
  // g = 1 / sqrt(4 features * Q_P = 3).
  EXPECT_NEAR(param_grad(*q, "offset"), (3.0 - 2.0) / std::sqrt(12.0), 1e-6);
  EXPECT_TRUE(all_equal(x.grad(), torch::tensor({{0.0f, 5.0f, 7.0f, 0.0f}})));
}

TEST_F(LsqTest, InitializesStepFromTheFirstBatch) {
  const auto w = torch::randn({16, 8, 3, 3}) * 0.1 + 0.02;
  for (int64_t bits : {2, 4}) {
    const double q_p = std::pow(2.0, static_cast<double>(bits - 1)) - 1.0;
    auto lsq = make("lsq:bits=" + std::to_string(bits), QuantTarget::kWeight);
    lsq->initialize(w);
    EXPECT_NEAR(
        param(*lsq, "step").item<double>(),
        2.0 * w.abs().mean().item<double>() / std::sqrt(q_p),
        1e-7);
    auto plus = make("lsq_plus:bits=" + std::to_string(bits), QuantTarget::kWeight);
    plus->initialize(w);
    const double mu = w.mean().item<double>();
    const double sigma = w.std().item<double>();
    EXPECT_NEAR(
        param(*plus, "step").item<double>(),
        std::max(std::abs(mu - 3 * sigma), std::abs(mu + 3 * sigma)) /
            std::pow(2.0, static_cast<double>(bits - 1)),
        1e-7);
  }
  const auto a = torch::relu(torch::randn({32, 4, 6, 6}));
  auto act = make("lsq:bits=2", QuantTarget::kActivation);
  act->initialize(a);
  EXPECT_NEAR(
      param(*act, "step").item<double>(),
      2.0 * a.abs().mean().item<double>() / std::sqrt(3.0),
      1e-7);
  EXPECT_EQ(act->scalars().size(), 1u);
  EXPECT_EQ(act->scalars()[0].first, "s");
}

/// Mean squared quantization error of LSQ+ activations with (s, β).
double quantization_mse(const torch::Tensor& x, double s, double beta, int64_t q_p) {
  const auto x64 = x.to(torch::kDouble);
  const auto x_hat = torch::round((x64 - beta) / s).clamp(0, q_p) * s + beta;
  return (x_hat - x64).pow(2).mean().item<double>();
}

TEST_F(LsqTest, PlusActivationInitMinimizesTheQuantizationError) {
  auto raw = torch::randn({16, 3, 8, 8}) * 2.0;
  const auto swish = raw * torch::sigmoid(raw);
  for (int64_t bits : {1, 2, 4}) {
    const int64_t q_p = (int64_t{1} << bits) - 1;
    auto q = make("lsq_plus:bits=" + std::to_string(bits), QuantTarget::kActivation);
    q->initialize(swish);
    const double s = param(*q, "step").item<double>();
    const double beta = param(*q, "offset").item<double>();
    const double lo = swish.min().item<double>();
    const double hi = swish.max().item<double>();
    // Better than min-max and than LSQ's init; β within the batch's bottom quarter.
    const double found = quantization_mse(swish, s, beta, q_p);
    EXPECT_LE(found, quantization_mse(swish, (hi - lo) / q_p, lo, q_p) * (1 + 1e-12)) << bits;
    EXPECT_LT(
        found,
        quantization_mse(
            swish,
            2 * swish.abs().mean().item<double>() / std::sqrt(static_cast<double>(q_p)),
            0.0,
            q_p))
        << bits;
    EXPECT_GE(beta, lo - 1e-9);
    EXPECT_LE(beta, lo + (hi - lo) / 4 + 1e-9);
    const auto scalars = q->scalars();
    ASSERT_EQ(scalars.size(), 2u);
    EXPECT_EQ(scalars[1].first, "beta");
    EXPECT_DOUBLE_EQ(scalars[1].second, beta);
  }
}

TEST_F(LsqTest, PlusActivationInitSearchesAStridedSubsetOfLargeBatches) {
  const auto big = torch::relu(torch::randn({100003}));
  auto full = make("lsq_plus:bits=2", QuantTarget::kActivation);
  full->initialize(big);
  auto subset = make("lsq_plus:bits=2", QuantTarget::kActivation);
  subset->initialize(big.slice(0, 0, big.numel(), 7));  // ceil(100003 / 16384) = 7
  EXPECT_EQ(param(*full, "step").item<float>(), param(*subset, "step").item<float>());
  EXPECT_EQ(param(*full, "offset").item<float>(), param(*subset, "offset").item<float>());
}

TEST_F(LsqTest, RejectsBadBitsTargetsAndStates) {
  EWGS_EXPECT_THROWS_WITH(
      make("lsq:bits=1", QuantTarget::kWeight),
      "lsq weight quantizer: signed weights need bits >= 2, got bits=1");
  EWGS_EXPECT_THROWS_WITH(
      make("lsq_plus:bits=1", QuantTarget::kWeight), "lsq_plus weight quantizer: signed weights");
  EWGS_EXPECT_THROWS_WITH(make("lsq:bits=9", QuantTarget::kActivation), "got 9");
  EWGS_EXPECT_THROWS_WITH(
      make("lsq:bits=2", QuantTarget::kGradient),
      "lsq gradient quantizer: quantizes weights and activations only");
  EWGS_EXPECT_THROWS_WITH(make("lsq:bits=2,delta=0.1", QuantTarget::kWeight), "has no key 'delta'");
  auto q = make("lsq:bits=2", QuantTarget::kActivation);
  EWGS_EXPECT_THROWS_WITH(q->initialize(torch::zeros({4, 4})), "expected a finite s > 0");
  set_param(*q, "step", -0.1);
  EWGS_EXPECT_THROWS_WITH(
      q->forward(torch::ones({3})), "step size s must be finite and > 0, got -0.1");
  auto plus = make("lsq_plus:bits=2", QuantTarget::kActivation);
  EWGS_EXPECT_THROWS_WITH(plus->initialize(torch::full({8}, 0.5)), "with range 0");
  EWGS_EXPECT_THROWS_WITH(q->set_delta(0.1), "has no gradient scale delta");
}

TEST_F(LsqTest, SpecRoundTripsAndOutputIsOnTheInputScale) {
  for (const std::string text : {"lsq:bits=3", "lsq_plus:bits=2"}) {
    for (auto target : {QuantTarget::kWeight, QuantTarget::kActivation}) {
      auto q = make(text, target);
      EXPECT_EQ(q->spec(), text);
      EXPECT_EQ(make(q->spec(), target)->spec(), text);
      EXPECT_TRUE(q->output_in_input_scale());
      EXPECT_FALSE(q->has_delta());
      EXPECT_FALSE(q->regularizer().defined());
    }
  }
  EXPECT_EQ(make("lsq", QuantTarget::kWeight)->bits(), quant::kDefaultBits);
  EXPECT_EQ(make("lsq_plus:bits=2", QuantTarget::kWeight)->named_parameters().size(), 1u);
  EXPECT_EQ(make("lsq_plus:bits=2", QuantTarget::kActivation)->named_parameters().size(), 2u);
}

}  // namespace
}  // namespace ewgs::test
