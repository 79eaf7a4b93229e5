// Building and running layer graphs (include/ewgs/models/layer_graph.h).
#include "ewgs/models/layer_graph.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include "ewgs/nn/qconv2d.h"
#include "ewgs/nn/qlinear.h"
#include "ewgs/nn/sync_batch_norm.h"

namespace ewgs::models {

const char* to_string(LayerOp op) {
  switch (op) {
    case LayerOp::kInput:
      return "input";
    case LayerOp::kConv:
      return "conv";
    case LayerOp::kLinear:
      return "linear";
    case LayerOp::kBatchNorm:
      return "batch_norm";
    case LayerOp::kRelu:
      return "relu";
    case LayerOp::kRelu6:
      return "relu6";
    case LayerOp::kHardTanh:
      return "hardtanh";
    case LayerOp::kMaxPool:
      return "max_pool";
    case LayerOp::kAdaptiveMaxPool:
      return "adaptive_max_pool";
    case LayerOp::kGlobalAvgPool:
      return "global_avg_pool";
    case LayerOp::kFlatten:
      return "flatten";
    case LayerOp::kDropout:
      return "dropout";
    case LayerOp::kAdd:
      return "add";
    case LayerOp::kZeroPadShortcut:
      return "zero_pad_shortcut";
  }
  return "unknown";
}

LayerGraph::Value LayerGraph::append(LayerNode node) {
  for (const int i : node.inputs) {
    TORCH_CHECK(
        i >= 0 && i < static_cast<int>(nodes_.size()),
        "layer graph: ",
        to_string(node.op),
        " reads node ",
        i,
        ", which does not exist yet");
  }
  nodes_.push_back(std::move(node));
  return static_cast<Value>(nodes_.size()) - 1;
}

LayerGraph::Value LayerGraph::input() {
  TORCH_CHECK(nodes_.empty(), "layer graph: the input must be the first node");
  return append({LayerOp::kInput, "", {}, nullptr, {}});
}

LayerGraph::Value LayerGraph::conv(
    const std::string& name, std::shared_ptr<torch::nn::Module> conv, Value x) {
  TORCH_CHECK(conv && conv->as<nn::QConv2d>(), "layer graph: ", name, " is not a QConv2d");
  return append({LayerOp::kConv, name, {x}, std::move(conv), {}});
}

LayerGraph::Value LayerGraph::linear(
    const std::string& name, std::shared_ptr<torch::nn::Module> linear, Value x) {
  TORCH_CHECK(linear && linear->as<nn::QLinear>(), "layer graph: ", name, " is not a QLinear");
  return append({LayerOp::kLinear, name, {x}, std::move(linear), {}});
}

LayerGraph::Value LayerGraph::batch_norm(
    const std::string& name, std::shared_ptr<torch::nn::Module> bn, Value x) {
  TORCH_CHECK(
      bn && (bn->as<nn::SyncBatchNorm2d>() || bn->as<nn::SyncBatchNorm1d>()),
      "layer graph: ",
      name,
      " is not a SyncBatchNorm1d or SyncBatchNorm2d");
  return append({LayerOp::kBatchNorm, name, {x}, std::move(bn), {}});
}

LayerGraph::Value LayerGraph::dropout(
    const std::string& name, std::shared_ptr<torch::nn::Module> dropout, Value x) {
  TORCH_CHECK(
      dropout && dropout->as<torch::nn::Dropout>(), "layer graph: ", name, " is not a Dropout");
  return append({LayerOp::kDropout, name, {x}, std::move(dropout), {}});
}

LayerGraph::Value LayerGraph::relu(Value x) {
  return append({LayerOp::kRelu, "", {x}, nullptr, {}});
}

LayerGraph::Value LayerGraph::relu6(Value x) {
  return append({LayerOp::kRelu6, "", {x}, nullptr, {}});
}

LayerGraph::Value LayerGraph::hardtanh(Value x) {
  return append({LayerOp::kHardTanh, "", {x}, nullptr, {}});
}

LayerGraph::Value LayerGraph::max_pool(Value x, int64_t kernel, int64_t stride, int64_t padding) {
  TORCH_CHECK(
      kernel > 0 && stride > 0 && padding >= 0 && 2 * padding <= kernel,
      "layer graph: max_pool needs kernel, stride > 0 and 0 <= padding <= kernel / 2, got ",
      kernel,
      ", ",
      stride,
      ", ",
      padding);
  return append({LayerOp::kMaxPool, "", {x}, nullptr, {kernel, stride, padding}});
}

LayerGraph::Value LayerGraph::adaptive_max_pool(Value x, int64_t size) {
  TORCH_CHECK(size > 0, "layer graph: adaptive_max_pool needs a size > 0, got ", size);
  return append({LayerOp::kAdaptiveMaxPool, "", {x}, nullptr, {size}});
}

LayerGraph::Value LayerGraph::global_avg_pool(Value x) {
  return append({LayerOp::kGlobalAvgPool, "", {x}, nullptr, {}});
}

LayerGraph::Value LayerGraph::flatten(Value x) {
  return append({LayerOp::kFlatten, "", {x}, nullptr, {}});
}

LayerGraph::Value LayerGraph::add(Value a, Value b) {
  return append({LayerOp::kAdd, "", {a, b}, nullptr, {}});
}

LayerGraph::Value LayerGraph::zero_pad_shortcut(Value x, int64_t pad) {
  TORCH_CHECK(pad >= 0, "layer graph: zero_pad_shortcut needs pad >= 0, got ", pad);
  return append({LayerOp::kZeroPadShortcut, "", {x}, nullptr, {pad}});
}

void LayerGraph::set_output(Value v) {
  TORCH_CHECK(
      v >= 0 && v < static_cast<Value>(nodes_.size()),
      "layer graph: output node ",
      v,
      " does not exist");
  output_ = v;
}

std::vector<int> LayerGraph::last_uses() const {
  std::vector<int> last(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    last[i] = static_cast<int>(i);
    for (const int in : nodes_[i].inputs) {
      last[in] = static_cast<int>(i);
    }
  }
  return last;
}

namespace {

torch::Tensor run_node(const LayerNode& node, const std::vector<torch::Tensor>& values) {
  const auto& x = values[node.inputs.empty() ? 0 : node.inputs[0]];
  switch (node.op) {
    case LayerOp::kInput:
      break;
    case LayerOp::kConv:
      return node.module->as<nn::QConv2d>()->forward(x);
    case LayerOp::kLinear:
      return node.module->as<nn::QLinear>()->forward(x);
    case LayerOp::kBatchNorm:
      if (auto* bn2d = node.module->as<nn::SyncBatchNorm2d>()) {
        return bn2d->forward(x);
      }
      return node.module->as<nn::SyncBatchNorm1d>()->forward(x);
    case LayerOp::kDropout:
      return node.module->as<torch::nn::Dropout>()->forward(x);
    case LayerOp::kRelu:
      return torch::relu(x);
    case LayerOp::kRelu6:
      return torch::relu6(x);
    case LayerOp::kHardTanh:
      return torch::hardtanh(x);
    case LayerOp::kMaxPool:
      return torch::max_pool2d(x, node.ints[0], node.ints[1], node.ints[2]);
    case LayerOp::kAdaptiveMaxPool:
      return std::get<0>(torch::adaptive_max_pool2d(x, {node.ints[0], node.ints[0]}));
    case LayerOp::kGlobalAvgPool:
      return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
    case LayerOp::kFlatten:
      return x.flatten(1);
    case LayerOp::kAdd:
      return x + values[node.inputs[1]];
    case LayerOp::kZeroPadShortcut: {
      using torch::indexing::None;
      using torch::indexing::Slice;
      const auto sub = x.index({Slice(), Slice(), Slice(None, None, 2), Slice(None, None, 2)});
      return torch::constant_pad_nd(sub, {0, 0, 0, 0, node.ints[0], node.ints[0]}, 0.0);
    }
  }
  TORCH_CHECK(false, "layer graph: cannot run operation ", to_string(node.op));
}

}  // namespace

torch::Tensor run_layer_graph(
    const LayerGraph& graph,
    const torch::Tensor& images,
    const NodeObserver& observe,
    const NodeOverride& override_node) {
  const auto& nodes = graph.nodes();
  TORCH_CHECK(
      !nodes.empty() && graph.output() >= 0, "layer graph: the model defined no input or output");
  const auto last_use = graph.last_uses();
  std::vector<torch::Tensor> values(nodes.size());
  values[0] = images;
  if (observe) {
    observe(0, images);
  }
  for (size_t i = 1; i < nodes.size(); ++i) {
    if (override_node) {
      std::vector<torch::Tensor> inputs;
      for (const int in : nodes[i].inputs) {
        inputs.push_back(values[in]);
      }
      values[i] = override_node(static_cast<int>(i), inputs);
    }
    if (!values[i].defined()) {
      values[i] = run_node(nodes[i], values);
    }
    if (observe) {
      observe(static_cast<int>(i), values[i]);
    }
    for (const int in : nodes[i].inputs) {
      if (last_use[in] == static_cast<int>(i) && in != graph.output()) {
        values[in] = torch::Tensor();
      }
    }
  }
  return values[graph.output()];
}

}  // namespace ewgs::models
