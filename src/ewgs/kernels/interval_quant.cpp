// Front door of the fused interval-quantizer kernels: checks, then CPU or CUDA
// (include/ewgs/kernels/interval_quant.h). Callers never see a backend.
#include "ewgs/kernels/interval_quant.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "ewgs/version.h"

namespace ewgs::kernels {
namespace {

void check_inputs(
    const at::Tensor& x, const at::Tensor& lower, const at::Tensor& upper, int64_t steps) {
  TORCH_CHECK(
      x.scalar_type() == at::kFloat, "interval_quant: x must be float32, got ", x.scalar_type());
  TORCH_CHECK(
      lower.numel() == 1 && upper.numel() == 1,
      "interval_quant: l and u must be scalars, got ",
      lower.sizes(),
      " and ",
      upper.sizes());
  TORCH_CHECK(
      lower.device() == x.device() && upper.device() == x.device(),
      "interval_quant: l and u must be on ",
      x.device(),
      ", got ",
      lower.device(),
      " and ",
      upper.device());
  TORCH_CHECK(steps >= 1 && steps <= 255, "interval_quant: steps must be in [1, 255], got ", steps);
}

}  // namespace

at::Tensor interval_quant_forward(
    const at::Tensor& x,
    const at::Tensor& lower,
    const at::Tensor& upper,
    int64_t steps,
    bool weight_map,
    const char* what) {
  check_inputs(x, lower, upper, steps);
  if (x.is_cuda()) {
#if defined(EWGS_WITH_CUDA)
    return cuda::interval_quant_forward_cuda(x.contiguous(), lower, upper, steps, weight_map, what);
#else
    TORCH_CHECK(
        false, "interval_quant: ewgs was built without CUDA (configure with -DEWGS_USE_CUDA=ON)");
#endif
  }
  return cpu::interval_quant_forward_cpu(
      x.contiguous(), lower.item<float>(), upper.item<float>(), steps, weight_map, what);
}

IntervalQuantGrads interval_quant_backward(
    const at::Tensor& grad_out,
    const at::Tensor& x,
    const at::Tensor& lower,
    const at::Tensor& upper,
    const at::Tensor& delta,
    int64_t steps,
    bool weight_map) {
  check_inputs(x, lower, upper, steps);
  TORCH_CHECK(
      grad_out.sizes() == x.sizes() && grad_out.scalar_type() == at::kFloat,
      "interval_quant: the gradient must be float32 of shape ",
      x.sizes(),
      ", got ",
      grad_out.scalar_type(),
      " ",
      grad_out.sizes());
  if (x.is_cuda()) {
#if defined(EWGS_WITH_CUDA)
    return cuda::interval_quant_backward_cuda(
        grad_out.contiguous(), x.contiguous(), lower, upper, delta, steps, weight_map);
#else
    TORCH_CHECK(
        false, "interval_quant: ewgs was built without CUDA (configure with -DEWGS_USE_CUDA=ON)");
#endif
  }
  return cpu::interval_quant_backward_cpu(
      grad_out.contiguous(),
      x.contiguous(),
      lower.item<float>(),
      upper.item<float>(),
      delta.defined() ? delta.item<float>() : 0.0f,
      steps,
      weight_map);
}

}  // namespace ewgs::kernels
