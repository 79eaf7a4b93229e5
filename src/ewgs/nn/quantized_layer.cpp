// Quantizers, output scale and first-batch initialization shared by the quantized
// layers (include/ewgs/nn/quantized_layer.h); paper Sec. 4.1 and docs/methods/ewgs.md,
// Initialization.
#include "ewgs/nn/quantized_layer.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include "ewgs/nn/rank_gradients.h"
#include "ewgs/quant/registry.h"

namespace ewgs::nn {

void QuantizedLayer::register_quantization(
    torch::nn::Module& self,
    const std::string& weight_spec,
    const std::string& act_spec,
    const std::string& grad_spec) {
  weight_quant = quant::make_quantizer(weight_spec, quant::QuantTarget::kWeight);
  act_quant = quant::make_quantizer(act_spec, quant::QuantTarget::kActivation);
  grad_quant = quant::make_quantizer(grad_spec, quant::QuantTarget::kGradient);
  if (weight_quant) {
    self.register_module("weight_quant", weight_quant);
  }
  if (act_quant) {
    self.register_module("act_quant", act_quant);
  }
  if (grad_quant) {
    self.register_module("grad_quant", grad_quant);
  }
  if (weight_quant || act_quant || grad_quant) {
    initialized_ = self.register_buffer("quant_initialized", torch::zeros({}, torch::kUInt8));
  }
  bool needs_scale = false;
  for (const auto& q : {weight_quant, act_quant}) {
    needs_scale = needs_scale || (q && !q->output_in_input_scale());
  }
  if (needs_scale) {
    output_scale = self.register_parameter("output_scale", torch::ones({}));
  }
}

std::vector<torch::Tensor> QuantizedLayer::quantizer_parameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& q : quantizers()) {
    for (const auto& p : q->parameters()) {
      out.push_back(p);
    }
  }
  if (output_scale.defined()) {
    out.push_back(output_scale);
  }
  return out;
}

torch::Tensor QuantizedLayer::regularizer() const {
  torch::Tensor total;
  for (const auto& q : quantizers()) {
    const auto r = q->regularizer();
    if (r.defined()) {
      total = total.defined() ? total + r : r;
    }
  }
  return total;
}

bool QuantizedLayer::quant_initialized() const {
  if (!known_initialized_) {
    known_initialized_ = !initialized_.defined() || initialized_.item<uint8_t>() != 0;
  }
  return known_initialized_;
}

std::vector<quant::QuantizerPtr> QuantizedLayer::quantizers() const {
  std::vector<quant::QuantizerPtr> out;
  if (weight_quant) {
    out.push_back(weight_quant);
  }
  if (act_quant) {
    out.push_back(act_quant);
  }
  if (grad_quant) {
    out.push_back(grad_quant);
  }
  return out;
}

void QuantizedLayer::initialize(
    const torch::Tensor& x,
    const torch::Tensor& weight,
    const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>& op) {
  torch::NoGradGuard no_grad;
  if (weight_quant) {
    weight_quant->initialize(weight);
  }
  if (act_quant) {
    act_quant->initialize(x);
  }
  initialized_.fill_(1);  // gradient quantizers initialize from their first gradient
  if (!output_scale.defined()) {
    return;
  }
  const auto x_q = act_quant ? act_quant->forward(x) : x;
  const auto w_q = weight_quant ? weight_quant->forward(weight) : weight;
  const double full = op(x, weight).abs().mean().item<double>();
  const double quantized = op(x_q, w_q).abs().mean().item<double>();
  TORCH_CHECK(
      std::isfinite(full) && std::isfinite(quantized) && quantized > 0.0,
      "quantized layer: cannot initialize the output scale, E|o| = ",
      full,
      " and E|o_q| = ",
      quantized,
      " (the quantized output is all zero or non-finite)");
  output_scale.fill_(full / quantized);
}

torch::Tensor QuantizedLayer::quantized_forward(
    const torch::Tensor& x,
    const torch::Tensor& weight,
    bool has_bias,
    bool training,
    const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>& op) {
  if (!initialized_.defined()) {
    return op(x, weight);  // no quantizer on
  }
  if (training && !quant_initialized()) {
    initialize(x, weight, op);
  }
  const auto x_q = act_quant ? act_quant->forward(x) : x;
  auto w_q = weight_quant ? weight_quant->forward(weight) : weight;
  if (training && weight_quant && weight_gradient_group_ &&
      weight_gradient_group_->world_size() > 1) {
    w_q = mean_gradient_over_ranks(w_q, *weight_gradient_group_);
  }
  torch::Tensor y;
  if (!output_scale.defined()) {
    y = op(x_q, w_q);
  } else if (!has_bias) {
    // |alpha| op(x, w) = op(x, |alpha| w) for a bias-free linear op: scaling
    // the small weight tensor saves a pass over the output each way.
    y = op(x_q, output_scale.abs() * w_q);
  } else {
    y = output_scale.abs() * op(x_q, w_q);  // the official order with a bias
  }
  return grad_quant ? grad_quant->forward(y) : y;
}

}  // namespace ewgs::nn
