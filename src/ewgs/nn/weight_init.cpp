// Default parameter initialization for quantized layers (include/ewgs/nn/weight_init.h).
#include "ewgs/nn/weight_init.h"

#include <torch/torch.h>

#include <cmath>

namespace ewgs::nn {

void default_init(at::Tensor& weight, at::Tensor& bias) {
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const int64_t fan_in = weight.numel() / weight.size(0);
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    bias.uniform_(-bound, bound);
  }
}

}  // namespace ewgs::nn
