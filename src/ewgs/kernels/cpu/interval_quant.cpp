// CPU kernels of the fused interval quantizer: plain loops the compiler vectorizes,
// split across LibTorch's intra-op threads. They reproduce the composite reference's
// float operations in the same order, so the forward is bit-identical to it.
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/scalar_tensor.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "ewgs/kernels/interval_quant.h"

namespace ewgs::kernels::cpu {
namespace {

/// Elements per task: large enough that scheduling costs nothing.
constexpr int64_t kGrain = 32768;
/// Elements summed in float before they join the double accumulators.
constexpr int64_t kBlock = 256;

/// Round half to even for 0 <= t < 2^22, as std::nearbyint in the default
/// rounding mode, written so it vectorizes without SSE4.1: adding 1.5 * 2^23
/// leaves no fraction bits, so the FPU rounds t to an integer.
inline float round_half_even(float t) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  return (t + kMagic) - kMagic;
}

/// What forward and backward both compute per element (Eq. 1-2).
struct Normalized {
  float ratio;  // (x - l) / (u - l), unclamped
  float x_n;    // clamp(ratio, 0, 1)
  float x_q;    // round(steps x_n) / steps
};

/// kUnitSteps: one step (1 bit), where round(x_n * 1) / 1 is round(x_n)
/// exactly, so one division per element is saved.
template <bool kUnitSteps>
inline Normalized normalize(float x, float lower, float range, float steps) {
  const float ratio = (x - lower) / range;
  const float x_n = std::min(std::max(ratio, 0.0f), 1.0f);
  const float x_q = kUnitSteps ? round_half_even(x_n) : round_half_even(x_n * steps) / steps;
  return {ratio, x_n, x_q};
}

/// The loops below are compiled for AVX2 and for the x86-64 baseline and the
/// better one is picked at load time; both vectorize (the file is built with
/// -fno-trapping-math, which lets the compiler turn the selects into blends).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define EWGS_CPU_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define EWGS_CPU_CLONES
#endif

/// Forward over [begin, end); returns nonzero when some x is not finite.
template <bool kUnitSteps>
inline int forward_loop(
    const float* in,
    float* out,
    int64_t begin,
    int64_t end,
    float lower,
    float range,
    float steps,
    bool weight_map) {
  int non_finite = 0;
  // Eq. 3's output map, hoisted out of the loop: out = scale * q + shift.
  const float shift = weight_map ? -0.5f : 0.0f;
  const float scale = weight_map ? 2.0f : 1.0f;
  for (int64_t i = begin; i < end; ++i) {
    const float v = in[i];
    const float zero_if_finite = v - v;  // NaN for NaN and +-Inf
    non_finite |= static_cast<int>(zero_if_finite != zero_if_finite);
    const float q = normalize<kUnitSteps>(v, lower, range, steps).x_q;
    out[i] = (q + shift) * scale;
  }
  return non_finite;
}

/// forward_loop compiled for each instruction set; the step count picks the
/// loop once per range.
EWGS_CPU_CLONES int forward_range(
    const float* in,
    float* out,
    int64_t begin,
    int64_t end,
    float lower,
    float range,
    float steps,
    bool weight_map) {
  return steps == 1.0f ? forward_loop<true>(in, out, begin, end, lower, range, steps, weight_map)
                       : forward_loop<false>(in, out, begin, end, lower, range, steps, weight_map);
}

/// Backward over one block of at most kBlock elements: writes grad_x and
/// returns the block's sums of g_n and g_n * x_n over unclipped elements.
/// Lane-wise accumulation over full groups of kLanes (a fixed trip count and
/// local, unaliased lanes) keeps the loop vectorizable without reassociating
/// a float reduction; the last partial group adds to lanes 0 .. count % kLanes.
constexpr int64_t kLanes = 16;

struct BlockSums {
  float g = 0.0f;
  float gx = 0.0f;
};

template <bool kUnitSteps>
inline BlockSums backward_loop(
    const float* __restrict g,
    const float* __restrict in,
    float* __restrict gx,
    int64_t count,
    float lower,
    float range,
    float steps,
    float delta,
    float map_scale) {
  float lane_g[kLanes] = {};
  float lane_gx[kLanes] = {};
  const auto element = [&](int64_t i, int64_t lane) {
    const Normalized v = normalize<kUnitSteps>(in[i], lower, range, steps);
    const float g_q = g[i] * map_scale;
    const float sign = g_q > 0.0f ? 1.0f : (g_q < 0.0f ? -1.0f : 0.0f);
    const float g_n = g_q * (1.0f + delta * sign * (v.x_n - v.x_q));  // Eq. 4
    const float inside = (v.ratio >= 0.0f && v.ratio <= 1.0f) ? g_n : 0.0f;
    gx[i] = inside / range;
    lane_g[lane] += inside;
    lane_gx[lane] += inside * v.ratio;
  };
  int64_t base = 0;
  for (; base + kLanes <= count; base += kLanes) {
    for (int64_t k = 0; k < kLanes; ++k) {
      element(base + k, k);
    }
  }
  for (int64_t k = 0; base + k < count; ++k) {
    element(base + k, k);
  }
  BlockSums sums;
  for (int64_t k = 0; k < kLanes; ++k) {
    sums.g += lane_g[k];
    sums.gx += lane_gx[k];
  }
  return sums;
}

/// backward_loop compiled for each instruction set; the step count picks the
/// loop once per block.
EWGS_CPU_CLONES BlockSums backward_block(
    const float* __restrict g,
    const float* __restrict in,
    float* __restrict gx,
    int64_t count,
    float lower,
    float range,
    float steps,
    float delta,
    float map_scale) {
  return steps == 1.0f
             ? backward_loop<true>(g, in, gx, count, lower, range, steps, delta, map_scale)
             : backward_loop<false>(g, in, gx, count, lower, range, steps, delta, map_scale);
}

}  // namespace

