// The names of the trace estimators and of the targets of a delta, as configs,
// metrics, JSON and tables spell them (include/ewgs/hessian/delta_estimator.h).
#include <c10/util/Exception.h>

#include "ewgs/hessian/delta_estimator.h"

namespace ewgs::hessian {

Estimator parse_estimator(const std::string& text) {
  if (text == "fast") {
    return Estimator::kFast;
  }
  if (text == "faithful") {
    return Estimator::kFaithful;
  }
  TORCH_CHECK(false, "hessian estimator must be fast or faithful, got '", text, "'");
}

const char* to_string(Estimator estimator) {
  return estimator == Estimator::kFast ? "fast" : "faithful";
}

const char* delta_target_key(quant::QuantTarget target) {
  TORCH_CHECK(
      target != quant::QuantTarget::kGradient,
      "gradient quantizers have no delta; a delta targets weights or activations");
  return target == quant::QuantTarget::kWeight ? "weight" : "act";
}

}  // namespace ewgs::hessian
