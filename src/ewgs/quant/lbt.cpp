// LBT's gradient quantizer for fixed-point training (Kim et al., "Toward INT4 Fixed-Point
// Training via Exploring Quantization Error for Gradients", ECCV 2024; docs/methods/lbt.md):
// identity forward, stochastic-rounding quantization of the layer-output gradient with a
// per-layer gamma.
#include "lbt.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "ewgs/core/spec.h"
#include "ewgs/core/splitmix64.h"
#include "ewgs/quant/registry.h"

namespace ewgs::quant {
namespace lbt {
namespace {

/// The first-iteration walk's EMA decay and rate, also its gamma step
/// (official code; docs/methods/lbt.md, First-iteration walk); fixed, independent of the
/// spec's eta.
constexpr double kWalkDecay = 0.999;
constexpr double kWalkRate = 0.001;
/// The walk ends within about 1,500 steps: gamma falls below 0 after at most
/// 1,000, then R = 1 lifts m above any target <= 1/3 in about 400 more. Only
/// m resting exactly on the target could stall it.
constexpr int64_t kMaxWalkSteps = 100000;

using detail::splitmix64;

/// The largest float32 at or below t.
double float_at_or_below(double t) {
  const auto f = static_cast<float>(t);
  return static_cast<double>(f) <= t ? f
                                     : std::nextafter(f, -std::numeric_limits<float>::infinity());
}

}  // namespace

void check_bits(int64_t bits, const std::string& name) {
  TORCH_CHECK(
      bits >= 2 && bits <= 8,
      name,
      ": bits must be in [2, 8] (2^b - 1 symmetric levels, 2^b - 2 steps; bits = 1 leaves no "
      "step), got ",
      bits);
}

double target_clip_ratio(int64_t bits, double alpha) {
  return alpha / static_cast<double>((int64_t{1} << bits) - 1);
}

QuantizedGradient quantize_gradient(
    const at::Tensor& g, const at::Tensor& gamma, int64_t bits, const at::Tensor& noise) {
  const double steps = static_cast<double>((int64_t{1} << bits) - 2);
  const auto magnitude = g.abs();
  const auto g_max = magnitude.max();
  const auto c = gamma * g_max;
  const auto delta = 2.0 * c / steps;
  // Delta = 0 only for an all-zero G: dividing by 1 keeps q finite, q * 0 - 0 = 0.
  const auto divisor = torch::where(delta > 0, delta, torch::ones_like(delta));
  // In place on the temporary (g + c): the same values, fewer passes over G.
  auto q = (g + c).div_(divisor).add_(noise).clamp_(0.0, steps).round_();
  const auto clip_ratio = (magnitude > c).to(torch::kFloat).mean();
  return {q.mul_(delta).sub_(c), g_max, clip_ratio};
}

double initial_gamma(const at::Tensor& g, int64_t bits, double alpha) {
  auto magnitude = g.detach().abs().flatten();
  if (magnitude.scalar_type() != torch::kDouble) {
    magnitude = magnitude.to(torch::kFloat);
  }
  const int64_t n = magnitude.numel();
  const double g_max = n > 0 ? magnitude.max().item<double>() : 0.0;
  TORCH_CHECK(
      std::isfinite(g_max) && g_max > 0.0,
      "lbt gradient quantizer: the first-iteration walk of gamma needs a finite gradient with a "
      "nonzero element, got max|G| = ",
      g_max);
  // The walk only visits gamma_k = 1 - 0.001 k (summed as below): count the clipped
  // elements for every gamma_k >= 0 with one sort and one search on G's device. Below 0
  // all elements are clipped. A float32 x exceeds t exactly when it exceeds the largest
  // float32 <= t, so the counts are those of the comparison in double.
  const bool in_float = magnitude.scalar_type() == torch::kFloat;
  std::vector<double> thresholds;
  for (double gamma = kMaxGamma; gamma >= 0.0; gamma -= kWalkRate) {
    thresholds.push_back(in_float ? float_at_or_below(gamma * g_max) : gamma * g_max);
  }
  const auto at_or_below = torch::searchsorted(
                               std::get<0>(magnitude.sort()),
                               torch::tensor(thresholds, torch::kDouble).to(magnitude.options()),
                               /*out_int32=*/false,
                               /*right=*/true)
                               .to(torch::kCPU);
  const auto* counts = at_or_below.data_ptr<int64_t>();
  const auto visited = static_cast<int64_t>(thresholds.size());
  const double target = target_clip_ratio(bits, alpha);
  double gamma = kMaxGamma;
  double m = 0.0;
  int64_t k = 0;
  for (int64_t step = 0;; ++step) {
    TORCH_CHECK(
        step < kMaxWalkSteps,
        "lbt gradient quantizer: the first-iteration walk of gamma did not end in ",
        kMaxWalkSteps,
        " steps (EMA m = ",
        m,
        " rests on the target clip ratio ",
        target,
        ")");
    // R(gamma_k) = mean(|G| > gamma_k g_max).
    const int64_t clipped = k < visited ? n - counts[k] : n;
    m = kWalkDecay * m + kWalkRate * (static_cast<double>(clipped) / static_cast<double>(n));
    const int sign = (m > target) - (m < target);
    gamma += kWalkRate * sign;
    if (sign > 0) {
      break;
    }
    if (sign < 0) {
      ++k;
    }
  }
  return std::clamp(gamma, kMinGamma, kMaxGamma);
}

at::Tensor updated_gamma(
    const at::Tensor& gamma,
    const at::Tensor& clip_ratio,
    const at::Tensor& g_max,
    int64_t bits,
    double alpha,
    double eta) {
  const auto direction = torch::sign(clip_ratio - target_clip_ratio(bits, alpha)) *
                         (g_max > 0).to(gamma.scalar_type());
  return torch::clamp(gamma + eta * direction, kMinGamma, kMaxGamma);
}

uint64_t draw_seed(uint64_t seed, int64_t draw, double g_max) {
  uint64_t g_max_bits = 0;
  std::memcpy(&g_max_bits, &g_max, sizeof g_max_bits);
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(draw)) ^ g_max_bits);
}

}  // namespace lbt

