// What follows a convolution's sum (model.h's Epilogue), prepared for one layer:
// evaluated directly in double (the spec), or, when the output is codes that depend
// on the integer sum alone, as per-channel integer thresholds that give the same codes.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels.h"
#include "microkernels.h"

namespace ewgs::infer {

class PreparedEpilogue {
 public:
  /// `thresholds`: use integer thresholds where the epilogue allows them.
  /// `elementwise`: the loops of the engine's kernel path.
  PreparedEpilogue(
      const ConvOp& conv,
      const ConvGeometry& geometry,
      bool thresholds,
      const ElementwiseKernels& elementwise);

  /// Integer sums [batch][pixels][out_c] to the output: floats (`out_floats`)
  /// or codes (`out_codes`); `residual` is the residual tensor or null.
  void apply(
      int64_t batch,
      const int32_t* acc,
      const double* residual,
      double* out_floats,
      uint8_t* out_codes,
      int threads) const;
  /// The same for a full-precision layer's double sums.
  void apply(
      int64_t batch,
      const double* acc,
      const double* residual,
      double* out_floats,
      uint8_t* out_codes,
      int threads) const;

  bool uses_thresholds() const { return !thresholds_.empty(); }

  /// Makes a float epilogue also write q's codes of its output (both `out_floats`
  /// and `out_codes` then), for a quantize operation the engine fuses into it.
  void fuse_quantizer(const ActQuantizer& q);

  /// Output of channel c at output pixel `pixel` (y out_w + x) for sum `acc`
  /// and residual value `residual` (0 when none): the epilogue's definition.
  double value(int64_t c, int64_t pixel, double acc, double residual) const;

 private:
  template <typename Acc, typename Rows>
  void apply_direct(
      int64_t batch,
      const Acc* acc,
      const double* residual,
      double* out_floats,
      uint8_t* out_codes,
      int threads,
      Rows rows) const;
  void prepare_thresholds(const ConvOp& conv);

  Epilogue e_;
  ElementwiseKernels elementwise_;
  int64_t pixels_ = 0;
  int64_t channels_ = 0;
  /// border_scale[c] * valid_weight_sum(pixel, c), [pixels][channels], when the epilogue has a
  /// border term.
  std::vector<double> border_;
  /// code = number of k with sign[c] * acc >= thresholds_[k][c].
  std::vector<int32_t> thresholds_;
  std::vector<int32_t> sign_;
};

}  // namespace ewgs::infer
