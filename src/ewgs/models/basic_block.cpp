// ResNet basic block with option-A or projection shortcut (basic_block.h).
#include "basic_block.h"

#include <torch/torch.h>

namespace ewgs::models {

BasicBlockImpl::BasicBlockImpl(
    int64_t in_planes, int64_t planes, int64_t stride, Shortcut shortcut, const QuantSpec& quant)
    : conv1(register_module(
          "conv1", nn::QConv2d(quant.conv(in_planes, planes, 3).stride(stride).padding(1)))),
      bn1(register_module("bn1", nn::SyncBatchNorm2d(planes))),
      conv2(register_module("conv2", nn::QConv2d(quant.conv(planes, planes, 3).padding(1)))),
      bn2(register_module("bn2", nn::SyncBatchNorm2d(planes))) {
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
            nn::SyncBatchNorm2d(planes)));
  }
}

LayerGraph::Value BasicBlockImpl::append_to(
    LayerGraph& graph, const std::string& prefix, LayerGraph::Value x) {
  auto out = graph.relu(
      graph.batch_norm(prefix + ".bn1", bn1.ptr(), graph.conv(prefix + ".conv1", conv1.ptr(), x)));
  out =
      graph.batch_norm(prefix + ".bn2", bn2.ptr(), graph.conv(prefix + ".conv2", conv2.ptr(), out));
  auto shortcut = x;
  if (downsample) {
    shortcut = graph.batch_norm(
        prefix + ".downsample.1",
        downsample->ptr(1),
        graph.conv(prefix + ".downsample.0", downsample->ptr(0), x));
  } else if (zero_pad_ > 0) {
    shortcut = graph.zero_pad_shortcut(x, zero_pad_);
  }
  return graph.relu(graph.add(out, shortcut));
}

torch::nn::ModuleList make_stage(
    int64_t in_planes,
    int64_t planes,
    int64_t blocks,
    int64_t stride,
    Shortcut shortcut,
    const QuantSpec& quant) {
  torch::nn::ModuleList stage;
  for (int64_t i = 0; i < blocks; ++i) {
    stage->push_back(
        BasicBlock(i == 0 ? in_planes : planes, planes, i == 0 ? stride : 1, shortcut, quant));
  }
  return stage;
}

LayerGraph::Value append_stage(
    LayerGraph& graph,
    const std::string& prefix,
    const torch::nn::ModuleList& stage,
    LayerGraph::Value x) {
  for (size_t i = 0; i < stage->size(); ++i) {
    x = stage->ptr<BasicBlockImpl>(i)->append_to(graph, prefix + "." + std::to_string(i), x);
  }
  return x;
}

}  // namespace ewgs::models
