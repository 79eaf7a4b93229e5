// LSQ+ (Bhalgat et al., CVPR-W 2020): LSQ with a learnable offset β for asymmetric
// activations, a statistics-based weight step size and an MSE-searched activation range.
#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "ewgs/core/spec.h"
#include "ewgs/quant/registry.h"
#include "lsq_common.h"

namespace ewgs::quant {
namespace {

/// The activation range search uses at most this many elements of the batch,
/// taken at a fixed stride over the flattened tensor.
constexpr int64_t kInitSamples = 16384;
/// Clipping ranges [lo, hi] on a grid over the batch range [m, m + R]:
/// hi = m + R i / 64 for i = 1..64, lo = m + R (2j) / 64 for j = 0..8 (the
/// bottom quarter), each pair with hi > lo.
constexpr int64_t kGridPoints = 64;
constexpr int64_t kLowerCandidates = 8;

/// (s, β) minimizing the mean of (x̂ - x)^2 over the grid of clipping ranges
/// [lo, hi] with lo < hi, s = (hi - lo) / q_p, β = lo; in double precision,
/// the first minimum in (j, i) order wins.
std::pair<double, double> mse_range(const torch::Tensor& x, int64_t q_p, const std::string& who) {
  auto v = x.detach().flatten().to(torch::kDouble);
  const int64_t stride = (v.numel() + kInitSamples - 1) / kInitSamples;
  v = v.slice(0, 0, v.numel(), stride);
  const double m = v.min().item<double>();
  const double range = v.max().item<double>() - m;
  TORCH_CHECK(
      std::isfinite(range) && range > 0.0,
      who,
      ": cannot search a clipping range on a batch with range ",
      range,
      " (constant or non-finite values)");
  const auto upper =
      (m + range * torch::arange(1, kGridPoints + 1, torch::kDouble) / kGridPoints).unsqueeze(1);
  double best_mse = std::numeric_limits<double>::infinity();
  std::pair<double, double> best;
  for (int64_t j = 0; j <= kLowerCandidates; ++j) {
    const double lo = m + range * static_cast<double>(2 * j) / kGridPoints;
    const auto hi = upper.slice(0, 2 * j);  // i > 2j, so hi > lo
    const auto s = (hi - lo) / static_cast<double>(q_p);
    const auto x_hat = torch::round((v - lo) / s).clamp(0, q_p) * s + lo;
    const auto mse = (x_hat - v).pow(2).mean(1);
    const int64_t k = mse.argmin().item<int64_t>();
    const double candidate = mse[k].item<double>();
    if (candidate < best_mse) {
      best_mse = candidate;
      best = {s[k][0].item<double>(), lo};
    }
  }
  return best;
}

/// LSQ+: weights symmetric (β = 0); activations x̂ = clamp(round((x - β)/s), 0, 2^b - 1) s + β
/// with a learnable β. Gradients: LsqQuantizerImpl, with LSQ's gradient scale
/// on both s and β.
class LsqPlusImpl : public LsqQuantizerImpl {
 public:
  LsqPlusImpl(QuantTarget target, int64_t bits)
      : LsqQuantizerImpl("lsq_plus", target, bits, target == QuantTarget::kActivation) {}

  /// Weights: s = max(|μ - 3σ|, |μ + 3σ|) / 2^(b-1). Activations: s and β
  /// from the grid search of mse_range() on the first batch.
  void initialize(const torch::Tensor& x) override {
    torch::NoGradGuard no_grad;
    if (target() == QuantTarget::kActivation) {
      const auto [s, beta] = mse_range(x, range().q_p, describe());
      set_state(s, beta);
      return;
    }
    TORCH_CHECK(
        x.numel() >= 2, describe(), ": initialization needs at least 2 elements, got ", x.numel());
    const double mu = x.mean().item<double>();
    const double sigma = x.std().item<double>();
    const double bound = std::max(std::abs(mu - 3.0 * sigma), std::abs(mu + 3.0 * sigma));
    set_state(bound / static_cast<double>(range().q_n), 0.0);
  }
};

}  // namespace

/// "lsq_plus:bits=B" (weights: B in 2..8; activations: B in 1..8; default 4).
QuantizerPtr make_lsq_plus(const Spec& spec, QuantTarget target) {
  return std::make_shared<LsqPlusImpl>(target, spec.get_int("bits", kDefaultBits));
}

}  // namespace ewgs::quant
