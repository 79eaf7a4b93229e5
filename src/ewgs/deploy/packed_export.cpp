// Export to the packed format (include/ewgs/deploy/packed_export.h): walks the model's
// layer graph, fuses each convolution with the BatchNorm, residual add, activation and
// next quantizer that follow it, and writes integer codes and double epilogues.
#include "ewgs/deploy/packed_export.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "ewgs/infer/error.h"
#include "ewgs/infer/model_file.h"
#include "ewgs/quant/integer_grid.h"
#include "layer_view.h"

namespace ewgs::deploy {
namespace {

using models::LayerNode;
using models::LayerOp;
using nlohmann::json;

/// Largest weight code width of the format.
constexpr int64_t kMaxWeightBits = 4;

/// BatchNorm in eval mode as y = x * k + b per channel.
struct Affine {
  std::vector<double> k;
  std::vector<double> b;
};

Affine batch_norm_affine(const LayerNode& node) {
  const auto bn = batch_norm_view(node);
  const auto m = bn.mean.to(torch::kDouble).contiguous();
  const auto v = bn.var.to(torch::kDouble).contiguous();
  const auto w = bn.weight.to(torch::kDouble).contiguous();
  const auto b = bn.bias.to(torch::kDouble).contiguous();
  const int64_t n = m.numel();
  Affine a{
      std::vector<double>(static_cast<size_t>(n)), std::vector<double>(static_cast<size_t>(n))};
  for (int64_t c = 0; c < n; ++c) {
    const double k = w[c].item<double>() / std::sqrt(v[c].item<double>() + bn.eps);
    a.k[static_cast<size_t>(c)] = k;
    a.b[static_cast<size_t>(c)] = b[c].item<double>() - m[c].item<double>() * k;
  }
  return a;
}

const char* activation_name(LayerOp op) {
  switch (op) {
    case LayerOp::kRelu:
      return "relu";
    case LayerOp::kRelu6:
      return "relu6";
    case LayerOp::kHardTanh:
      return "hardtanh";
    default:
      return nullptr;
  }
}

json quantizer_json(const quant::ActivationGrid& grid, int64_t bits) {
  json q{{"bits", bits}, {"levels", grid.values.levels}};
  if (grid.kind == quant::ActivationGrid::Kind::kThresholds) {
    q["kind"] = "thresholds";
    q["thresholds"] = grid.thresholds;
    q["inclusive"] = grid.inclusive;
  } else {
    q["kind"] = "affine";
    q["scale"] = grid.in_scale;
    q["shift"] = grid.in_shift;
    q["rounding"] = grid.half_down ? "half_down" : "half_even";
  }
  return q;
}

class Exporter {
 public:
  Exporter(models::ClassifierImpl& model, const PackedExportOptions& options)
      : graph_(model.layer_graph()), nodes_(graph_.nodes()), options_(options) {
    TORCH_CHECK(
        options.input_shape.size() == 3,
        "export: the input shape must be {channels, height, width}");
    consumers_.resize(nodes_.size());
    for (size_t i = 0; i < nodes_.size(); ++i) {
      for (const int in : nodes_[i].inputs) {
        consumers_[static_cast<size_t>(in)].push_back(static_cast<int>(i));
      }
    }
    absorbed_.assign(nodes_.size(), false);
    record_shapes(model);
  }

  std::pair<infer::ModelFileWriter, json> run() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (!absorbed_[i]) {
        visit(static_cast<int>(i));
      }
    }
    std::stable_sort(
        ops_.begin(), ops_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    json ops = json::array();
    for (auto& op : ops_) {
      ops.push_back(std::move(op.second));
    }
    json input{{"tensor", float_tensor(0)}};
    if (!options_.mean.empty()) {
      input["mean"] = options_.mean;
      input["std"] = options_.std;
    }
    json description{
        {"format", "ewgs-model"},
        {"producer", options_.producer},
        {"input", input},
        {"tensors", tensors_},
        {"ops", ops},
        {"output", float_tensor(resolve(graph_.output()))}};
    return {std::move(writer_), std::move(description)};
  }

