// Hutchinson samples and running statistics (hutchinson.h).
#include "hutchinson.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace ewgs::hessian {

double hutchinson_sample(const at::Tensor& grad, const at::Tensor& x, at::Generator& generator) {
  return hutchinson_sample_rows(grad, x, generator).sum().item<double>();
}

at::Tensor hutchinson_sample_rows(
    const at::Tensor& grad, const at::Tensor& x, at::Generator& generator) {
  // Rademacher probe drawn as bytes by the CPU generator (reproducible on any
  // device, a quarter of the bytes to move), mapped to +-1 on x's device.
  const auto bits =
      torch::randint(0, 2, x.sizes(), generator, torch::TensorOptions().dtype(torch::kByte));
  const auto v = bits.to(x.device(), /*non_blocking=*/false).to(x.scalar_type()).mul_(2).sub_(1);
  const auto hv =
      torch::autograd::grad({grad}, {x}, {v}, /*retain_graph=*/true, /*create_graph=*/false)[0];
  // v is +-1, so hv * v is exact; accumulate in double.
  const int64_t rows = x.dim() > 0 ? x.size(0) : 1;
  return hv.mul(v).reshape({rows, -1}).sum(1, /*keepdim=*/false, torch::kDouble).cpu();
}

double variance_from_rows(const at::Tensor& rows) {
  TORCH_CHECK(rows.numel() >= 2, "a variance from rows needs at least 2 rows, got ", rows.numel());
  return static_cast<double>(rows.numel()) * rows.var().item<double>();
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

}  // namespace ewgs::hessian