at::Tensor interval_quant_forward_cpu(
    const at::Tensor& x,
    float lower,
    float upper,
    int64_t steps,
    bool weight_map,
    const char* what) {
  TORCH_CHECK(
      std::isfinite(lower) && std::isfinite(upper) && upper > lower,
      what,
      ": the interval needs l < u, got l=",
      lower,
      " u=",
      upper);
  auto out = at::empty_like(x);
  const float* in = x.data_ptr<float>();
  float* result = out.data_ptr<float>();
  const float range = upper - lower;
  const float fsteps = static_cast<float>(steps);
  std::atomic<bool> non_finite{false};
  at::parallel_for(0, x.numel(), kGrain, [&](int64_t begin, int64_t end) {
    if (forward_range(in, result, begin, end, lower, range, fsteps, weight_map) != 0) {
      non_finite = true;
    }
  });
  TORCH_CHECK(!non_finite, what, ": input has non-finite values (NaN or Inf)");
  return out;
}

IntervalQuantGrads interval_quant_backward_cpu(
    const at::Tensor& grad_out,
    const at::Tensor& x,
    float lower,
    float upper,
    float delta,
    int64_t steps,
    bool weight_map) {
  auto grad_x = at::empty_like(x);
  const float* g = grad_out.data_ptr<float>();
  const float* in = x.data_ptr<float>();
  float* gx = grad_x.data_ptr<float>();
  const float range = upper - lower;
  const float fsteps = static_cast<float>(steps);
  const float map_scale = weight_map ? 2.0f : 1.0f;
  const int64_t n = x.numel();
  const int64_t tasks = std::max<int64_t>(1, (n + kGrain - 1) / kGrain);
  // Per task: sum of g_n and of g_n * x_n over unclipped elements.
  std::vector<double> sum_g(tasks, 0.0);
  std::vector<double> sum_gx(tasks, 0.0);
  at::parallel_for(0, tasks, 1, [&](int64_t task_begin, int64_t task_end) {
    for (int64_t task = task_begin; task < task_end; ++task) {
      const int64_t end = std::min(n, (task + 1) * kGrain);
      for (int64_t block = task * kGrain; block < end; block += kBlock) {
        const BlockSums sums = backward_block(
            g + block,
            in + block,
            gx + block,
            std::min(kBlock, end - block),
            lower,
            range,
            fsteps,
            delta,
            map_scale);
        sum_g[task] += sums.g;
        sum_gx[task] += sums.gx;
      }
    }
  });
  double total_g = 0.0;
  double total_gx = 0.0;
  for (int64_t t = 0; t < tasks; ++t) {
    total_g += sum_g[t];
    total_gx += sum_gx[t];
  }
  const auto options = x.options();
  return {
      grad_x,
      at::scalar_tensor((total_gx - total_g) / range, options),
      at::scalar_tensor(-total_gx / range, options)};
}

}  // namespace ewgs::kernels::cpu
