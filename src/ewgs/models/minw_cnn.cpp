// MINW-Net's CIFAR ConvNet (Chen et al., J-STSP 2020; docs/methods/aqe.md, MINW-Net) at the
// size of its "Model D": blocks QConv -> [pool] -> BN -> HardTanh, the network AQE was trained in.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "ewgs/models/registry.h"
#include "ewgs/nn/sync_batch_norm.h"

namespace ewgs::models {
namespace {

/// Conv widths: BNN's ConvNet (Courbariaux et al., 128-128-256-256-512-512) with the
/// channels halved, as in the paper's Models B-D.
constexpr int64_t kConvWidths[] = {64, 64, 128, 128, 256, 256};
/// Hidden FC width: BNN's 1024 halved twice, Model D ("C with FC halved again").
constexpr int64_t kFcWidth = 256;
/// The last pool is adaptive to this size, so 28x28 and 32x32 inputs both fit.
constexpr int64_t kPooledSize = 2;

/// conv1..conv6 (3x3, padding 1), each followed by bn1..bn6 and HardTanh, with a 2x2
/// max pool after conv2 and conv4 and an adaptive max pool to 2x2 after conv6, all
/// placed between the conv and its BN (MINW-Net's block order); then fc1 -> bn7 ->
/// HardTanh -> fc2 -> bn8 -> HardTanh -> fc3. Every layer's input but the image is a
/// HardTanh output in [-1, 1]. conv1 and fc3 follow QuantSpec::first_conv/classifier;
/// fc3's output (the logits) is not quantized (Algorithm 1, l < n). Quantized layers
/// have no bias (BN follows); weights keep LibTorch's default initialization.
class MinwCnnImpl : public ClassifierImpl {
 public:
  explicit MinwCnnImpl(const ModelOptions& options) {
    const auto& quant = options.quant;
    int64_t in = options.in_channels;
    for (size_t i = 0; i < std::size(kConvWidths); ++i) {
      const int64_t out = kConvWidths[i];
      auto conv = i == 0 ? quant.first_conv(in, out, 3) : quant.conv(in, out, 3);
      const std::string index = std::to_string(i + 1);
      convs_.push_back(register_module("conv" + index, nn::QConv2d(conv.padding(1))));
      conv_bns_.push_back(register_module("bn" + index, nn::SyncBatchNorm2d(out)));
      in = out;
    }
    const auto hidden = [&quant](int64_t in_features) {
      return nn::QLinear(nn::QLinearOptions(in_features, kFcWidth)
                             .weight_quant(quant.weight)
                             .act_quant(quant.act)
                             .grad_quant(quant.grad));
    };
    fc1_ = register_module("fc1", hidden(in * kPooledSize * kPooledSize));
    bn7_ = register_module("bn7", nn::SyncBatchNorm1d(kFcWidth));
    fc2_ = register_module("fc2", hidden(kFcWidth));
    bn8_ = register_module("bn8", nn::SyncBatchNorm1d(kFcWidth));
    const int64_t classes = options.num_classes > 0 ? options.num_classes : 10;
    fc3_ = register_module("fc3", nn::QLinear(quant.classifier(kFcWidth, classes)));
    build_graph();
  }

 private:
  void build_graph() {
    auto& g = graph_;
    auto x = g.input();
    for (size_t i = 0; i < convs_.size(); ++i) {
      const std::string index = std::to_string(i + 1);
      x = g.conv("conv" + index, convs_[i].ptr(), x);
      if (i + 1 == convs_.size()) {
        x = g.adaptive_max_pool(x, kPooledSize);
      } else if (i % 2 == 1) {
        x = g.max_pool(x, 2, 2, 0);
      }
      x = g.hardtanh(g.batch_norm("bn" + index, conv_bns_[i].ptr(), x));
    }
    x = g.hardtanh(g.batch_norm("bn7", bn7_.ptr(), g.linear("fc1", fc1_.ptr(), g.flatten(x))));
    x = g.hardtanh(g.batch_norm("bn8", bn8_.ptr(), g.linear("fc2", fc2_.ptr(), x)));
    g.set_output(g.linear("fc3", fc3_.ptr(), x));
  }

  std::vector<nn::QConv2d> convs_;
  std::vector<nn::SyncBatchNorm2d> conv_bns_;
  nn::QLinear fc1_{nullptr};
  nn::SyncBatchNorm1d bn7_{nullptr};
  nn::QLinear fc2_{nullptr};
  nn::SyncBatchNorm1d bn8_{nullptr};
  nn::QLinear fc3_{nullptr};
};

}  // namespace

ClassifierPtr make_minw_cnn(const ModelOptions& options) {
  return std::make_shared<MinwCnnImpl>(options);
}

}  // namespace ewgs::models