 private:
  /// Per-sample (height, width, channels) of every node's output, from one eval forward.
  void record_shapes(models::ClassifierImpl& model) {
    torch::NoGradGuard no_grad;
    model.eval();
    const auto& s = options_.input_shape;
    shapes_.resize(nodes_.size());
    models::run_layer_graph(
        graph_, torch::zeros({1, s[0], s[1], s[2]}), [&](int node, const torch::Tensor& v) {
          shapes_[static_cast<size_t>(node)] =
              v.dim() == 4 ? std::vector<int64_t>{v.size(2), v.size(3), v.size(1)}
                           : std::vector<int64_t>{1, 1, v.size(1)};
        });
  }

  /// Dropout is the identity at inference: a node's value is its input's.
  int resolve(int node) const {
    while (nodes_[static_cast<size_t>(node)].op == LayerOp::kDropout) {
      node = nodes_[static_cast<size_t>(node)].inputs[0];
    }
    return node;
  }

  /// The one consumer of `node` (through dropouts), or -1.
  int sole_consumer(int node) const {
    const auto& c = consumers_[static_cast<size_t>(node)];
    if (c.size() != 1) {
      return -1;
    }
    return nodes_[static_cast<size_t>(c[0])].op == LayerOp::kDropout ? sole_consumer(c[0]) : c[0];
  }

  std::string float_tensor(int node) {
    const auto name = "t" + std::to_string(node);
    if (declared_.insert(name).second) {
      tensors_.push_back(
          {{"name", name}, {"kind", "float"}, {"shape", shapes_[static_cast<size_t>(node)]}});
    }
    return name;
  }

  std::string codes_tensor(
      const std::string& name, const std::vector<int64_t>& shape, int64_t bits) {
    if (declared_.insert(name).second) {
      tensors_.push_back({{"name", name}, {"kind", "codes"}, {"bits", bits}, {"shape", shape}});
    }
    return name;
  }

  void emit(int position, json op) { ops_.emplace_back(position, std::move(op)); }

  /// The activation quantizer of a quantized layer, or null for a float layer;
  /// errors for half-quantized layers.
  quant::QuantizerPtr act_quantizer(const LayerNode& node) const {
    const auto v = view_of(node);
    const bool w = v.quantized->weight_quant != nullptr;
    const bool a = v.quantized->act_quant != nullptr;
    TORCH_CHECK(
        w == a,
        "export: layer ",
        node.name,
        " quantizes its ",
        w ? "weights but not its input" : "input but not its weights",
        "; the packed engine needs both or neither");
    return v.quantized->act_quant;
  }

