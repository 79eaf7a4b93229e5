// Learned step size quantization, LSQ (Esser et al., ICLR 2020): a uniform quantizer
// whose step size s is learned with the gradient of Eq. 3, scaled by 1/sqrt(N Q_P).
#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <cmath>

#include "ewgs/core/spec.h"
#include "ewgs/quant/registry.h"
#include "lsq_common.h"

namespace ewgs::quant {
namespace {

/// LSQ: v̂ = round(clip(v/s, -Q_N, Q_P)) s, no offset (see LsqQuantizerImpl).
class LsqImpl : public LsqQuantizerImpl {
 public:
  LsqImpl(QuantTarget target, int64_t bits) : LsqQuantizerImpl("lsq", target, bits, false) {}

  /// s = 2 <|v|> / sqrt(Q_P) over the initial weights or first batch (LSQ Sec. 2.1).
  void initialize(const torch::Tensor& x) override {
    torch::NoGradGuard no_grad;
    TORCH_CHECK(x.numel() > 0, describe(), ": initialization needs a non-empty tensor");
    const double mean_abs = x.abs().mean().item<double>();
    set_state(2.0 * mean_abs / std::sqrt(static_cast<double>(range().q_p)), 0.0);
  }
};

}  // namespace

/// "lsq:bits=B" (weights: B in 2..8; activations: B in 1..8; default 4).
QuantizerPtr make_lsq(const Spec& spec, QuantTarget target) {
  return std::make_shared<LsqImpl>(target, spec.get_int("bits", kDefaultBits));
}

}  // namespace ewgs::quant
