// Layer views shared by the exporters (layer_view.h).
#include "layer_view.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include "ewgs/nn/qconv2d.h"
#include "ewgs/nn/qlinear.h"
#include "ewgs/nn/sync_batch_norm.h"

namespace ewgs::deploy {

LayerView view_of(const models::LayerNode& node) {
  LayerView v;
  if (auto* conv = node.module->as<nn::QConv2d>()) {
    const auto& o = conv->options;
    v.quantized = conv;
    v.weight = conv->weight;
    v.bias = conv->bias;
    v.in_channels = o.in_channels();
    v.out_channels = o.out_channels();
    v.groups = o.groups();
    v.kernel_h = (*o.kernel_size())[0];
    v.kernel_w = (*o.kernel_size())[1];
    v.stride_h = (*o.stride())[0];
    v.stride_w = (*o.stride())[1];
    v.pad_h = (*o.padding())[0];
    v.pad_w = (*o.padding())[1];
    v.dilation_h = (*o.dilation())[0];
    v.dilation_w = (*o.dilation())[1];
    return v;
  }
  auto* fc = node.module->as<nn::QLinear>();
  TORCH_INTERNAL_ASSERT(fc, "export: layer ", node.name, " is neither a QConv2d nor a QLinear");
  v.quantized = fc;
  v.linear = true;
  v.weight = fc->weight.reshape({fc->options.out_features(), fc->options.in_features(), 1, 1});
  v.bias = fc->bias;
  v.in_channels = fc->options.in_features();
  v.out_channels = fc->options.out_features();
  return v;
}

BatchNormView batch_norm_view(const models::LayerNode& node) {
  BatchNormView v;
  const auto view_of = [&v](const auto& bn) {
    v.mean = bn.running_mean, v.var = bn.running_var, v.weight = bn.weight, v.bias = bn.bias;
    v.eps = bn.options.eps();
  };
  if (auto* bn2d = node.module->as<nn::SyncBatchNorm2d>()) {
    view_of(*bn2d);
  } else {
    auto* bn1d = node.module->as<nn::SyncBatchNorm1d>();
    TORCH_INTERNAL_ASSERT(
        bn1d, "export: layer ", node.name, " is neither a SyncBatchNorm1d nor a SyncBatchNorm2d");
    view_of(*bn1d);
  }
  TORCH_CHECK(
      v.mean.defined() && v.var.defined(),
      "export: ",
      node.name,
      " has no running statistics (track_running_stats=false); eval mode needs them");
  if (!v.weight.defined()) {
    v.weight = torch::ones_like(v.mean);
  }
  if (!v.bias.defined()) {
    v.bias = torch::zeros_like(v.mean);
  }
  return v;
}

}  // namespace ewgs::deploy