  void visit(int i) {
    const auto& node = nodes_[static_cast<size_t>(i)];
    switch (node.op) {
      case LayerOp::kInput:
        float_tensor(0);
        return;
      case LayerOp::kConv:
      case LayerOp::kLinear:
        try {
          return visit_layer(i);
        } catch (const c10::Error& e) {
          const std::string message = e.what_without_backtrace();
          TORCH_CHECK(
              message.rfind("export: layer", 0) == 0, "export: layer ", node.name, ": ", message);
          throw;
        }
      case LayerOp::kDropout:
        return;
      case LayerOp::kBatchNorm: {
        const auto a = batch_norm_affine(node);
        json op{
            {"op", "affine"},
            {"name", node.name},
            {"input", float_tensor(resolve(node.inputs[0]))},
            {"scale", writer_.add_f64(a.k, {static_cast<int64_t>(a.k.size())})},
            {"shift", writer_.add_f64(a.b, {static_cast<int64_t>(a.b.size())})}};
        return emit_with_activation(i, std::move(op));
      }
      case LayerOp::kRelu:
      case LayerOp::kRelu6:
      case LayerOp::kHardTanh: {
        const auto c = shapes_[static_cast<size_t>(i)][2];
        const std::vector<double> ones(static_cast<size_t>(c), 1.0),
            zeros(static_cast<size_t>(c), 0.0);
        json op{
            {"op", "affine"},
            {"input", float_tensor(resolve(node.inputs[0]))},
            {"scale", writer_.add_f64(ones, {c})},
            {"shift", writer_.add_f64(zeros, {c})},
            {"activation", activation_name(node.op)}};
        op["output"] = float_tensor(i);
        return emit(i, std::move(op));
      }
      case LayerOp::kAdd: {
        json op{
            {"op", "add"},
            {"inputs",
             {float_tensor(resolve(node.inputs[0])), float_tensor(resolve(node.inputs[1]))}}};
        return emit_with_activation(i, std::move(op));
      }
      case LayerOp::kMaxPool:
        return emit(
            i,
            {{"op", "max_pool"},
             {"input", float_tensor(resolve(node.inputs[0]))},
             {"output", float_tensor(i)},
             {"kernel", node.ints[0]},
             {"stride", node.ints[1]},
             {"padding", node.ints[2]}});
      case LayerOp::kAdaptiveMaxPool:
        return emit(
            i,
            {{"op", "adaptive_max_pool"},
             {"input", float_tensor(resolve(node.inputs[0]))},
             {"output", float_tensor(i)},
             {"size", node.ints[0]}});
      case LayerOp::kGlobalAvgPool:
      case LayerOp::kFlatten:
        return emit(
            i,
            {{"op", node.op == LayerOp::kFlatten ? "flatten" : "global_avg_pool"},
             {"input", float_tensor(resolve(node.inputs[0]))},
             {"output", float_tensor(i)}});
      case LayerOp::kZeroPadShortcut:
        return emit(
            i,
            {{"op", "zero_pad_shortcut"},
             {"input", float_tensor(resolve(node.inputs[0]))},
             {"output", float_tensor(i)},
             {"pad", node.ints[0]}});
    }
  }

  /// Emits `op` with the activation that is its sole consumer folded in.
  void emit_with_activation(int i, json op) {
    const int next = sole_consumer(i);
    int last = i;
    if (next >= 0 && activation_name(nodes_[static_cast<size_t>(next)].op)) {
      op["activation"] = activation_name(nodes_[static_cast<size_t>(next)].op);
      absorbed_[static_cast<size_t>(next)] = true;
      last = next;
    }
    op["output"] = float_tensor(last);
    emit(last, std::move(op));
  }

