// Hutchinson samples and running statistics (hutchinson.h).
#include "hutchinson.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace ewgs::hessian {

double hutchinson_sample(const at::Tensor& grad, const at::Tensor& x, at::Generator& generator) {
  // Rademacher probe on the CPU generator, then on x's device.
  const auto v = (torch::randint(0, 2, x.sizes(), generator, torch::TensorOptions().dtype(torch::kFloat)) * 2 - 1)
                     .to(x.device(), x.scalar_type());
  const auto hv = torch::autograd::grad({grad}, {x}, {v}, /*retain_graph=*/true, /*create_graph=*/false)[0];
  return (hv.to(torch::kDouble) * v.to(torch::kDouble)).sum().item<double>();
}

std::vector<double> faithful_trace_samples(
    const at::Tensor& grad,
    const at::Tensor& x,
    at::Generator& generator,
    int64_t max_probes,
    double tolerance) {
  std::vector<double> samples;
  double previous = 0.0;
  double sum = 0.0;
  for (int64_t i = 0; i < max_probes; ++i) {
    samples.push_back(hutchinson_sample(grad, x, generator));
    sum += samples.back();
    const double mean = sum / static_cast<double>(samples.size());
    // Signed denominator, as the official code: a negative running mean
    // makes the ratio negative and stops the loop.
    if ((std::abs(mean - previous) / (previous + 1e-6)) < tolerance) {
      break;
    }
    previous = mean;
  }
  return samples;
}

void RunningMean::add(double value) {
  ++count_;
  const double d = value - mean_;
  mean_ += d / static_cast<double>(count_);
  m2_ += d * (value - mean_);
}

double RunningMean::stderr_of_mean() const {
  if (count_ < 2) {
    return std::numeric_limits<double>::infinity();
  }
  const double variance = m2_ / static_cast<double>(count_ - 1);
  return std::sqrt(variance / static_cast<double>(count_));
}

} // namespace ewgs::hessian
