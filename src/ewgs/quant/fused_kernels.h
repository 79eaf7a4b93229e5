// A process-wide switch between the fused interval-quantizer kernels and the composite
// ATen reference, for the benchmarks and tests that compare the two.
#pragma once

namespace ewgs::quant {

/// Whether float32 inputs go through the fused single-pass kernels
/// (kernels/interval_quant.h) instead of the composite ATen reference; on by
/// default. Capture for the Hessian always uses the composite path.
void set_fused_kernels(bool on);
bool fused_kernels();

}  // namespace ewgs::quant
