// ResNet basic block with option-A or projection shortcut (basic_block.h).
#include "basic_block.h"

#include <torch/torch.h>

namespace ewgs::models {

BasicBlockImpl::BasicBlockImpl(
    int64_t in_planes,
    int64_t planes,
    int64_t stride,
    Shortcut shortcut,
    const QuantSpec& quant)
    : conv1(register_module(
          "conv1", nn::QConv2d(quant.conv(in_planes, planes, 3).stride(stride).padding(1)))),
      bn1(register_module("bn1", torch::nn::BatchNorm2d(planes))),
      conv2(register_module("conv2", nn::QConv2d(quant.conv(planes, planes, 3).padding(1)))),
      bn2(register_module("bn2", torch::nn::BatchNorm2d(planes))) {
  if (stride == 1 && in_planes == planes) {
    return;
  }
  if (shortcut == Shortcut::kZeroPad) {
    TORCH_CHECK(
        stride == 2 && planes == 2 * in_planes,
        "zero-pad shortcut needs stride 2 and doubled width, got stride ",
        stride,
        " and ",
        in_planes,
        " -> ",
        planes);
    zero_pad_ = planes / 4;
  } else {
    downsample = register_module(
        "downsample",
        torch::nn::Sequential(
            nn::QConv2d(quant.conv(in_planes, planes, 1).stride(stride)),
            torch::nn::BatchNorm2d(planes)));
  }
}

torch::Tensor BasicBlockImpl::shortcut(const torch::Tensor& x) {
  if (downsample) {
    return downsample->forward(x);
  }
  if (zero_pad_ == 0) {
    return x;
  }
  using torch::indexing::None;
  using torch::indexing::Slice;
  const auto sub = x.index({Slice(), Slice(), Slice(None, None, 2), Slice(None, None, 2)});
  return torch::constant_pad_nd(sub, {0, 0, 0, 0, zero_pad_, zero_pad_}, 0.0);
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  auto out = torch::relu(bn1->forward(conv1->forward(x)));
  out = bn2->forward(conv2->forward(out));
  return torch::relu(out + shortcut(x));
}

torch::nn::Sequential make_stage(
    int64_t in_planes,
    int64_t planes,
    int64_t blocks,
    int64_t stride,
    Shortcut shortcut,
    const QuantSpec& quant) {
  torch::nn::Sequential stage;
  for (int64_t i = 0; i < blocks; ++i) {
    stage->push_back(BasicBlock(i == 0 ? in_planes : planes, planes, i == 0 ? stride : 1, shortcut, quant));
  }
  return stage;
}

} // namespace ewgs::models
