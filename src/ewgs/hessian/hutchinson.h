// Hutchinson's trace estimator on one Hessian block: v^T H v with Rademacher v,
// H v formed by differentiating a gradient that carries a graph (paper Eq. 9).
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace ewgs::hessian {

/// One sample v^T H v of the Hessian block d grad / d x, for `grad` = dL/dx
/// computed with create_graph. The graph is retained for further samples.
double hutchinson_sample(const at::Tensor& grad, const at::Tensor& x, at::Generator& generator);

/// The same sample split along x's first dimension (double, one entry per
/// row b: v_b^T (H v)_b); the entries sum to the sample. When rows are the
/// samples of a batch, each entry is a probe of that sample's diagonal block.
at::Tensor hutchinson_sample_rows(
    const at::Tensor& grad, const at::Tensor& x, at::Generator& generator);

/// An estimate of the variance of one sample from its rows: B times their
/// unbiased variance. Exact in expectation when rows do not interact (the
/// Hessian is block diagonal across rows) and larger when their traces differ.
double variance_from_rows(const at::Tensor& rows);

/// The official code's loop: samples until |m_k - m_{k-1}| / (m_{k-1} + 1e-6)
/// < tolerance, with the signed previous mean m_{k-1} (0 before the first),
/// or `max_probes` samples. Returns the samples.
std::vector<double> faithful_trace_samples(
    const at::Tensor& grad,
    const at::Tensor& x,
    at::Generator& generator,
    int64_t max_probes,
    double tolerance);

/// Mean and standard error of the mean of samples (Welford).
class RunningMean {
 public:
  void add(double value);
  int64_t count() const { return count_; }
  double mean() const { return mean_; }
  /// Unbiased sample standard deviation / sqrt(n); infinite below 2 samples.
  double stderr_of_mean() const;

 private:
  int64_t count_ = 0;
  double mean_ = 0.0;
  double m2_ = 0.0;
};

}  // namespace ewgs::hessian