  void visit_layer(int i) {
    const auto& node = nodes_[static_cast<size_t>(i)];
    const auto v = view_of(node);
    TORCH_CHECK(
        v.dilation_h == 1 && v.dilation_w == 1,
        "export: layer ",
        node.name,
        ": dilated convolutions are not supported by the packed format");
    const auto act = act_quantizer(node);
    json op{
        {"op", "conv"},
        {"name", node.name},
        {"in_channels", v.in_channels},
        {"out_channels", v.out_channels},
        {"kernel", {v.kernel_h, v.kernel_w}},
        {"stride", {v.stride_h, v.stride_w}},
        {"padding", {v.pad_h, v.pad_w}},
        {"groups", v.groups}};
    const int64_t out = v.out_channels;
    // y = base[c] acc + border[c] valid_weight_sum + constant[c], before BatchNorm.
    std::vector<double> base(static_cast<size_t>(out), 1.0), border(static_cast<size_t>(out), 0.0),
        constant(static_cast<size_t>(out), 0.0);
    const int input = resolve(node.inputs[0]);
    if (act) {
      op["input"] = quantized_input(i, input, *act);
      const auto grid = act->activation_grid();
      const auto weights = v.quantized->weight_quant->weight_grid(v.weight);
      TORCH_CHECK(
          v.quantized->weight_quant->bits() <= kMaxWeightBits,
          "export: layer ",
          node.name,
          ": ",
          v.quantized->weight_quant->bits(),
          "-bit weights; the packed format holds 1-",
          kMaxWeightBits,
          "-bit weights");
      const int64_t bits = v.quantized->weight_quant->bits();
      // codes [out, in/g, kh, kw] -> [out, kh, kw, in/g], packed per output channel.
      auto codes = weights.codes.reshape(v.weight.sizes()).permute({0, 2, 3, 1}).contiguous();
      std::vector<uint8_t> flat(
          codes.data_ptr<uint8_t>(), codes.data_ptr<uint8_t>() + codes.numel());
      const int64_t window = codes.numel() / out;
      const auto packed = infer::pack_codes(flat, static_cast<int>(bits), out, window);
      op["weights"] = {
          {"bits", bits},
          {"gain", weights.values.gain},
          {"zero", weights.values.zero},
          {"codes",
           writer_.add_array(
               infer::packed_code_type(static_cast<int>(bits)),
               {out, v.kernel_h, v.kernel_w, v.in_channels / v.groups},
               packed.data(),
               packed.size())}};
      const double alpha = v.quantized->output_scale.defined()
                               ? std::abs(v.quantized->output_scale.item<double>())
                               : 1.0;
      const auto& a = grid.values;
      const auto& w = weights.values;
      for (int64_t c = 0; c < out; ++c) {
        base[static_cast<size_t>(c)] = alpha * a.scale * static_cast<double>(a.gain) * w.scale;
        border[static_cast<size_t>(c)] =
            alpha * (a.offset - a.scale * static_cast<double>(a.zero)) * w.scale;
        constant[static_cast<size_t>(c)] =
            v.bias.defined() ? alpha * v.bias[c].item<double>() : 0.0;
      }
      // Without padding every window is whole: the border term is a constant.
      if (v.pad_h == 0 && v.pad_w == 0) {
        const auto w_int =
            weights.values.gain * weights.codes.to(torch::kLong) - weights.values.zero;
        const auto sums = w_int.reshape({out, -1}).sum(1);
        for (int64_t c = 0; c < out; ++c) {
          constant[static_cast<size_t>(c)] +=
              border[static_cast<size_t>(c)] * static_cast<double>(sums[c].item<int64_t>());
          border[static_cast<size_t>(c)] = 0.0;
        }
      }
    } else {
      op["input"] = float_tensor(input);
      const auto w = v.weight.detach().to(torch::kFloat).contiguous();
      json weights{
          {"bits", 0},
          {"values",
           writer_.add_array(
               infer::ArrayType::kF32,
               w.sizes().vec(),
               w.data_ptr<float>(),
               static_cast<uint64_t>(w.numel()) * sizeof(float))}};
      if (v.bias.defined()) {
        const auto b = v.bias.detach().to(torch::kFloat).contiguous();
        weights["bias"] = writer_.add_array(
            infer::ArrayType::kF32,
            {out},
            b.data_ptr<float>(),
            static_cast<uint64_t>(out) * sizeof(float));
      }
      op["weights"] = weights;
    }
    // Fuse what follows: BatchNorm, a residual add, an activation, the next quantizer.
    int last = i;
    json epilogue = json::object();
    int next = sole_consumer(last);
    if (next >= 0 && nodes_[static_cast<size_t>(next)].op == LayerOp::kBatchNorm) {
      const auto bn = batch_norm_affine(nodes_[static_cast<size_t>(next)]);
      for (int64_t c = 0; c < out; ++c) {
        const auto s = static_cast<size_t>(c);
        base[s] = base[s] * bn.k[s];
        border[s] = border[s] * bn.k[s];
        constant[s] = constant[s] * bn.k[s] + bn.b[s];
      }
      absorbed_[static_cast<size_t>(next)] = true;
      last = next;
      next = sole_consumer(last);
    }
    if (next >= 0 && nodes_[static_cast<size_t>(next)].op == LayerOp::kAdd &&
        !absorbed_[static_cast<size_t>(next)]) {
      const auto& add = nodes_[static_cast<size_t>(next)];
      const int other = resolve(add.inputs[0] == last ? add.inputs[1] : add.inputs[0]);
      epilogue["residual"] = float_tensor(other);
      absorbed_[static_cast<size_t>(next)] = true;
      last = next;
      next = sole_consumer(last);
    }
    if (next >= 0 && activation_name(nodes_[static_cast<size_t>(next)].op)) {
      epilogue["activation"] = activation_name(nodes_[static_cast<size_t>(next)].op);
      absorbed_[static_cast<size_t>(next)] = true;
      last = next;
      next = sole_consumer(last);
    }
    epilogue["scale"] = writer_.add_f64(base, {out});
    epilogue["shift"] = writer_.add_f64(constant, {out});
    if (std::any_of(border.begin(), border.end(), [](double b) { return b != 0.0; })) {
      epilogue["border_scale"] = writer_.add_f64(border, {out});
    }
    const bool next_quantized = next >= 0 &&
                                (nodes_[static_cast<size_t>(next)].op == LayerOp::kConv ||
                                 nodes_[static_cast<size_t>(next)].op == LayerOp::kLinear) &&
                                act_quantizer(nodes_[static_cast<size_t>(next)]) != nullptr;
    if (next_quantized) {
      const auto q = act_quantizer(nodes_[static_cast<size_t>(next)]);
      epilogue["quantizer"] = quantizer_json(q->activation_grid(), q->bits());
      op["output"] =
          codes_tensor("q" + std::to_string(next), shapes_[static_cast<size_t>(last)], q->bits());
      fused_inputs_[next] = op["output"].get<std::string>();
    } else {
      op["output"] = float_tensor(last);
    }
    op["epilogue"] = epilogue;
    emit(last, std::move(op));
  }

