// A small CNN for 28x28 single-channel images (Fashion-MNIST), the model of the
// main job: trains in seconds per epoch on two cores, middle convs quantized.
#include <torch/torch.h>

#include "ewgs/models/registry.h"
#include "ewgs/nn/sync_batch_norm.h"

namespace ewgs::models {
namespace {

/// conv1(->32) BN ReLU maxpool | conv2(->64) BN ReLU maxpool | conv3(->128) BN
/// ReLU | global avg pool | fc. conv2 and conv3 are quantized; conv1 and fc
/// stay FP unless all layers are asked for.
class SmallCnnImpl : public ClassifierImpl {
 public:
  explicit SmallCnnImpl(const ModelOptions& options)
      : conv1_(register_module(
            "conv1", nn::QConv2d(options.quant.first_conv(options.in_channels, 32, 3).padding(1)))),
        bn1_(register_module("bn1", nn::SyncBatchNorm2d(32))),
        conv2_(register_module("conv2", nn::QConv2d(options.quant.conv(32, 64, 3).padding(1)))),
        bn2_(register_module("bn2", nn::SyncBatchNorm2d(64))),
        conv3_(register_module("conv3", nn::QConv2d(options.quant.conv(64, 128, 3).padding(1)))),
        bn3_(register_module("bn3", nn::SyncBatchNorm2d(128))),
        fc_(register_module(
            "fc",
            nn::QLinear(options.quant.classifier(
                128, options.num_classes > 0 ? options.num_classes : 10)))) {
    torch::NoGradGuard no_grad;
    for (auto* conv : {&conv1_, &conv2_, &conv3_}) {
      torch::nn::init::kaiming_normal_((*conv)->weight, 0, torch::kFanOut, torch::kReLU);
    }
    auto& g = graph_;
    auto x = g.max_pool(
        g.relu(g.batch_norm("bn1", bn1_.ptr(), g.conv("conv1", conv1_.ptr(), g.input()))), 2, 2, 0);
    x = g.max_pool(
        g.relu(g.batch_norm("bn2", bn2_.ptr(), g.conv("conv2", conv2_.ptr(), x))), 2, 2, 0);
    x = g.relu(g.batch_norm("bn3", bn3_.ptr(), g.conv("conv3", conv3_.ptr(), x)));
    g.set_output(g.linear("fc", fc_.ptr(), g.global_avg_pool(x)));
  }

 private:
  nn::QConv2d conv1_;
  nn::SyncBatchNorm2d bn1_;
  nn::QConv2d conv2_;
  nn::SyncBatchNorm2d bn2_;
  nn::QConv2d conv3_;
  nn::SyncBatchNorm2d bn3_;
  nn::QLinear fc_;
};

}  // namespace

ClassifierPtr make_small_cnn(const ModelOptions& options) {
  return std::make_shared<SmallCnnImpl>(options);
}

}  // namespace ewgs::models
