// Quantized Conv2d (include/ewgs/nn/qconv2d.h).
#include "ewgs/nn/qconv2d.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <cmath>

#include "ewgs/nn/weight_init.h"

namespace ewgs::nn {

QConv2dImpl::QConv2dImpl(QConv2dOptions options_) : options(std::move(options_)) {
  reset();
}

void QConv2dImpl::reset() {
  TORCH_CHECK(
      options.in_channels() > 0 && options.out_channels() > 0,
      "QConv2d: in_channels and out_channels must be positive, got ",
      options.in_channels(),
      " and ",
      options.out_channels());
  TORCH_CHECK(
      options.groups() > 0 && options.in_channels() % options.groups() == 0 &&
          options.out_channels() % options.groups() == 0,
      "QConv2d: in_channels (",
      options.in_channels(),
      ") and out_channels (",
      options.out_channels(),
      ") must be divisible by groups (",
      options.groups(),
      ")");
  const auto& k = *options.kernel_size();
  weight = register_parameter(
      "weight",
      torch::empty({options.out_channels(), options.in_channels() / options.groups(), k[0], k[1]}));
  if (options.bias()) {
    bias = register_parameter("bias", torch::empty({options.out_channels()}));
  }
  default_init(weight, bias);
  register_quantization(*this, options.weight_quant(), options.act_quant(), options.grad_quant());
}

void QConv2dImpl::pretty_print(std::ostream& stream) const {
  stream << "ewgs::nn::QConv2d(" << options.in_channels() << ", " << options.out_channels()
         << ", kernel_size=" << options.kernel_size() << ", stride=" << options.stride()
         << ", padding=" << options.padding()
         << ", weight_quant=" << (weight_quant ? weight_quant->spec() : "off")
         << ", act_quant=" << (act_quant ? act_quant->spec() : "off") << ")";
}

torch::Tensor QConv2dImpl::forward(const torch::Tensor& input) {
  TORCH_CHECK(
      input.dim() == 4 && input.size(1) == options.in_channels(),
      "QConv2d: expected input of shape (N, ",
      options.in_channels(),
      ", H, W), got ",
      input.sizes());
  const auto op = [this](const torch::Tensor& x, const torch::Tensor& w) {
    return torch::conv2d(
        x, w, bias, options.stride(), options.padding(), options.dilation(), options.groups());
  };
  return quantized_forward(input, weight, bias.defined(), is_training(), op);
}

}  // namespace ewgs::nn
