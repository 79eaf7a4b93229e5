// Rounding to 2^b - 1 steps on [0, 1] with a pluggable backward: the gradient
// estimators themselves (STE, EWGS), usable by any quantizer that rounds in [0, 1].
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace ewgs::quant {

/// x_q = round(steps * x_n) / steps; backward passes the gradient unchanged
/// (straight-through estimator). Implemented in ste.cpp.
at::Tensor ste_round(const at::Tensor& x_n, int64_t steps);

/// x_q = round(steps * x_n) / steps; backward is EWGS (paper Eq. 4):
///   g_n = g_q * (1 + delta * sign(g_q) * (x_n - x_q))
/// with (x_n - x_q) saved as a constant, so the backward is differentiable
/// (linear in g_q) and a second backward passes through it. `delta` is a
/// scalar tensor >= 0 that receives no gradient. Implemented in ewgs.cpp.
at::Tensor ewgs_round(const at::Tensor& x_n, int64_t steps, const at::Tensor& delta);

}  // namespace ewgs::quant
