// ResNet-20 for 32x32 images exactly as the EWGS code builds it (docs/methods/ewgs.md, Networks):
// option-A shortcuts, BatchNorm1d before the classifier, stem and classifier FP.
#include <torch/torch.h>

#include "basic_block.h"
#include "ewgs/models/registry.h"
#include "ewgs/nn/sync_batch_norm.h"

namespace ewgs::models {
namespace {

/// ResNet-(6n+2) for CIFAR; n = 3 gives ResNet-20. Names follow the official
/// code: conv1, bn1, layer{1,2,3}.{i}.{conv1,bn1,conv2,bn2}, bn2, linear.
class CifarResNetImpl : public ClassifierImpl {
 public:
  CifarResNetImpl(int64_t blocks_per_stage, const ModelOptions& options) {
    const auto& quant = options.quant;
    conv1_ = register_module(
        "conv1", nn::QConv2d(quant.first_conv(options.in_channels, 16, 3).padding(1)));
    bn1_ = register_module("bn1", nn::SyncBatchNorm2d(16));
    const int64_t widths[] = {16, 16, 32, 64};
    for (int64_t s = 1; s <= 3; ++s) {
      stages_.push_back(register_module(
          "layer" + std::to_string(s),
          make_stage(
              widths[s - 1],
              widths[s],
              blocks_per_stage,
              s == 1 ? 1 : 2,
              Shortcut::kZeroPad,
              quant)));
    }
    bn2_ = register_module("bn2", nn::SyncBatchNorm1d(64));
    linear_ = register_module(
        "linear",
        nn::QLinear(quant.classifier(64, options.num_classes > 0 ? options.num_classes : 10)));
    // The official code: Kaiming-normal (fan_in) on every conv and linear weight.
    torch::NoGradGuard no_grad;
    for (const auto& m : modules(/*include_self=*/false)) {
      if (auto* conv = m->as<nn::QConv2d>()) {
        torch::nn::init::kaiming_normal_(conv->weight);
      } else if (auto* fc = m->as<nn::QLinear>()) {
        torch::nn::init::kaiming_normal_(fc->weight);
      }
    }
    auto& g = graph_;
    auto x = g.relu(g.batch_norm("bn1", bn1_.ptr(), g.conv("conv1", conv1_.ptr(), g.input())));
    for (size_t s = 0; s < stages_.size(); ++s) {
      x = append_stage(g, "layer" + std::to_string(s + 1), stages_[s], x);
    }
    x = g.batch_norm("bn2", bn2_.ptr(), g.global_avg_pool(x));
    g.set_output(g.linear("linear", linear_.ptr(), x));
  }

 private:
  nn::QConv2d conv1_{nullptr};
  nn::SyncBatchNorm2d bn1_{nullptr};
  std::vector<torch::nn::ModuleList> stages_;
  nn::SyncBatchNorm1d bn2_{nullptr};
  nn::QLinear linear_{nullptr};
};

}  // namespace

ClassifierPtr make_resnet20(const ModelOptions& options) {
  return std::make_shared<CifarResNetImpl>(3, options);
}

}  // namespace ewgs::models
