// Quantized Linear (include/ewgs/nn/qlinear.h).
#include "ewgs/nn/qlinear.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include "ewgs/nn/weight_init.h"

namespace ewgs::nn {

QLinearImpl::QLinearImpl(QLinearOptions options_) : options(std::move(options_)) {
  reset();
}

void QLinearImpl::reset() {
  TORCH_CHECK(
      options.in_features() > 0 && options.out_features() > 0,
      "QLinear: in_features and out_features must be positive, got ",
      options.in_features(),
      " and ",
      options.out_features());
  weight =
      register_parameter("weight", torch::empty({options.out_features(), options.in_features()}));
  if (options.bias()) {
    bias = register_parameter("bias", torch::empty({options.out_features()}));
  }
  default_init(weight, bias);
  register_quantization(*this, options.weight_quant(), options.act_quant(), options.grad_quant());
}

void QLinearImpl::pretty_print(std::ostream& stream) const {
  stream << "ewgs::nn::QLinear(in_features=" << options.in_features()
         << ", out_features=" << options.out_features()
         << ", weight_quant=" << (weight_quant ? weight_quant->spec() : "off")
         << ", act_quant=" << (act_quant ? act_quant->spec() : "off") << ")";
}

torch::Tensor QLinearImpl::forward(const torch::Tensor& input) {
  TORCH_CHECK(
      input.dim() >= 1 && input.size(-1) == options.in_features(),
      "QLinear: expected input of shape (*, ",
      options.in_features(),
      "), got ",
      input.sizes());
  const auto op = [this](const torch::Tensor& x, const torch::Tensor& w) {
    return torch::linear(x, w, bias);
  };
  return quantized_forward(input, weight, bias.defined(), is_training(), op);
}

}  // namespace ewgs::nn