  /// The codes tensor a quantized layer reads: made by an earlier layer's
  /// epilogue, or by a quantize operation emitted here.
  std::string quantized_input(int layer, int input, quant::QuantizerImpl& act) {
    const auto fused = fused_inputs_.find(layer);
    if (fused != fused_inputs_.end()) {
      return fused->second;
    }
    const auto name =
        codes_tensor("q" + std::to_string(layer), shapes_[static_cast<size_t>(input)], act.bits());
    emit(
        layer,
        {{"op", "quantize"},
         {"name", nodes_[static_cast<size_t>(layer)].name},
         {"input", float_tensor(input)},
         {"output", name},
         {"quantizer", quantizer_json(act.activation_grid(), act.bits())}});
    return name;
  }

  const models::LayerGraph& graph_;
  const std::vector<LayerNode>& nodes_;
  PackedExportOptions options_;
  std::vector<std::vector<int>> consumers_;
  std::vector<bool> absorbed_;
  std::vector<std::vector<int64_t>> shapes_;
  std::map<int, std::string> fused_inputs_;
  std::set<std::string> declared_;
  json tensors_ = json::array();
  std::vector<std::pair<int, json>> ops_;
  infer::ModelFileWriter writer_;
};

/// Runs the exporter, turning engine-side errors into c10 errors.
std::pair<infer::ModelFileWriter, nlohmann::json> build(
    models::ClassifierImpl& model, const PackedExportOptions& options) {
  try {
    return Exporter(model, options).run();
  } catch (const infer::Error& e) {
    TORCH_CHECK(false, "export: ", e.what());
  }
}

}  // namespace

std::vector<uint8_t> export_packed_bytes(
    models::ClassifierImpl& model, const PackedExportOptions& options) {
  const auto [writer, description] = build(model, options);
  return writer.finish(description);
}

void export_packed(
    models::ClassifierImpl& model, const PackedExportOptions& options, const std::string& path) {
  const auto [writer, description] = build(model, options);
  try {
    writer.write(path, description);
  } catch (const infer::Error& e) {
    TORCH_CHECK(false, "export: ", e.what());
  }
}

}  // namespace ewgs::deploy
