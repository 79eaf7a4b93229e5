// Differentiable collectives (include/ewgs/nn/rank_gradients.h).
#include "ewgs/nn/rank_gradients.h"

#include <torch/torch.h>

#include "ewgs/nn/quantized_layer.h"

namespace ewgs::nn {
namespace {

Collective* group_of(torch::autograd::AutogradContext* ctx) {
  return reinterpret_cast<Collective*>(ctx->saved_data["group"].toInt());
}

class AllReduceSum : public torch::autograd::Function<AllReduceSum> {
 public:
  static torch::Tensor forward(
      torch::autograd::AutogradContext* ctx, const torch::Tensor& x, Collective* group) {
    ctx->saved_data["group"] = reinterpret_cast<int64_t>(group);
    auto y = x.contiguous().clone();
    group->all_reduce_sum(y);
    return y;
  }
  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto g = grads[0].contiguous().clone();
    group_of(ctx)->all_reduce_sum(g);
    return {g, torch::Tensor()};
  }
};

class MeanGradient : public torch::autograd::Function<MeanGradient> {
 public:
  static torch::Tensor forward(
      torch::autograd::AutogradContext* ctx, const torch::Tensor& x, Collective* group) {
    ctx->saved_data["group"] = reinterpret_cast<int64_t>(group);
    return x.view_as(x);
  }
  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    Collective* group = group_of(ctx);
    auto g = grads[0].contiguous().clone();
    group->all_reduce_sum(g);
    return {g.div_(static_cast<double>(group->world_size())), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor all_reduce_sum(const torch::Tensor& x, Collective& group) {
  return AllReduceSum::apply(x, &group);
}

torch::Tensor mean_gradient_over_ranks(const torch::Tensor& x, Collective& group) {
  return MeanGradient::apply(x, &group);
}

std::vector<torch::Tensor> average_quantized_weight_gradients(
    torch::nn::Module& model, const std::shared_ptr<Collective>& group) {
  std::vector<torch::Tensor> reduced;
  for (const auto& module : model.modules()) {
    auto* layer = dynamic_cast<QuantizedLayer*>(module.get());
    if (layer == nullptr || !layer->weight_quant) {
      continue;
    }
    layer->average_weight_gradient_over(group);
    reduced.push_back(module->named_parameters(/*recurse=*/false)["weight"]);
    for (const auto& p : layer->weight_quant->parameters()) {
      reduced.push_back(p);
    }
  }
  return reduced;
}

}  // namespace ewgs::nn