namespace {

/// A generator of `device`'s type seeded with `seed`: ATen's CPU generator
/// (which keeps the seed's low 32 bits), or a private clone of the device's
/// default generator, so that the global stream is neither read nor advanced.
at::Generator seeded_generator(const c10::Device& device, uint64_t seed) {
  if (device.is_cpu()) {
    return at::make_generator<at::CPUGeneratorImpl>(seed);
  }
  at::Generator base = at::globalContext().defaultGenerator(device);
  auto generator = [&base] {
    std::lock_guard<std::mutex> lock(base.mutex());
    return base.clone();
  }();
  generator.set_current_seed(seed);
  return generator;
}

/// The gradient quantizer GQ (docs/methods/lbt.md, G1-G5) on a layer's output y:
/// forward returns y; backward replaces the gradient G arriving at y with
/// lbt::quantize_gradient(G, gamma, b, U(-0.5, 0.5)).
///
/// Buffers: "gamma" (the clipping factor), "draws" (backwards so far: the
/// noise of draw k comes from lbt::draw_seed(seed, k, g_max), so a resumed
/// run is exact) and, with the adaptive gamma, "initialized" (whether the
/// first-iteration walk has run). With gamma=adaptive:
/// - the first nonzero gradient runs the first-iteration walk of docs/methods/lbt.md (skipped,
///   and gamma left at 1, while gradients are all zero), and G is then
///   quantized with the walked gamma. The official code does no optimizer
///   step in that iteration; the ewgs trainer always steps, so the weights
///   get that gradient; only the interval update of that iteration is
///   skipped, the walk having just fit gamma to it;
/// - after every other optimizer step, gamma moves by eta toward the target
///   clip ratio (lbt::updated_gamma) from the R and g_max of the last
///   backward, which the update uses in the next backward ("hindsight").
/// A fixed gamma (the paper's baselines 1.0 = min-max, 0.8, 0.6) never moves.
class LbtImpl : public QuantizerImpl {
 public:
  LbtImpl(int64_t bits, std::optional<double> fixed_gamma, double alpha, double eta, int64_t seed)
      : QuantizerImpl("lbt", QuantTarget::kGradient, bits),
        fixed_gamma_(fixed_gamma),
        alpha_(alpha),
        eta_(eta),
        seed_(seed) {
    gamma = register_buffer("gamma", torch::full({}, fixed_gamma.value_or(lbt::kMaxGamma)));
    draws = register_buffer("draws", torch::zeros({}, torch::kInt64));
    if (!fixed_gamma_) {
      initialized = register_buffer("initialized", torch::zeros({}, torch::kUInt8));
    }
  }

  /// Nothing from the forward batch: gamma starts from the first gradient.
  void initialize(const torch::Tensor& /*x*/) override {}

  /// gamma, and R = mean(|G| > c) of the last backward once there is one.
  std::vector<std::pair<std::string, double>> scalars() const override {
    std::vector<std::pair<std::string, double>> out = {{"gamma", gamma.item<double>()}};
    if (last_clip_ratio_.defined()) {
      out.emplace_back("clip_ratio", last_clip_ratio_.item<double>());
    }
    return out;
  }

  std::string spec() const override {
    const std::string tail = ",seed=" + std::to_string(seed_);
    if (fixed_gamma_) {
      return "lbt:bits=" + std::to_string(bits()) + ",gamma=" + c10::str(*fixed_gamma_) + tail;
    }
    return "lbt:alpha=" + c10::str(alpha_) + ",bits=" + std::to_string(bits()) +
           ",eta=" + c10::str(eta_) + ",gamma=adaptive" + tail;
  }

  /// The interval update U of docs/methods/lbt.md (adaptive gamma only).
  void after_optimizer_step() override {
    if (!update_pending_) {
      return;
    }
    update_pending_ = false;
    gamma.copy_(lbt::updated_gamma(gamma, last_clip_ratio_, last_g_max_, bits(), alpha_, eta_));
  }

