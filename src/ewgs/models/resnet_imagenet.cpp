// ResNet-18/34 with torchvision's structure and parameter names; block convs and
// 1x1 downsample convs quantized, stem conv and fc FP unless all layers are asked for.
#include <torch/torch.h>

#include "basic_block.h"
#include "ewgs/models/registry.h"
#include "ewgs/nn/sync_batch_norm.h"

namespace ewgs::models {
namespace {

/// torchvision ResNet with BasicBlocks: conv1, bn1, maxpool, layer1..4, fc.
class ImageNetResNetImpl : public ClassifierImpl {
 public:
  ImageNetResNetImpl(const std::vector<int64_t>& blocks, const ModelOptions& options) {
    const auto& quant = options.quant;
    conv1_ = register_module(
        "conv1", nn::QConv2d(quant.first_conv(options.in_channels, 64, 7).stride(2).padding(3)));
    bn1_ = register_module("bn1", nn::SyncBatchNorm2d(64));
    int64_t in_planes = 64;
    for (size_t s = 0; s < blocks.size(); ++s) {
      const int64_t planes = int64_t{64} << s;
      stages_.push_back(register_module(
          "layer" + std::to_string(s + 1),
          make_stage(in_planes, planes, blocks[s], s == 0 ? 1 : 2, Shortcut::kProjection, quant)));
      in_planes = planes;
    }
    fc_ = register_module(
        "fc",
        nn::QLinear(quant.classifier(512, options.num_classes > 0 ? options.num_classes : 1000)));
    // torchvision: convs Kaiming-normal (fan_out, ReLU gain); BN weight 1, bias 0.
    torch::NoGradGuard no_grad;
    for (const auto& m : modules(/*include_self=*/false)) {
      if (auto* conv = m->as<nn::QConv2d>()) {
        torch::nn::init::kaiming_normal_(conv->weight, 0, torch::kFanOut, torch::kReLU);
      }
    }
    auto& g = graph_;
    auto x = g.relu(g.batch_norm("bn1", bn1_.ptr(), g.conv("conv1", conv1_.ptr(), g.input())));
    x = g.max_pool(x, 3, 2, 1);
    for (size_t s = 0; s < stages_.size(); ++s) {
      x = append_stage(g, "layer" + std::to_string(s + 1), stages_[s], x);
    }
    g.set_output(g.linear("fc", fc_.ptr(), g.global_avg_pool(x)));
  }

 private:
  nn::QConv2d conv1_{nullptr};
  nn::SyncBatchNorm2d bn1_{nullptr};
  std::vector<torch::nn::ModuleList> stages_;
  nn::QLinear fc_{nullptr};
};

}  // namespace

ClassifierPtr make_resnet18(const ModelOptions& options) {
  return std::make_shared<ImageNetResNetImpl>(std::vector<int64_t>{2, 2, 2, 2}, options);
}

ClassifierPtr make_resnet34(const ModelOptions& options) {
  return std::make_shared<ImageNetResNetImpl>(std::vector<int64_t>{3, 4, 6, 3}, options);
}

}  // namespace ewgs::models
