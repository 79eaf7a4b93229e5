// Export to ONNX (include/ewgs/deploy/onnx_export.h): walks the model's layer graph
// and writes each operation as the ONNX operators that compute it in float32, with
// the quantizers of quantized layers in the QCDQ layout (onnx_qcdq.h); docs/ONNX.md.
#include "ewgs/deploy/onnx_export.h"

#include <c10/util/Exception.h>
#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "ewgs/core/version.h"
#include "ewgs/train/atomic_file.h"
#include "layer_view.h"
#include "onnx_graph.h"
#include "onnx_qcdq.h"

namespace ewgs::deploy {
namespace {

using models::LayerNode;
using models::LayerOp;

/// IR version 8 (ONNX 1.10-1.12) carries opsets up to 17, and every ONNX Runtime
/// since 1.10 loads it.
constexpr int64_t kIrVersion = 8;
/// The oldest opset whose forms of the operators written here (Clip, Pad and
/// Slice bounds as inputs, QuantizeLinear, GreaterOrEqual) the export uses.
constexpr int64_t kMinOpset = 13;

/// The windows of PyTorch's adaptive pooling of `in` to `out` cells, [floor(j in / out),
/// ceil((j + 1) in / out)), as one MaxPool {kernel, stride} when they are equal in
/// length and evenly spaced; {0, 0} otherwise.
std::pair<int64_t, int64_t> uniform_windows(int64_t in, int64_t out) {
  const auto begin = [&](int64_t j) { return j * in / out; };
  const auto end = [&](int64_t j) { return ((j + 1) * in + out - 1) / out; };
  const int64_t kernel = end(0) - begin(0);
  const int64_t stride = out > 1 ? begin(1) - begin(0) : 1;
  for (int64_t j = 0; j < out; ++j) {
    if (end(j) - begin(j) != kernel || begin(j) != j * stride) {
      return {0, 0};
    }
  }
  return {kernel, stride};
}

class OnnxExporter {
 public:
  OnnxExporter(
      models::ClassifierImpl& model, const OnnxExportOptions& options, onnx::GraphProto& graph)
      : nodes_(model.layer_graph().nodes()), output_(model.layer_graph().output()), g_(graph) {
    TORCH_CHECK(
        options.input_shape.size() == 3,
        "onnx export: the input shape must be {channels, height, width}, got ",
        options.input_shape.size(),
        " values");
    record_shapes(model, options.input_shape);
    while (nodes_[static_cast<size_t>(output_)].op == LayerOp::kDropout) {
      output_ = nodes_[static_cast<size_t>(output_)].inputs[0];
    }
  }

  void run() {
    values_.resize(nodes_.size());
    for (size_t i = 0; i < nodes_.size(); ++i) {
      values_[i] = visit(static_cast<int>(i));
    }
    g_.output("logits", {-1, shapes_[static_cast<size_t>(output_)][1]});
  }

 private:
  /// Every node's output shape for one image, from one eval forward.
  void record_shapes(models::ClassifierImpl& model, const std::vector<int64_t>& s) {
    torch::NoGradGuard no_grad;
    model.eval();
    shapes_.resize(nodes_.size());
    models::run_layer_graph(
        model.layer_graph(),
        torch::zeros({1, s[0], s[1], s[2]}),
        [&](int node, const torch::Tensor& v) {
          shapes_[static_cast<size_t>(node)] = v.sizes().vec();
        });
    g_.input("images", {-1, s[0], s[1], s[2]});
  }

  /// The name of node i's value: "logits" for the model's output, the module's
  /// name for module operations, else the operation and index ("relu_5").
  std::string name_of(int i) const {
    const auto& node = nodes_[static_cast<size_t>(i)];
    if (i == output_) {
      return "logits";
    }
    return node.name.empty() ? std::string(models::to_string(node.op)) + "_" + std::to_string(i)
                             : node.name;
  }

  const std::string& input_of(int i, size_t k = 0) const {
    return values_[static_cast<size_t>(nodes_[static_cast<size_t>(i)].inputs[k])];
  }

