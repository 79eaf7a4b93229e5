// Student-t interval and paired differences (include/ewgs/experiments/statistics.h).
// The t distribution's CDF is the regularized incomplete beta function,
// F(t) = 1 - I_{df/(df+t^2)}(df/2, 1/2) / 2 for t >= 0, evaluated by its continued
// fraction (modified Lentz); the quantile inverts it by bisection.
#include "ewgs/experiments/statistics.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace ewgs::experiments {
namespace {

/// Continued fraction of I_x(a, b), valid for x < (a + 1) / (a + b + 2).
double beta_continued_fraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  double c = 1.0;
  double d = 1.0 - (a + b) * x / (a + 1.0);
  d = 1.0 / (std::abs(d) < kTiny ? kTiny : d);
  double h = d;
  for (int m = 1; m <= 1000; ++m) {
    for (int odd = 0; odd < 2; ++odd) {
      const double numerator = odd == 0
                                   ? m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
                                   : -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
      d = 1.0 + numerator * d;
      d = 1.0 / (std::abs(d) < kTiny ? kTiny : d);
      c = 1.0 + numerator / c;
      c = std::abs(c) < kTiny ? kTiny : c;
      h *= d * c;
      if (odd == 1 && std::abs(d * c - 1.0) < 1e-15) {
        return h;
      }
    }
  }
  return h;
}

/// The regularized incomplete beta function I_x(a, b).
double incomplete_beta(double a, double b, double x) {
  if (x <= 0.0) {
    return 0.0;
  }
  if (x >= 1.0) {
    return 1.0;
  }
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1.0) / (a + b + 2.0)) {
    return std::exp(log_front) * beta_continued_fraction(a, b, x) / a;
  }
  return 1.0 - std::exp(log_front) * beta_continued_fraction(b, a, 1.0 - x) / b;
}

std::string seeds_text(int n) {
  return fmt::format("{} seed{}", n, n == 1 ? "" : "s");
}

}  // namespace

double student_t_cdf(double t, double df) {
  TORCH_CHECK(df > 0.0, "Student t: degrees of freedom must be > 0, got ", df);
  const double tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
  return t >= 0.0 ? 1.0 - tail : tail;
}

double student_t_quantile(double p, double df) {
  TORCH_CHECK(p > 0.0 && p < 1.0, "Student t quantile: p must be in (0, 1), got ", p);
  if (p < 0.5) {
    return -student_t_quantile(1.0 - p, df);
  }
  double lo = 0.0;
  double hi = 1.0;
  while (student_t_cdf(hi, df) < p) {
    hi *= 2.0;
  }
  for (int i = 0; i < 200 && hi - lo > 1e-14 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

SeedSummary summarize(const std::vector<double>& values) {
  SeedSummary s;
  s.n = static_cast<int>(values.size());
  if (s.n == 0) {
    s.mean = s.sd = s.ci95 = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  double sum = 0.0;
  for (double v : values) {
    sum += v;
  }
  s.mean = sum / s.n;
  if (s.n == 1) {
    s.sd = s.ci95 = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  double squares = 0.0;
  for (double v : values) {
    squares += (v - s.mean) * (v - s.mean);
  }
  s.sd = std::sqrt(squares / (s.n - 1));
  s.ci95 = student_t_quantile(0.975, s.n - 1) * s.sd / std::sqrt(static_cast<double>(s.n));
  return s;
}

PairedDifference paired_difference(
    const std::string& a,
    const std::vector<double>& a_values,
    const std::string& b,
    const std::vector<double>& b_values) {
  TORCH_CHECK(
      a_values.size() == b_values.size(),
      "paired difference of ",
      a,
      " and ",
      b,
      ": ",
      a_values.size(),
      " against ",
      b_values.size(),
      " values");
  std::vector<double> diffs;
  for (size_t i = 0; i < a_values.size(); ++i) {
    diffs.push_back(a_values[i] - b_values[i]);
  }
  PairedDifference out{a, b, summarize(diffs), ""};
  const auto& d = out.diff;
  if (d.n == 0) {
    out.verdict = fmt::format("{} and {} share no seed: no paired comparison", a, b);
  } else if (d.n == 1) {
    out.verdict = fmt::format(
        "one shared seed ({} - {} = {:.2f} points): no interval, run more seeds", a, b, d.mean);
  } else if (d.mean - d.ci95 > 0.0 || d.mean + d.ci95 < 0.0) {
    out.verdict = fmt::format(
        "{} {} {} by {:.2f} ± {:.2f} points (95 % CI, {})",
        a,
        d.mean > 0 ? "ahead of" : "behind",
        b,
        std::abs(d.mean),
        d.ci95,
        seeds_text(d.n));
  } else {
    out.verdict = fmt::format(
        "no difference detectable at {} ({} - {} = {:.2f} ± {:.2f} points)",
        seeds_text(d.n),
        a,
        b,
        d.mean,
        d.ci95);
  }
  return out;
}

}  // namespace ewgs::experiments
