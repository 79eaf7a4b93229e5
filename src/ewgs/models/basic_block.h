// The ResNet basic block shared by the CIFAR and ImageNet ResNets; they differ
// only in the shortcut of blocks that change shape.
#pragma once

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>

#include "ewgs/models/layer_graph.h"
#include "ewgs/models/quant_spec.h"
#include "ewgs/nn/sync_batch_norm.h"

namespace ewgs::models {

/// Shortcut of a block whose stride or width changes.
enum class Shortcut {
  /// x[:, :, ::2, ::2] zero-padded by planes/4 channels per side, no
  /// parameters (He et al. option A; the EWGS CIFAR code).
  kZeroPad,
  /// downsample = (conv1x1(stride), BN), quantized like the block (torchvision).
  kProjection,
};

/// conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN, plus the shortcut, then
/// ReLU. Names: conv1, bn1, conv2, bn2 [, downsample.0, downsample.1].
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(
      int64_t in_planes, int64_t planes, int64_t stride, Shortcut shortcut, const QuantSpec& quant);

  /// Appends the block's operations on `x` to `graph`; `prefix` is the
  /// block's module path ("layer1.0"). Returns the block's output.
  LayerGraph::Value append_to(LayerGraph& graph, const std::string& prefix, LayerGraph::Value x);

  nn::QConv2d conv1;
  nn::SyncBatchNorm2d bn1;
  nn::QConv2d conv2;
  nn::SyncBatchNorm2d bn2;
  /// Defined for projection shortcuts only.
  torch::nn::Sequential downsample{nullptr};

 private:
  /// Channels padded on each side by a zero-pad shortcut; 0 for identity.
  int64_t zero_pad_ = 0;
};
TORCH_MODULE(BasicBlock);

/// A stage of `blocks` basic blocks whose first block has `stride`.
torch::nn::ModuleList make_stage(
    int64_t in_planes,
    int64_t planes,
    int64_t blocks,
    int64_t stride,
    Shortcut shortcut,
    const QuantSpec& quant);

/// Appends the blocks of `stage` (module path `prefix`, e.g. "layer1") to `graph`.
LayerGraph::Value append_stage(
    LayerGraph& graph,
    const std::string& prefix,
    const torch::nn::ModuleList& stage,
    LayerGraph::Value x);

}  // namespace ewgs::models