  std::string visit(int i) {
    const auto& node = nodes_[static_cast<size_t>(i)];
    const auto out = name_of(i);
    switch (node.op) {
      case LayerOp::kInput:
        return "images";
      case LayerOp::kConv:
      case LayerOp::kLinear:
        return naming_layer(i, [&] { return visit_layer(i); });
      case LayerOp::kBatchNorm: {
        const auto bn = batch_norm_view(node);
        const auto p = node.name;
        return g_.node(
            "BatchNormalization",
            {input_of(i),
             g_.constant(p + ".weight", bn.weight.to(torch::kFloat)),
             g_.constant(p + ".bias", bn.bias.to(torch::kFloat)),
             g_.constant(p + ".running_mean", bn.mean.to(torch::kFloat)),
             g_.constant(p + ".running_var", bn.var.to(torch::kFloat))},
            out,
            {float_attribute("epsilon", static_cast<float>(bn.eps))});
      }
      case LayerOp::kRelu:
        return g_.node("Relu", {input_of(i)}, out);
      case LayerOp::kRelu6:
        return g_.node(
            "Clip",
            {input_of(i),
             g_.shared_scalar("const.zero", 0.0f),
             g_.shared_scalar("const.six", 6.0f)},
            out);
      case LayerOp::kHardTanh:
        return g_.node(
            "Clip",
            {input_of(i),
             g_.shared_scalar("const.minus_one", -1.0f),
             g_.shared_scalar("const.one", 1.0f)},
            out);
      case LayerOp::kMaxPool: {
        const int64_t k = node.ints[0], s = node.ints[1], p = node.ints[2];
        return g_.node(
            "MaxPool",
            {input_of(i)},
            out,
            {ints_attribute("kernel_shape", {k, k}),
             ints_attribute("strides", {s, s}),
             ints_attribute("pads", {p, p, p, p})});
      }
      case LayerOp::kAdaptiveMaxPool:
        return naming_layer(i, [&] { return visit_adaptive_max_pool(i); });
      case LayerOp::kGlobalAvgPool: {
        const auto pooled = g_.node("GlobalAveragePool", {input_of(i)}, out + "_spatial");
        return g_.node("Flatten", {pooled}, out, {int_attribute("axis", 1)});
      }
      case LayerOp::kFlatten:
        return g_.node("Flatten", {input_of(i)}, out, {int_attribute("axis", 1)});
      case LayerOp::kDropout:
        return input_of(i);  // the identity at inference
      case LayerOp::kAdd:
        return g_.node("Add", {input_of(i, 0), input_of(i, 1)}, out);
      case LayerOp::kZeroPadShortcut:
        return visit_zero_pad_shortcut(i);
    }
    C10_THROW_ERROR(Error, "onnx export: unknown layer operation");
  }

  /// Runs `visit`, turning its errors into errors that name layer i.
  template <typename Visit>
  std::string naming_layer(int i, const Visit& visit) {
    try {
      return visit();
    } catch (const c10::Error& e) {
      TORCH_CHECK(false, "onnx export: layer ", name_of(i), ": ", e.what_without_backtrace());
    }
  }

  /// Conv or Gemm on the quantized input and weights: |alpha| (op(x_q, w_q) + b),
  /// written op(x_q, |alpha| w_q) + |alpha| b as the layer computes it without bias.
  std::string visit_layer(int i) {
    const auto& node = nodes_[static_cast<size_t>(i)];
    const auto v = view_of(node);
    const auto* q = v.quantized;
    const double alpha = q->output_scale.defined() ? std::abs(q->output_scale.item<double>()) : 1.0;
    auto x = input_of(i);
    if (q->act_quant) {
      x = emit_activation_quantizer(g_, node.name, x, q->act_quant->activation_grid());
    }
    const auto shape =
        v.linear ? std::vector<int64_t>{v.out_channels, v.in_channels} : v.weight.sizes().vec();
    std::string w;
    if (q->weight_quant) {
      w = emit_weight_dequantizer(
          g_, node.name, q->weight_quant->weight_grid(v.weight), shape, alpha);
    } else {
      w = g_.constant(
          node.name + ".weight", (alpha * v.weight.detach()).to(torch::kFloat).reshape(shape));
    }
    std::vector<std::string> inputs{x, w};
    if (v.bias.defined()) {
      inputs.push_back(
          g_.constant(node.name + ".bias", (alpha * v.bias.detach()).to(torch::kFloat)));
    }
    if (v.linear) {
      return g_.node("Gemm", inputs, name_of(i), {int_attribute("transB", 1)});
    }
    return g_.node(
        "Conv",
        inputs,
        name_of(i),
        {ints_attribute("kernel_shape", {v.kernel_h, v.kernel_w}),
         ints_attribute("strides", {v.stride_h, v.stride_w}),
         ints_attribute("pads", {v.pad_h, v.pad_w, v.pad_h, v.pad_w}),
         ints_attribute("dilations", {v.dilation_h, v.dilation_w}),
         int_attribute("group", v.groups)});
  }

