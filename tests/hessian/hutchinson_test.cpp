// Hutchinson samples and the official stopping rule on quadratics with a
// known Hessian.
#include "../../src/ewgs/hessian/hutchinson.h"

#include <ATen/CPUGeneratorImpl.h>

#include "support/support.h"

namespace ewgs::test {
namespace {

/// loss = 0.5 x^T A x: gradient A x (with graph), Hessian A.
struct Quadratic {
  torch::Tensor a;
  torch::Tensor x;
  torch::Tensor grad;

  explicit Quadratic(int64_t n) {
    const auto m = torch::randn({n, n});
    a = (m + m.t()) / 2 + torch::eye(n) * 3;
    x = torch::randn({n}).requires_grad_(true);
    const auto loss = 0.5 * torch::dot(x, torch::mv(a, x));
    grad = torch::autograd::grad({loss}, {x}, {}, true, true)[0];
  }
};

TEST(HutchinsonTest, MeanOfSamplesConvergesToTheTraceWithinItsStandardError) {
  torch::manual_seed(0);
  Quadratic q(40);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(123);
  hessian::RunningMean stats;
  for (int i = 0; i < 400; ++i) {
    stats.add(hessian::hutchinson_sample(q.grad, q.x, gen));
  }
  const double trace = q.a.trace().item<double>();
  EXPECT_NEAR(stats.mean(), trace, 4 * stats.stderr_of_mean());
  EXPECT_LT(stats.stderr_of_mean(), 0.1 * std::abs(trace));  // the test can discriminate
}

TEST(HutchinsonTest, DiagonalHessianIsExactFromOneSample) {
  auto x = torch::randn({10}).requires_grad_(true);
  const auto d = torch::rand({10}) + 0.5;
  const auto loss = 0.5 * (d * x * x).sum();
  const auto grad = torch::autograd::grad({loss}, {x}, {}, true, true)[0];
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  EXPECT_NEAR(hessian::hutchinson_sample(grad, x, gen), d.sum().item<double>(), 1e-5);
}

TEST(HutchinsonTest, FaithfulLoopStopsAfterTwoSamplesWhenTheMeanIsNegative) {
  auto x = torch::randn({10}).requires_grad_(true);
  const auto loss = -0.5 * (x * x).sum();  // Hessian -I: every sample is -10
  const auto grad = torch::autograd::grad({loss}, {x}, {}, true, true)[0];
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto samples = hessian::faithful_trace_samples(grad, x, gen, 50, 1e-3);
  EXPECT_EQ(samples.size(), 2u);  // signed denominator: the ratio is negative
  EXPECT_NEAR(samples[0], -10.0, 1e-5);
}

TEST(HutchinsonTest, FaithfulLoopStopsByTheOfficialRuleOnAConvergingPositiveTrace) {
  // A positive-definite Hessian whose probes vary little: the running mean
  // settles and the official rule (tolerance 1e-3) ends the loop early.
  torch::manual_seed(3);
  constexpr int64_t kSize = 40;
  const auto m = torch::randn({kSize, kSize}) * 0.02;
  const auto a = (m + m.t()) / 2 + torch::eye(kSize) * 3;
  auto x = torch::randn({kSize}).requires_grad_(true);
  const auto loss = 0.5 * torch::dot(x, torch::mv(a, x));
  const auto grad = torch::autograd::grad({loss}, {x}, {}, true, true)[0];
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  constexpr int64_t kMaxProbes = 50;
  const auto samples = hessian::faithful_trace_samples(grad, x, gen, kMaxProbes, 1e-3);
  ASSERT_GT(samples.size(), 2u);
  ASSERT_LT(samples.size(), static_cast<size_t>(kMaxProbes)) << "the rule never fired";
  // The loop ended at the first k where |m_k - m_{k-1}| / (m_{k-1} + 1e-6) < 1e-3.
  double previous = 0;
  double sum = 0;
  for (size_t k = 0; k < samples.size(); ++k) {
    sum += samples[k];
    const double mean = sum / static_cast<double>(k + 1);
    const bool stop = std::abs(mean - previous) / (previous + 1e-6) < 1e-3;
    EXPECT_EQ(stop, k + 1 == samples.size()) << "probe " << k + 1;
    previous = mean;
  }
  // Var(v^T A v) = 2 sum_{i != j} A_ij^2 for Rademacher v.
  const double trace = a.trace().item<double>();
  const double probe_std =
      std::sqrt(2 * (a.pow(2).sum() - a.diagonal().pow(2).sum()).item<double>());
  EXPECT_NEAR(previous, trace, 4 * probe_std / std::sqrt(static_cast<double>(samples.size())));
}

TEST(HutchinsonTest, FaithfulLoopRunsToTheCapOnNoisyPositiveTraces) {
  torch::manual_seed(1);
  Quadratic q(30);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  EXPECT_EQ(hessian::faithful_trace_samples(q.grad, q.x, gen, 17, 1e-12).size(), 17u);
}

TEST(HutchinsonTest, RowsSumToTheSampleAndTheirSpreadEstimatesItsVariance) {
  // loss = 0.5 sum_b x_b^T A x_b: B independent rows, Hessian block diagonal.
  torch::manual_seed(2);
  constexpr int64_t kRows = 50;
  constexpr int64_t kCols = 8;
  const auto m = torch::randn({kCols, kCols}, torch::kDouble);
  const auto a = (m + m.t()) / 2;
  auto x = torch::randn({kRows, kCols}, torch::kDouble).requires_grad_(true);
  const auto loss = 0.5 * (torch::mm(x, a) * x).sum();
  const auto grad = torch::autograd::grad({loss}, {x}, {}, true, true)[0];

  auto gen_a = at::make_generator<at::CPUGeneratorImpl>(7);
  auto gen_b = at::make_generator<at::CPUGeneratorImpl>(7);
  const auto rows = hessian::hutchinson_sample_rows(grad, x, gen_a);
  ASSERT_EQ(rows.numel(), kRows);
  EXPECT_NEAR(rows.sum().item<double>(), hessian::hutchinson_sample(grad, x, gen_b), 1e-9);

  // Var(v^T H v) = 2 sum_{i != j} H_ij^2 for Rademacher v: B blocks of A.
  const double exact = kRows * 2.0 * (a.pow(2).sum() - a.diagonal().pow(2).sum()).item<double>();
  hessian::RunningMean from_rows;
  hessian::RunningMean samples;
  hessian::RunningMean squares;
  for (int i = 0; i < 300; ++i) {
    const auto r = hessian::hutchinson_sample_rows(grad, x, gen_a);
    from_rows.add(hessian::variance_from_rows(r));
    const double s = r.sum().item<double>();
    samples.add(s);
    squares.add(s * s);
  }
  EXPECT_NEAR(from_rows.mean(), exact, 0.06 * exact);
  const double across = squares.mean() - samples.mean() * samples.mean();
  EXPECT_NEAR(across, exact, 0.25 * exact);  // the slower estimate agrees too
  EWGS_EXPECT_THROWS_WITH(
      hessian::variance_from_rows(torch::ones({1}, torch::kDouble)), "at least 2 rows");
}

TEST(HutchinsonTest, RunningMeanMatchesTheClosedForm) {
  hessian::RunningMean m;
  EXPECT_TRUE(std::isinf(m.stderr_of_mean()));
  for (double v : {1.0, 2.0, 4.0, 7.0}) {
    m.add(v);
  }
  EXPECT_DOUBLE_EQ(m.mean(), 3.5);
  // sample variance 7 -> stderr sqrt(7/4)
  EXPECT_NEAR(m.stderr_of_mean(), std::sqrt(7.0 / 4.0), 1e-12);
}

}  // namespace
}  // namespace ewgs::test
