// A model's structure as data: the list of layer operations its forward runs.
// Models are defined by one LayerGraph, which both runs them in LibTorch and is what
// export walks to write the packed inference format, so the two cannot disagree.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ewgs::models {

/// The operations a model is built from.
enum class LayerOp {
  kInput,            ///< the images (N, C, H, W)
  kConv,             ///< nn::QConv2d (quantized or full precision)
  kLinear,           ///< nn::QLinear on (N, features)
  kBatchNorm,        ///< nn::SyncBatchNorm1d or SyncBatchNorm2d (LibTorch BatchNorm subclasses)
  kRelu,             ///< max(x, 0)
  kRelu6,            ///< min(max(x, 0), 6)
  kHardTanh,         ///< min(max(x, -1), 1)
  kMaxPool,          ///< max_pool2d(kernel, stride, padding), padding is -inf
  kAdaptiveMaxPool,  ///< adaptive_max_pool2d to (size, size)
  kGlobalAvgPool,    ///< adaptive_avg_pool2d to 1x1, then flatten to (N, C)
  kFlatten,          ///< (N, C, H, W) -> (N, C H W), channel-major as torch.flatten
  kDropout,          ///< torch::nn::Dropout: identity in eval mode
  kAdd,              ///< inputs[0] + inputs[1]
  kZeroPadShortcut,  ///< x[:, :, ::2, ::2] zero-padded by `pad` channels on each side
};

/// "conv", "batch_norm", ...: how errors and summaries name an operation.
const char* to_string(LayerOp op);

/// One operation. `inputs` are indices of earlier nodes.
struct LayerNode {
  LayerOp op = LayerOp::kInput;
  /// Dotted module path for module operations ("layer1.0.conv1"), else empty.
  std::string name;
  std::vector<int> inputs;
  /// The module that computes it (conv, linear, batch norm, dropout), else null.
  std::shared_ptr<torch::nn::Module> module;
  /// Max pool: kernel, stride, padding. Adaptive max pool: output size.
  /// Zero-pad shortcut: channels padded on each side.
  std::vector<int64_t> ints;
};

/// A directed acyclic graph of layer operations in execution order, with one
/// input (the images) and one output (the logits).
///
/// Example (conv -> BN -> ReLU):
///   LayerGraph g;
///   auto x = g.input();
///   x = g.relu(g.batch_norm("bn1", bn1, g.conv("conv1", conv1, x)));
///   g.set_output(x);
class LayerGraph {
 public:
  using Value = int;

  Value input();
  Value conv(const std::string& name, std::shared_ptr<torch::nn::Module> conv, Value x);
  Value linear(const std::string& name, std::shared_ptr<torch::nn::Module> linear, Value x);
  Value batch_norm(const std::string& name, std::shared_ptr<torch::nn::Module> bn, Value x);
  Value dropout(const std::string& name, std::shared_ptr<torch::nn::Module> dropout, Value x);
  Value relu(Value x);
  Value relu6(Value x);
  Value hardtanh(Value x);
  Value max_pool(Value x, int64_t kernel, int64_t stride, int64_t padding);
  Value adaptive_max_pool(Value x, int64_t size);
  Value global_avg_pool(Value x);
  Value flatten(Value x);
  Value add(Value a, Value b);
  Value zero_pad_shortcut(Value x, int64_t pad);
  void set_output(Value v);

  const std::vector<LayerNode>& nodes() const { return nodes_; }
  Value output() const { return output_; }
  /// For each node, the index of the last node that reads it (itself if none).
  std::vector<int> last_uses() const;

 private:
  Value append(LayerNode node);

  std::vector<LayerNode> nodes_;
  Value output_ = -1;
};

/// Called with each node's index and output as the graph runs.
using NodeObserver = std::function<void(int node, const torch::Tensor& value)>;

/// Computes a node in place of its module (tests evaluate layers their own
/// way); returns an undefined tensor to let the module run.
using NodeOverride =
    std::function<torch::Tensor(int node, const std::vector<torch::Tensor>& inputs)>;

/// Runs `graph` on `images` with the LibTorch modules and functions it names:
/// exactly a model's forward (same operations, same order, same autograd
/// graph). Intermediate values are released after their last use.
torch::Tensor run_layer_graph(
    const LayerGraph& graph,
    const torch::Tensor& images,
    const NodeObserver& observe = nullptr,
    const NodeOverride& override_node = nullptr);

}  // namespace ewgs::models
