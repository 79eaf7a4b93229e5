// Weight initializations used by layers and models, named after what they do.
#pragma once

#include <ATen/core/Tensor.h>

namespace ewgs::nn {

/// LibTorch's default for Conv/Linear: weight ~ kaiming_uniform(a = sqrt(5)),
/// bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)). `bias` may be undefined.
void default_init(at::Tensor& weight, at::Tensor& bias);

}  // namespace ewgs::nn
