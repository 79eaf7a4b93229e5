// MobileNetV2 (Sandler et al., 2018) with torchvision's structure and parameter
// names; every conv quantizable (the paper's MobileNetV2 setting quantizes all layers).
#include <torch/torch.h>

#include "ewgs/models/registry.h"
#include "ewgs/nn/sync_batch_norm.h"

namespace ewgs::models {
namespace {

/// torchvision's Conv2dNormActivation: conv (no bias) -> BN -> ReLU6, children
/// named 0, 1, 2.
class ConvBnRelu6Impl : public torch::nn::SequentialImpl {
 public:
  explicit ConvBnRelu6Impl(nn::QConv2dOptions options) {
    const int64_t k = (*options.kernel_size())[0];
    const int64_t out = options.out_channels();
    push_back(nn::QConv2d(options.padding((k - 1) / 2)));
    push_back(nn::SyncBatchNorm2d(out));
    push_back(torch::nn::ReLU6());
  }

  LayerGraph::Value append_to(LayerGraph& g, const std::string& prefix, LayerGraph::Value x) const {
    return g.relu6(g.batch_norm(prefix + ".1", ptr(1), g.conv(prefix + ".0", ptr(0), x)));
  }
};
TORCH_MODULE(ConvBnRelu6);

/// Inverted residual: [1x1 expand ConvBNReLU6] -> 3x3 depthwise ConvBNReLU6 ->
/// 1x1 linear projection conv -> BN, with a residual when shapes agree.
class InvertedResidualImpl : public torch::nn::Module {
 public:
  InvertedResidualImpl(
      int64_t in, int64_t out, int64_t stride, int64_t expand, const QuantSpec& quant)
      : residual_(stride == 1 && in == out) {
    const int64_t hidden = in * expand;
    if (expand != 1) {
      conv->push_back(ConvBnRelu6(quant.conv(in, hidden, 1)));
    }
    conv->push_back(ConvBnRelu6(quant.conv(hidden, hidden, 3).stride(stride).groups(hidden)));
    conv->push_back(nn::QConv2d(quant.conv(hidden, out, 1)));
    conv->push_back(nn::SyncBatchNorm2d(out));
    register_module("conv", conv);
  }

  LayerGraph::Value append_to(LayerGraph& g, const std::string& prefix, LayerGraph::Value x) const {
    auto out = x;
    const size_t n = conv->size();
    for (size_t i = 0; i + 2 < n; ++i) {
      out = conv->ptr<ConvBnRelu6Impl>(i)->append_to(g, prefix + ".conv." + std::to_string(i), out);
    }
    const auto index = [&](size_t i) { return prefix + ".conv." + std::to_string(i); };
    out = g.batch_norm(index(n - 1), conv->ptr(n - 1), g.conv(index(n - 2), conv->ptr(n - 2), out));
    return residual_ ? g.add(x, out) : out;
  }

  /// [expand,] depthwise, projection conv, BN (torchvision's names conv.0 ...).
  torch::nn::ModuleList conv;

 private:
  bool residual_;
};
TORCH_MODULE(InvertedResidual);

/// features.{0..18}, classifier.{0: Dropout(0.2), 1: Linear(1280, classes)}.
class MobileNetV2Impl : public ClassifierImpl {
 public:
  explicit MobileNetV2Impl(const ModelOptions& options) {
    const auto& quant = options.quant;
    features_->push_back(ConvBnRelu6(quant.first_conv(options.in_channels, 32, 3).stride(2)));
    struct Stage {
      int64_t expand, channels, repeats, stride;
    };
    const Stage stages[] = {
        {1, 16, 1, 1},
        {6, 24, 2, 2},
        {6, 32, 3, 2},
        {6, 64, 4, 2},
        {6, 96, 3, 1},
        {6, 160, 3, 2},
        {6, 320, 1, 1}};
    int64_t in = 32;
    for (const auto& s : stages) {
      for (int64_t i = 0; i < s.repeats; ++i) {
        features_->push_back(
            InvertedResidual(in, s.channels, i == 0 ? s.stride : 1, s.expand, quant));
        in = s.channels;
      }
    }
    features_->push_back(ConvBnRelu6(quant.conv(in, 1280, 1)));
    register_module("features", features_);
    classifier_->push_back(torch::nn::Dropout(0.2));
    classifier_->push_back(
        nn::QLinear(quant.classifier(1280, options.num_classes > 0 ? options.num_classes : 1000)));
    register_module("classifier", classifier_);
    // torchvision: convs Kaiming-normal fan_out; BN 1/0; Linear N(0, 0.01), bias 0.
    torch::NoGradGuard no_grad;
    for (const auto& m : modules(/*include_self=*/false)) {
      if (auto* c = m->as<nn::QConv2d>()) {
        torch::nn::init::kaiming_normal_(c->weight, 0, torch::kFanOut);
      } else if (auto* fc = m->as<nn::QLinear>()) {
        fc->weight.normal_(0, 0.01);
        fc->bias.zero_();
      }
    }
    build_graph();
  }

 private:
  void build_graph() {
    auto& g = graph_;
    auto x = g.input();
    const size_t last = features_->size() - 1;
    for (size_t i = 0; i <= last; ++i) {
      const auto prefix = "features." + std::to_string(i);
      x = i == 0 || i == last ? features_->ptr<ConvBnRelu6Impl>(i)->append_to(g, prefix, x)
                              : features_->ptr<InvertedResidualImpl>(i)->append_to(g, prefix, x);
    }
    x = g.dropout("classifier.0", classifier_->ptr(0), g.global_avg_pool(x));
    g.set_output(g.linear("classifier.1", classifier_->ptr(1), x));
  }

  torch::nn::ModuleList features_;
  torch::nn::ModuleList classifier_;
};

}  // namespace

ClassifierPtr make_mobilenet_v2(const ModelOptions& options) {
  return std::make_shared<MobileNetV2Impl>(options);
}

}  // namespace ewgs::models
