// Student-t quantiles against published table values, seed summaries and paired
// differences against hand-computed ones, and the verdict in each case.
#include "ewgs/experiments/statistics.h"

#include <cmath>

#include "support/support.h"

namespace ewgs::test {
namespace {

using experiments::paired_difference;
using experiments::student_t_cdf;
using experiments::student_t_quantile;
using experiments::summarize;

TEST(StatisticsTest, StudentTQuantilesMatchTheTables) {
  // t(0.975, df) and t(0.995, 5), to the digits of standard tables (R's qt()).
  const std::pair<double, double> t975[] = {
      {1, 12.706204736174707},
      {2, 4.302652729749464},
      {4, 2.7764451051977934},
      {10, 2.2281388519649385},
      {30, 2.0422724563012373},
      {1000, 1.9623390808264074}};
  for (const auto& [df, expected] : t975) {
    EXPECT_NEAR(student_t_quantile(0.975, df), expected, 1e-9 * expected) << "df " << df;
  }
  EXPECT_NEAR(student_t_quantile(0.995, 5), 4.032142983557536, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.025, 3), -3.182446305284263, 1e-9);
  // One degree of freedom is the Cauchy distribution: F(t) = 1/2 + atan(t)/pi.
  for (double t : {-3.0, -0.5, 0.0, 0.7, 10.0}) {
    EXPECT_NEAR(student_t_cdf(t, 1), 0.5 + std::atan(t) / M_PI, 1e-13) << t;
  }
  // Two: F(t) = 1/2 + t / (2 sqrt(2 + t^2)).
  for (double t : {-4.0, 0.3, 2.5}) {
    EXPECT_NEAR(student_t_cdf(t, 2), 0.5 + t / (2.0 * std::sqrt(2.0 + t * t)), 1e-13) << t;
  }
  EWGS_EXPECT_THROWS_WITH(student_t_quantile(1.0, 3), "p must be in (0, 1)");
}

TEST(StatisticsTest, SummaryIsMeanSampleDeviationAndTheTInterval) {
  const auto s = summarize({84.0, 85.0, 86.5});
  EXPECT_EQ(s.n, 3);
  EXPECT_DOUBLE_EQ(s.mean, 85.166666666666671);
  const double sd = std::sqrt(
      ((84 - s.mean) * (84 - s.mean) + (85 - s.mean) * (85 - s.mean) +
       (86.5 - s.mean) * (86.5 - s.mean)) /
      2.0);
  EXPECT_DOUBLE_EQ(s.sd, sd);
  EXPECT_NEAR(s.ci95, 4.302652729749464 * sd / std::sqrt(3.0), 1e-12);
  const auto one = summarize({85.0});
  EXPECT_EQ(one.mean, 85.0);
  EXPECT_TRUE(std::isnan(one.sd) && std::isnan(one.ci95)) << "one seed has no spread";
}

TEST(StatisticsTest, PairedDifferencesSayOnlyWhatTheIntervalShows) {
  // Differences 0.5, 0.7, 0.6: mean 0.6, sd 0.1, half-width 4.3027 * 0.1 / sqrt(3) = 0.248.
  const auto ahead = paired_difference("ewgs", {85.5, 84.7, 85.6}, "ste", {85.0, 84.0, 85.0});
  EXPECT_NEAR(ahead.diff.mean, 0.6, 1e-12);
  EXPECT_NEAR(ahead.diff.ci95, 4.302652729749464 * 0.1 / std::sqrt(3.0), 1e-9);
  EXPECT_EQ(ahead.verdict, "ewgs ahead of ste by 0.60 ± 0.25 points (95 % CI, 3 seeds)");
  const auto behind = paired_difference("ste", {85.0, 84.0, 85.0}, "ewgs", {85.5, 84.7, 85.6});
  EXPECT_EQ(behind.verdict, "ste behind ewgs by 0.60 ± 0.25 points (95 % CI, 3 seeds)");
  // Differences 1, -0.6, 0.2: mean 0.2, the interval holds 0.
  const auto none = paired_difference("ewgs", {86.0, 84.4, 85.2}, "ste", {85.0, 85.0, 85.0});
  EXPECT_EQ(none.verdict.rfind("no difference detectable at 3 seeds (ewgs - ste = 0.20 ± ", 0), 0u)
      << none.verdict;
  EXPECT_EQ(
      paired_difference("a", {1.0}, "b", {0.0}).verdict,
      "one shared seed (a - b = 1.00 points): no interval, run more seeds");
  EXPECT_EQ(
      paired_difference("a", {}, "b", {}).verdict, "a and b share no seed: no paired comparison");
}

}  // namespace
}  // namespace ewgs::test
