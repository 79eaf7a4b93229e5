// Statistics over seeds: mean, standard deviation and a Student-t 95 % interval of
// one cell, and the paired difference of two methods run with the same seeds, with
// a verdict in plain words that never claims more than the interval shows.
#pragma once

#include <string>
#include <vector>

namespace ewgs::experiments {

/// Quantile of Student's t distribution with `df` degrees of freedom (p in (0, 1)).
double student_t_quantile(double p, double df);

/// P(T <= t) for Student's t with `df` degrees of freedom.
double student_t_cdf(double t, double df);

/// Mean, sample standard deviation (n - 1) and the half-width of the two-sided
/// 95 % confidence interval of the mean, t(0.975, n - 1) * sd / sqrt(n).
/// With one value the deviation and the interval are NaN: one seed has no spread.
struct SeedSummary {
  int n = 0;
  double mean = 0.0;
  double sd = 0.0;
  double ci95 = 0.0;
};
SeedSummary summarize(const std::vector<double>& values);

/// a[i] - b[i] over seeds both have, summarized as above.
struct PairedDifference {
  std::string a;
  std::string b;
  SeedSummary diff;
  /// "ewgs ahead of ste by 0.60 ± 0.30 points (95 % CI, 3 seeds)",
  /// "no difference detectable at 3 seeds (ewgs - ste = 0.20 ± 0.90 points)", ...
  std::string verdict;
};
PairedDifference paired_difference(
    const std::string& a,
    const std::vector<double>& a_values,
    const std::string& b,
    const std::vector<double>& b_values);

}  // namespace ewgs::experiments