  /// PyTorch's adaptive windows as one MaxPool; unequal windows have no ONNX form.
  std::string visit_adaptive_max_pool(int i) {
    const auto& node = nodes_[static_cast<size_t>(i)];
    const auto& in = shapes_[static_cast<size_t>(node.inputs[0])];
    const int64_t size = node.ints[0];
    const auto [kernel_h, stride_h] = uniform_windows(in[2], size);
    const auto [kernel_w, stride_w] = uniform_windows(in[3], size);
    TORCH_CHECK(
        kernel_h > 0 && kernel_w > 0,
        "adaptive_max_pool from ",
        in[2],
        "x",
        in[3],
        " to ",
        size,
        "x",
        size,
        " has windows of unequal length or spacing, which no ONNX MaxPool computes");
    return g_.node(
        "MaxPool",
        {input_of(i)},
        name_of(i),
        {ints_attribute("kernel_shape", {kernel_h, kernel_w}),
         ints_attribute("strides", {stride_h, stride_w})});
  }

  /// x[:, :, ::2, ::2] with `pad` zero channels on each side.
  std::string visit_zero_pad_shortcut(int i) {
    const auto out = name_of(i);
    const int64_t pad = nodes_[static_cast<size_t>(i)].ints[0];
    const int64_t end = std::numeric_limits<int64_t>::max();
    const auto strided = g_.node(
        "Slice",
        {input_of(i),
         g_.constant(out + "_starts", torch::tensor({int64_t{0}, int64_t{0}})),
         g_.constant(out + "_ends", torch::tensor({end, end})),
         g_.constant(out + "_axes", torch::tensor({int64_t{2}, int64_t{3}})),
         g_.constant(out + "_steps", torch::tensor({int64_t{2}, int64_t{2}}))},
        out + "_strided");
    const auto pads = torch::tensor(
        {int64_t{0}, pad, int64_t{0}, int64_t{0}, int64_t{0}, pad, int64_t{0}, int64_t{0}});
    return g_.node("Pad", {strided, g_.constant(out + "_pads", pads)}, out);
  }

  const std::vector<LayerNode>& nodes_;
  int output_;
  OnnxGraph g_;
  std::vector<std::vector<int64_t>> shapes_;
  std::vector<std::string> values_;
};

/// The ONNX checker's verdict, then strict shape and type inference, which
/// also finds operator inputs of the wrong type and a wrong output shape.
void check(const onnx::ModelProto& model) {
  try {
    onnx::checker::check_model(model);
    onnx::ModelProto inferred = model;
    onnx::shape_inference::InferShapes(
        inferred,
        onnx::OpSchemaRegistry::Instance(),
        onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict_mode=*/1));
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "onnx export: the ONNX checker rejects the exported graph: ", e.what());
  }
}

}  // namespace

std::string onnx_input_codes_name(const std::string& layer) {
  return layer + ".input_codes";
}

std::string export_onnx_bytes(models::ClassifierImpl& model, const OnnxExportOptions& options) {
  const int64_t newest =
      onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map().at("").second;
  TORCH_CHECK(
      options.opset >= kMinOpset && options.opset <= newest,
      "onnx export: opset must be in [",
      kMinOpset,
      ", ",
      newest,
      "] (the newest this build's ONNX library checks), got ",
      options.opset);
  onnx::ModelProto proto;
  proto.set_ir_version(kIrVersion);
  proto.set_producer_name("ewgs");
  proto.set_producer_version(version());
  proto.set_doc_string(options.description);
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(options.opset);
  auto* graph = proto.mutable_graph();
  graph->set_name("ewgs");
  OnnxExporter(model, options, *graph).run();
  check(proto);
  return proto.SerializeAsString();
}

void export_onnx(
    models::ClassifierImpl& model, const OnnxExportOptions& options, const std::string& path) {
  train::write_file_atomically(path, export_onnx_bytes(model, options));
}

}  // namespace ewgs::deploy
