// The gradient representative G of EWGS Eq. 10 and its names.
#include <c10/util/Exception.h>
#include <torch/torch.h>

#include "ewgs/hessian/delta_estimator.h"

namespace ewgs::hessian {

Representative parse_representative(const std::string& text) {
  if (text == "3std") {
    return Representative::kThreeStd;
  }
  if (text == "max") {
    return Representative::kMaxAbs;
  }
  if (text == "mean") {
    return Representative::kMeanAbs;
  }
  TORCH_CHECK(false, "gradient representative must be 3std, max or mean, got '", text, "'");
}

const char* to_string(Representative representative) {
  switch (representative) {
    case Representative::kThreeStd:
      return "3std";
    case Representative::kMaxAbs:
      return "max";
    case Representative::kMeanAbs:
      return "mean";
  }
  return "?";
}

double representative_value(const at::Tensor& grad, Representative representative) {
  torch::NoGradGuard no_grad;
  const auto g = grad.detach().to(torch::kDouble);
  switch (representative) {
    case Representative::kThreeStd:
      return 3.0 * g.std().item<double>();  // unbiased, as torch.std
    case Representative::kMaxAbs:
      return g.abs().max().item<double>();
    case Representative::kMeanAbs:
      return g.abs().mean().item<double>();
  }
  return 0.0;
}

}  // namespace ewgs::hessian
