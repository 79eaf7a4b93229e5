// The formulas of LBT's gradient quantizer (Kim et al., ECCV 2024; docs/methods/lbt.md) as
// free functions, so that tests and golden files check each one on its own (used by lbt.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace ewgs::quant::lbt {

/// Bounds of the clipping factor gamma (docs/methods/lbt.md, U).
constexpr double kMinGamma = 1e-3;
constexpr double kMaxGamma = 1.0;

/// Checks LBT's bit range [2, 8] (2^b - 1 symmetric levels, 2^b - 2 steps),
/// naming the quantizer `name` in the error.
void check_bits(int64_t bits, const std::string& name);

/// The clip ratio the interval update drives R to: alpha / (2^b - 1)
/// (docs/methods/lbt.md, Target clip ratio: the optimal condition, the code's target).
double target_clip_ratio(int64_t bits, double alpha);

/// One quantized gradient and the statistics of its FP32 value.
struct QuantizedGradient {
  /// G^ = q Delta - c, the shape and dtype of G.
  at::Tensor value;
  /// g_max = max|G|, 0-dim.
  at::Tensor g_max;
  /// R = mean(|G| > c), the fraction of clipped elements, 0-dim float.
  at::Tensor clip_ratio;
};

/// The gradient quantizer G1-G5 of docs/methods/lbt.md, given the uniform noise:
///   g_max = max|G|,  c = gamma g_max,  Delta = 2c / (2^b - 2)
///   q = round(clamp((G + c) / Delta + noise, 0, 2^b - 2)),  G^ = q Delta - c
/// with noise ~ U(-0.5, 0.5) of G's shape (stochastic rounding, unbiased:
/// E[G^] = clamp(G, -c, c)). `gamma` is a 0-dim tensor on G's device. An
/// all-zero G (g_max = 0, so Delta = 0) gives G^ = 0.
QuantizedGradient quantize_gradient(
    const at::Tensor& g, const at::Tensor& gamma, int64_t bits, const at::Tensor& noise);

/// The first-iteration walk of docs/methods/lbt.md: gamma = 1, m = 0; repeat
/// m <- 0.999 m + 0.001 R(gamma), s = sign(m - alpha / (2^b - 1)),
/// gamma <- gamma + 0.001 s until s > 0; then clamp gamma to [0.001, 1].
/// R(gamma) = mean(|G| > gamma g_max), compared as in double precision;
/// gamma and m are doubles. G needs a nonzero element and finite values.
double initial_gamma(const at::Tensor& g, int64_t bits, double alpha);

/// The interval update U of docs/methods/lbt.md, run after each optimizer step:
///   gamma <- clamp(gamma + eta sign(R - alpha / (2^b - 1)), 0.001, 1)
/// and gamma unchanged where g_max = 0. All tensors 0-dim; returns the new
/// gamma (same dtype and device as `gamma`), computed without a host sync.
at::Tensor updated_gamma(
    const at::Tensor& gamma,
    const at::Tensor& clip_ratio,
    const at::Tensor& g_max,
    int64_t bits,
    double alpha,
    double eta);

/// Seed of the noise of a quantizer's `draw`-th backward: SplitMix64 mixing
/// of (seed, draw, the bits of g_max). g_max tells layers with the same
/// spec apart and is exact (a max), so a resumed run draws the same noise.
uint64_t draw_seed(uint64_t seed, int64_t draw, double g_max);

}  // namespace ewgs::quant::lbt