  torch::Tensor gamma;
  torch::Tensor draws;
  /// uint8 flag; undefined with a fixed gamma.
  torch::Tensor initialized;

 protected:
  /// With differentiable_backward (set while the Hessian estimator runs) the
  /// gradient passes unquantized.
  torch::Tensor quantize(const torch::Tensor& y) override {
    if (!y.requires_grad() || !torch::GradMode::is_enabled() || differentiable_backward()) {
      return y;
    }
    // A view of y carries the hook, so the gradient of y's other users (none
    // in the quantized layers) stays untouched.
    auto out = y.view_as(y);
    auto self = std::static_pointer_cast<LbtImpl>(shared_from_this());
    out.register_hook([self](const torch::Tensor& g) { return self->quantize_backward(g); });
    return out;
  }

 private:
  torch::Tensor quantize_backward(const torch::Tensor& g) {
    if (g.numel() == 0) {
      return g;
    }
    const double g_max = g.abs().max().item<double>();
    bool walked = false;
    if (!fixed_gamma_ && initialized.item<uint8_t>() == 0 && g_max > 0.0) {
      gamma.fill_(lbt::initial_gamma(g, bits(), alpha_));
      initialized.fill_(1);
      walked = true;
    }
    const int64_t draw = draws.item<int64_t>();
    draws.fill_(draw + 1);
    auto generator =
        seeded_generator(g.device(), lbt::draw_seed(static_cast<uint64_t>(seed_), draw, g_max));
    const auto noise = torch::rand(g.sizes(), generator, g.options()).sub_(0.5);
    auto quantized = lbt::quantize_gradient(g, gamma, bits(), noise);
    last_clip_ratio_ = quantized.clip_ratio;
    last_g_max_ = quantized.g_max;
    update_pending_ = !fixed_gamma_ && !walked;
    return quantized.value;
  }

  /// Unset for the adaptive gamma.
  std::optional<double> fixed_gamma_;
  double alpha_;
  double eta_;
  int64_t seed_;
  /// Statistics of the FP32 gradient of the last backward (0-dim tensors).
  torch::Tensor last_clip_ratio_;
  torch::Tensor last_g_max_;
  /// Whether a backward since the last optimizer step left statistics for
  /// the interval update.
  bool update_pending_ = false;
};

}  // namespace

/// "lbt:bits=B,gamma=adaptive|G,alpha=A,eta=E,seed=S", gradients only:
/// B in 2..8, default 4 (the paper runs 4..8; 2 and 3 are valid grids too,
/// 1 is not: 2^b - 2 = 0 steps); gamma "adaptive" (default) or a fixed
/// G in (0, 1]; A in (0, 1], default 1e-3, and E in (0, 1], default 1e-3,
/// for the adaptive gamma only; S >= 0, default 0, seeds the rounding noise.
QuantizerPtr make_lbt(const Spec& spec, QuantTarget target) {
  const int64_t bits = spec.get_int("bits", kDefaultBits);
  const std::string gamma_text = spec.get_string("gamma", "adaptive");
  const double alpha = spec.get_double("alpha", 1e-3);
  const double eta = spec.get_double("eta", 1e-3);
  const int64_t seed = spec.get_int("seed", 0);
  const std::string name = std::string("lbt ") + to_string(target) + " quantizer";
  TORCH_CHECK(
      target == QuantTarget::kGradient,
      name,
      ": lbt quantizes the gradient at a layer's output (quant.grad_method = \"lbt\"), not ",
      to_string(target),
      "s; LBT's weight and activation quantizer is lbt_wa");
  lbt::check_bits(bits, name);
  std::optional<double> fixed_gamma;
  if (gamma_text != "adaptive") {
    char* end = nullptr;
    const double value = std::strtod(gamma_text.c_str(), &end);
    TORCH_CHECK(
        !gamma_text.empty() && *end == '\0' && value > 0.0 && value <= 1.0,
        name,
        ": gamma must be \"adaptive\" or a number in (0, 1], got '",
        gamma_text,
        "'");
    TORCH_CHECK(
        !spec.has("alpha") && !spec.has("eta"),
        name,
        ": alpha and eta drive the adaptive gamma and do nothing with gamma=",
        gamma_text);
    fixed_gamma = value;
  }
  TORCH_CHECK(
      std::isfinite(alpha) && alpha > 0.0 && alpha <= 1.0,
      name,
      ": alpha (the fraction of large gradients) must be in (0, 1], got ",
      alpha);
  TORCH_CHECK(
      std::isfinite(eta) && eta > 0.0 && eta <= 1.0, name, ": eta must be in (0, 1], got ", eta);
  TORCH_CHECK(seed >= 0, name, ": seed must be >= 0, got ", seed);
  return std::make_shared<LbtImpl>(bits, fixed_gamma, alpha, eta, seed);
}

}  // namespace ewgs::quant
