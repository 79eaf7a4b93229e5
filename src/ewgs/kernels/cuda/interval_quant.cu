// CUDA kernels of the fused interval quantizer: a grid-stride elementwise forward
// and a backward that also reduces the gradients of l and u (block sums, then one
// atomicAdd per block). l, u and delta are read on the device; the forward's only
// host sync reads its check flag, so NaN input and an interval that is not l < u are
// errors as on the CPU (deferred to the replaying code while a CUDA graph is captured).
#include <ATen/TensorOperators.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGraphsC10Utils.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/util/Exception.h>

#include "ewgs/kernels/interval_quant.h"

namespace ewgs::kernels::cuda {
namespace {

// ---- kernels ---------------------------------------------------------------

/// 256 threads: enough warps to hide memory latency, small enough that the
/// shared-memory reduction of the backward stays cheap.
constexpr int kThreads = 256;

struct Normalized {
  float ratio;
  float x_n;
  float x_q;
};

__device__ __forceinline__ Normalized normalize(float x, float lower, float range, float steps) {
  const float ratio = __fdiv_rn(x - lower, range);
  const float x_n = fminf(fmaxf(ratio, 0.0f), 1.0f);
  return {ratio, x_n, __fdiv_rn(rintf(__fmul_rn(x_n, steps)), steps)};
}

/// fminf/fmaxf would clamp NaN into [0, 1] silently; non-finite inputs set the
/// kInputNotFinite bit of `check` instead (one atomic per offending block), an
/// interval that is not l < u its kIntervalNotOrdered bit, and the launcher fails.
__global__ void interval_quant_forward_kernel(
    const float* __restrict__ x,
    float* __restrict__ out,
    const float* __restrict__ lower,
    const float* __restrict__ upper,
    int* __restrict__ check,
    int64_t n,
    float steps,
    bool weight_map) {
  const float l = *lower;
  const float range = *upper - l;
  bool bad = false;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{blockDim.x} * gridDim.x) {
    const float v = x[i];
    bad = bad || !isfinite(v);
    const float q = normalize(v, l, range, steps).x_q;
    out[i] = weight_map ? __fmul_rn(q - 0.5f, 2.0f) : q;  // Eq. 3
  }
  if (__syncthreads_or(bad) && threadIdx.x == 0) {
    atomicOr(check, kInputNotFinite);
  }
  if (blockIdx.x == 0 && threadIdx.x == 0 && !(isfinite(l) && isfinite(*upper) && range > 0.0f)) {
    atomicOr(check, kIntervalNotOrdered);
  }
}

__global__ void interval_quant_backward_kernel(
    const float* __restrict__ grad_out,
    const float* __restrict__ x,
    float* __restrict__ grad_x,
    const float* __restrict__ lower,
    const float* __restrict__ upper,
    const float* __restrict__ delta,
    float* __restrict__ sums,  // [sum g_n, sum g_n * x_n] over unclipped elements
    int64_t n,
    float steps,
    float map_scale) {
  const float l = *lower;
  const float range = *upper - l;
  const float d = delta == nullptr ? 0.0f : *delta;
  float sum_g = 0.0f;
  float sum_gx = 0.0f;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{blockDim.x} * gridDim.x) {
    const Normalized v = normalize(x[i], l, range, steps);
    const float g_q = grad_out[i] * map_scale;
    const float sign = g_q > 0.0f ? 1.0f : (g_q < 0.0f ? -1.0f : 0.0f);
    const float g_n = g_q * (1.0f + d * sign * (v.x_n - v.x_q));  // Eq. 4
    const float inside = (v.ratio >= 0.0f && v.ratio <= 1.0f) ? g_n : 0.0f;
    grad_x[i] = __fdiv_rn(inside, range);
    sum_g += inside;
    sum_gx += inside * v.ratio;
  }
  __shared__ float shared_g[kThreads];
  __shared__ float shared_gx[kThreads];
  shared_g[threadIdx.x] = sum_g;
  shared_gx[threadIdx.x] = sum_gx;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      shared_g[threadIdx.x] += shared_g[threadIdx.x + stride];
      shared_gx[threadIdx.x] += shared_gx[threadIdx.x + stride];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    atomicAdd(&sums[0], shared_g[0]);
    atomicAdd(&sums[1], shared_gx[0]);
  }
}

// ---- launchers -------------------------------------------------------------

int blocks_for(int64_t n) {
  const int sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  const int64_t needed = (n + kThreads - 1) / kThreads;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(needed, int64_t{sms} * 8)));
}

}  // namespace

at::Tensor interval_quant_forward_cuda(
    const at::Tensor& x,
    const at::Tensor& lower,
    const at::Tensor& upper,
    int64_t steps,
    bool weight_map,
    const char* what) {
  const c10::cuda::CUDAGuard guard(x.device());
  auto out = at::empty_like(x);
  const int64_t n = x.numel();
  if (n == 0) {
    return out;
  }
  // While a graph is captured, the flag must not be read here, and a zero fill
  // would be replayed with the graph: the capturing code zeroes it once instead.
  const bool capturing =
      c10::cuda::currentStreamCaptureStatusMayInitCtx() != c10::cuda::CaptureStatus::None;
  auto check = capturing ? at::empty({1}, x.options().dtype(at::kInt))
                         : at::zeros({1}, x.options().dtype(at::kInt));
  interval_quant_forward_kernel<<<blocks_for(n), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
      x.data_ptr<float>(),
      out.data_ptr<float>(),
      lower.data_ptr<float>(),
      upper.data_ptr<float>(),
      check.data_ptr<int>(),
      n,
      static_cast<float>(steps),
      weight_map);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  if (capturing) {
    defer_quantizer_check(check, what);
    return out;
  }
  const int failed = check.item<int>();
  TORCH_CHECK(
      (failed & kIntervalNotOrdered) == 0,
      what,
      ": the interval needs l < u, got l=",
      lower.item<float>(),
      " u=",
      upper.item<float>());
  TORCH_CHECK(failed == 0, quantizer_check_failure(failed, what));
  return out;
}

IntervalQuantGrads interval_quant_backward_cuda(
    const at::Tensor& grad_out,
    const at::Tensor& x,
    const at::Tensor& lower,
    const at::Tensor& upper,
    const at::Tensor& delta,
    int64_t steps,
    bool weight_map) {
  const c10::cuda::CUDAGuard guard(x.device());
  auto grad_x = at::empty_like(x);
  auto sums = at::zeros({2}, x.options());
  const int64_t n = x.numel();
  if (n > 0) {
    interval_quant_backward_kernel<<<
        blocks_for(n),
        kThreads,
        0,
        at::cuda::getCurrentCUDAStream()>>>(
        grad_out.data_ptr<float>(),
        x.data_ptr<float>(),
        grad_x.data_ptr<float>(),
        lower.data_ptr<float>(),
        upper.data_ptr<float>(),
        delta.defined() ? delta.data_ptr<float>() : nullptr,
        sums.data_ptr<float>(),
        n,
        static_cast<float>(steps),
        weight_map ? 2.0f : 1.0f);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  const auto range = upper - lower;
  const auto sum_g = sums.select(0, 0);
  const auto sum_gx = sums.select(0, 1);
  return {grad_x, (sum_gx - sum_g) / range, -sum_gx / range};
}

}  // namespace ewgs::kernels::cuda
