// Fused kernels of the learnable-interval quantizer (EWGS paper Eq. 1-4): one pass
// forward, one pass backward with the reductions for l and u. The composite ATen
// implementation in quant/interval_quantizer.cpp is the reference they are tested against.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ewgs::kernels {

/// out = map(round(steps * clamp((x - l) / (u - l), 0, 1)) / steps), with
/// map(q) = 2 (q - 0.5) for weights and q for activations. `x` is float32 on
/// CPU or CUDA; `lower`/`upper` are 0-dim float32 tensors on x's device.
/// A non-finite x, and an interval that is not l < u, are errors naming `what` on
/// every device (on CUDA they cost one flag read per call, or are deferred while a
/// CUDA graph is captured: see DeferredQuantizerCheck).
at::Tensor interval_quant_forward(
    const at::Tensor& x,
    const at::Tensor& lower,
    const at::Tensor& upper,
    int64_t steps,
    bool weight_map,
    const char* what);

/// Bits of the check flag the CUDA forward sets on the device.
constexpr int kInputNotFinite = 1;
constexpr int kIntervalNotOrdered = 2;
/// The error for check flag `flag` of quantizer `what`, "" when no bit is set; the
/// interval's, as the CPU checks it first.
std::string quantizer_check_failure(int flag, const std::string& what);

/// A CUDA forward launched while a CUDA graph is captured may not read its check
/// flag (no host sync is allowed then). It files the flag here instead: every replay
/// of the graph whose input has NaN or Inf, or whose interval is not l < u, sets its
/// bits, nothing resets it, and the code that replays the graph reads it.
struct DeferredQuantizerCheck {
  at::Tensor flag;  ///< int32, one element, on the device
  std::string what;
};
/// Files a check (called by the CUDA forward while capturing).
void defer_quantizer_check(at::Tensor flag, std::string what);
/// The checks filed since the last call, in launch order.
std::vector<DeferredQuantizerCheck> take_deferred_quantizer_checks();

struct IntervalQuantGrads {
  at::Tensor x;
  /// 0-dim sums over the unclipped elements.
  at::Tensor lower;
  at::Tensor upper;
};

/// Gradients of sum(grad_out * out) recomputed from x (nothing but x is saved
/// by the forward): with g_q = grad_out (times 2 for weights), e = x_n - x_q,
///   g_n = g_q (1 + delta sign(g_q) e)             (EWGS Eq. 4; delta undefined: STE)
///   grad_x = g_n / (u - l) where l <= x <= u, else 0
///   grad_l = sum over l <= x <= u of g_n (x_n - 1) / (u - l)
///   grad_u = sum over l <= x <= u of -g_n x_n / (u - l)
IntervalQuantGrads interval_quant_backward(
    const at::Tensor& grad_out,
    const at::Tensor& x,
    const at::Tensor& lower,
    const at::Tensor& upper,
    const at::Tensor& delta,
    int64_t steps,
    bool weight_map);

namespace cpu {
at::Tensor interval_quant_forward_cpu(
    const at::Tensor& x,
    float lower,
    float upper,
    int64_t steps,
    bool weight_map,
    const char* what);
IntervalQuantGrads interval_quant_backward_cpu(
    const at::Tensor& grad_out,
    const at::Tensor& x,
    float lower,
    float upper,
    float delta,
    int64_t steps,
    bool weight_map);
}  // namespace cpu

namespace cuda {
at::Tensor interval_quant_forward_cuda(
    const at::Tensor& x,
    const at::Tensor& lower,
    const at::Tensor& upper,
    int64_t steps,
    bool weight_map,
    const char* what);
IntervalQuantGrads interval_quant_backward_cuda(
    const at::Tensor& grad_out,
    const at::Tensor& x,
    const at::Tensor& lower,
    const at::Tensor& upper,
    const at::Tensor& delta,
    int64_t steps,
    bool weight_map);
}  // namespace cuda

}  // namespace ewgs::kernels
