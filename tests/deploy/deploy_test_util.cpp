// Shared helpers of the export tests (deploy_test_util.h).
#include "deploy_test_util.h"

#include <c10/util/Exception.h>

#include <cmath>

#include "ewgs/data/open_dataset.h"
#include "ewgs/data/transforms.h"
#include "ewgs/deploy/packed_export.h"
#include "ewgs/infer/model.h"
#include "ewgs/nn/parameter_groups.h"
#include "ewgs/nn/qconv2d.h"
#include "ewgs/nn/qlinear.h"
#include "ewgs/nn/quantized_layers.h"

namespace ewgs::test {
namespace {

using models::LayerOp;

nn::QuantizedLayer* quantized_layer(const models::LayerNode& node) {
  if (node.op == LayerOp::kConv) {
    return node.module->as<nn::QConv2d>();
  }
  if (node.op == LayerOp::kLinear) {
    return node.module->as<nn::QLinear>();
  }
  return nullptr;
}

torch::Tensor layer_weight(const models::LayerNode& node) {
  return node.op == LayerOp::kConv ? node.module->as<nn::QConv2d>()->weight
                                   : node.module->as<nn::QLinear>()->weight;
}

/// conv2d or linear of `x` with `w` as the layer computes it, without bias.
torch::Tensor layer_op(
    const models::LayerNode& node, const torch::Tensor& x, const torch::Tensor& w) {
  if (node.op == LayerOp::kLinear) {
    return torch::linear(x, w);
  }
  const auto& o = node.module->as<nn::QConv2d>()->options;
  return torch::conv2d(x, w, {}, o.stride(), o.padding(), o.dilation(), o.groups());
}

/// Whether a grid's value of code 0 is not 0 (LSQ+, AQE, symmetric LBT): zero padding
/// then gives border sums a constant term the integer sums do not carry.
bool has_offset(const quant::GridValues& a) {
  return a.offset - a.scale * static_cast<double>(a.zero) != 0.0;
}

/// The integer sums of `codes` with the integer weights `w_int` (both doubles holding
/// integers). float32 holds every integer of magnitude below 2^24 exactly, so when
/// fan-in x max |code| x max |weight| stays below it, every partial sum is exact in any
/// order: the sums are then an im2col matrix product in float32 (a GEMM, not a
/// convolution algorithm that may transform its operands), else a convolution in double.
torch::Tensor integer_sums(
    const models::LayerNode& node, const torch::Tensor& codes, const torch::Tensor& w_int) {
  const int64_t fan_in = w_int[0].numel();
  const double bound = static_cast<double>(fan_in) * codes.abs().max().item<double>() *
                       w_int.abs().max().item<double>();
  const bool grouped =
      node.op == LayerOp::kConv && node.module->as<nn::QConv2d>()->options.groups() != 1;
  if (bound >= 16777216.0 || grouped) {
    return layer_op(node, codes, w_int);
  }
  const auto w = w_int.to(torch::kFloat).reshape({w_int.size(0), fan_in});
  if (node.op == LayerOp::kLinear) {
    return torch::matmul(codes.to(torch::kFloat), w.t()).to(torch::kDouble);
  }
  const auto& o = node.module->as<nn::QConv2d>()->options;
  namespace F = torch::nn::functional;
  const auto columns = F::unfold(
      codes.to(torch::kFloat),
      F::UnfoldFuncOptions(o.kernel_size())
          .dilation(o.dilation())
          .padding(o.padding())
          .stride(o.stride()));
  const int64_t out_height = (codes.size(2) + 2 * (*o.padding())[0] -
                              (*o.dilation())[0] * ((*o.kernel_size())[0] - 1) - 1) /
                                 (*o.stride())[0] +
                             1;
  // (N, L, K) x (K, O): one GEMM over every image and position.
  return torch::matmul(columns.transpose(1, 2), w.t())
      .transpose(1, 2)
      .reshape({codes.size(0), w_int.size(0), out_height, -1})
      .to(torch::kDouble);
}

/// Engine NHWC buffer to an (N, C, H, W) tensor of the same type (a copy).
template <typename T>
torch::Tensor to_nchw(
    const T* data, int64_t batch, const infer::TensorInfo& t, torch::ScalarType type) {
  const auto nhwc =
      torch::from_blob(const_cast<T*>(data), {batch, t.height, t.width, t.channels}, type);
  // clone(): contiguous() would return a view of the engine's buffer for 1x1 images.
  return nhwc.permute({0, 3, 1, 2}).clone(torch::MemoryFormat::Contiguous);
}

/// Whether integer-valued tensors (engine integers, reference doubles) agree.
bool equal_values(const torch::Tensor& engine, const torch::Tensor& reference, int64_t& differ) {
  const auto e = engine.reshape({engine.size(0), -1}).to(torch::kLong);
  differ = (e != reference.reshape({reference.size(0), -1}).to(torch::kLong)).sum().item<int64_t>();
  return differ == 0;
}

}  // namespace

LabelledImages eval_images(
    const std::string& kind, const std::string& root, const std::string& split, int64_t count) {
  const auto set = data::open_dataset(kind, root, split);
  const data::Transform transform(data::eval_transform(kind));
  const auto shape = set->image_shape();
  const auto [h, w] = transform.output_size(shape[1], shape[2]);
  count = std::min(count, set->size());
  auto images = torch::empty({count, shape[0], h, w});
  auto labels = torch::empty({count}, torch::kLong);
  // Evenly spread over the split: image folders list their files class by class.
  for (int64_t i = 0; i < count; ++i) {
    const auto sample = set->get(i * set->size() / count);
    transform.apply(
        sample.image, transform.centered(shape[1], shape[2]), images[i].data_ptr<float>());
    labels[i] = sample.label;
  }
  return {images, labels};
}

LabelledImages fashion_mnist(const std::string& split, int64_t count) {
  return eval_images("fashion-mnist", data::default_root("fashion-mnist"), split, count);
}

void train_briefly(
    models::ClassifierImpl& model, const LabelledImages& data, int64_t steps, double lr) {
  torch::manual_seed(0);
  model.train();
  // The paper's fine-tuning split: quantizer intervals and output scales at 1e-5.
  const auto groups = nn::split_parameters(model);
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  param_groups.emplace_back(groups.model, std::make_unique<torch::optim::AdamOptions>(lr));
  if (!groups.quantizer.empty()) {
    param_groups.emplace_back(groups.quantizer, std::make_unique<torch::optim::AdamOptions>(1e-5));
  }
  torch::optim::Adam optimizer(param_groups, torch::optim::AdamOptions(lr));
  const int64_t batch = 64;
  const int64_t n = data.images.size(0);
  // Shuffled once: the images come class by class, and one-class batches do not train.
  const auto order = torch::randperm(n, torch::kLong);
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t begin = (s * batch) % (n - batch + 1);
    const auto picked = order.slice(0, begin, begin + batch);
    const auto x = data.images.index_select(0, picked);
    const auto y = data.labels.index_select(0, picked);
    optimizer.zero_grad();
    const auto loss = torch::nn::functional::cross_entropy(model.forward(x), y);
    loss.backward();
    optimizer.step();
    nn::notify_optimizer_step(model);
  }
  model.eval();
}

ExactReference exact_reference(models::ClassifierImpl& model, const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  model.eval();
  const auto& nodes = model.layer_graph().nodes();
  // Weight codes as the float32 model quantizes its weights.
  std::map<int, quant::WeightGrid> weights;
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto* layer = quantized_layer(nodes[i]);
    if (layer && layer->weight_quant) {
      weights[static_cast<int>(i)] = layer->weight_quant->weight_grid(layer_weight(nodes[i]));
    }
  }
  model.to(torch::kDouble);
  ExactReference out;
  const auto exact_layer = [&](int i, const std::vector<torch::Tensor>& inputs) -> torch::Tensor {
    const auto& node = nodes[static_cast<size_t>(i)];
    auto* layer = quantized_layer(node);
    if (!layer || !layer->act_quant) {
      return {};
    }
    const auto grid = layer->act_quant->activation_grid();
    const auto x_q = layer->act_quant->forward(inputs[0]);
    const auto& a = grid.values;
    const auto codes = torch::round(
        ((x_q - a.offset) / a.scale + static_cast<double>(a.zero)) / static_cast<double>(a.gain));
    const auto& w = weights.at(i);
    const auto w_int =
        (w.values.gain * w.codes.to(torch::kDouble) - static_cast<double>(w.values.zero))
            .reshape(layer_weight(node).sizes());
    const auto sums = integer_sums(node, codes, w_int);
    out.input_codes[node.name] = codes;
    out.sums[node.name] = sums;
    // Without an offset the grid values are S_A gain_A codes, and the layer's sum is
    // the integer sum times S_A gain_A S_W, rounded once; with one, zero padding makes
    // the border sums differ, and the layer is convolved in double.
    auto y = has_offset(a) ? layer_op(node, x_q, w.values.scale * w_int)
                           : (a.scale * static_cast<double>(a.gain) * w.values.scale) * sums;
    const auto bias = node.op == LayerOp::kConv ? node.module->as<nn::QConv2d>()->bias
                                                : node.module->as<nn::QLinear>()->bias;
    if (bias.defined()) {
      y = y + (node.op == LayerOp::kConv ? bias.reshape({1, -1, 1, 1}) : bias);
    }
    return layer->output_scale.defined() ? layer->output_scale.abs() * y : y;
  };
  out.logits =
      models::run_layer_graph(model.layer_graph(), images.to(torch::kDouble), nullptr, exact_layer);
  model.to(torch::kFloat);
  return out;
}

EngineRun run_engine(infer::Engine& engine, const torch::Tensor& images) {
  const auto x = images.to(torch::kFloat).contiguous();
  const int64_t batch = x.size(0);
  const auto& model = engine.model();
  std::map<int, torch::Tensor> codes;  // tensor index -> (N, C H W)
  EngineRun out;
  const auto logits = engine.run_traced(
      x.data_ptr<float>(), batch, infer::Layout::kNCHW, [&](size_t i, const infer::OpTrace& t) {
        const auto& op = model.ops()[i];
        const auto& info = model.tensors()[static_cast<size_t>(op.output)];
        if (t.codes) {
          codes[op.output] = to_nchw(t.codes, batch, info, torch::kUInt8);
        }
        if (op.kind == infer::OpKind::kConv && op.conv.quantized()) {
          out.input_codes[op.name] = codes.at(op.inputs[0]);
          out.sums[op.name] = to_nchw(t.int_sums, batch, info, torch::kInt);
        }
      });
  out.logits = torch::tensor(logits, torch::kDouble).reshape({batch, -1});
  return out;
}

std::string compare_with_reference(const EngineRun& engine, const ExactReference& reference) {
  std::string problems;
  for (const auto& [name, codes] : reference.input_codes) {
    const auto it = engine.input_codes.find(name);
    if (it == engine.input_codes.end()) {
      problems += "layer " + name + ": not a quantized layer of the engine\n";
      continue;
    }
    int64_t differ = 0;
    if (!equal_values(it->second, codes, differ)) {
      problems += "layer " + name + ": " + std::to_string(differ) + " input codes differ\n";
    }
    int64_t sum_differ = 0;
    if (!equal_values(engine.sums.at(name), reference.sums.at(name), sum_differ)) {
      problems += "layer " + name + ": " + std::to_string(sum_differ) + " integer sums differ\n";
    }
  }
  const auto error =
      ((engine.logits - reference.logits).abs() / reference.logits.abs().clamp_min(1.0)).max();
  if (error.item<double>() > 1e-9) {
    problems += "logits differ by " + std::to_string(error.item<double>()) + " (relative)\n";
  }
  const auto mismatches =
      (engine.logits.argmax(1) != reference.logits.argmax(1)).sum().item<int64_t>();
  if (mismatches > 0) {
    problems += std::to_string(mismatches) + " predictions differ\n";
  }
  return problems;
}

std::map<std::string, torch::Tensor> float32_sums(
    models::ClassifierImpl& model, const EngineRun& run) {
  torch::NoGradGuard no_grad;
  model.eval();
  std::map<std::string, torch::Tensor> out;
  for (const auto& node : model.layer_graph().nodes()) {
    auto* layer = quantized_layer(node);
    if (!layer || !layer->act_quant || !run.input_codes.count(node.name)) {
      continue;
    }
    const auto a = layer->act_quant->activation_grid().values;
    const auto w = layer->weight_quant->weight_grid(layer_weight(node)).values;
    if (has_offset(a)) {
      continue;
    }
    // The float values the codes stand for, shaped as the layer's input.
    auto codes = run.input_codes.at(node.name).to(torch::kDouble);
    const auto& weight = layer_weight(node);
    if (node.op == LayerOp::kLinear) {
      codes = codes.reshape({codes.size(0), -1});
    }
    const auto x_q = (a.scale * (static_cast<double>(a.gain) * codes - static_cast<double>(a.zero)))
                         .to(torch::kFloat);
    const auto w_q = layer->weight_quant->forward(weight);
    const double alpha =
        layer->output_scale.defined() ? std::abs(layer->output_scale.item<double>()) : 1.0;
    // As the layer computes it: the output scale folded into the float32 weights.
    const auto scaled = layer->output_scale.defined() ? layer->output_scale.abs() * w_q : w_q;
    const auto y = layer_op(node, x_q, scaled).to(torch::kDouble);
    const double step = alpha * a.scale * static_cast<double>(a.gain) * w.scale;
    out[node.name] = torch::round(y / step);
  }
  return out;
}

int64_t float32_prediction_mismatches(
    models::ClassifierImpl& model,
    const torch::Tensor& images,
    const torch::Tensor& engine_logits) {
  torch::NoGradGuard no_grad;
  model.eval();
  const auto logits = model.forward(images.to(torch::kFloat));
  return (logits.argmax(1) != engine_logits.argmax(1)).sum().item<int64_t>();
}

infer::Engine export_to_engine(
    models::ClassifierImpl& model,
    std::vector<int64_t> input_shape,
    infer::KernelPath path,
    int threads) {
  deploy::PackedExportOptions options;
  options.input_shape = std::move(input_shape);
  auto bytes = deploy::export_packed_bytes(model, options);
  const auto file = infer::ModelFile::parse(std::move(bytes), "exported model");
  return infer::Engine(infer::Model::from_file(file), {threads, path});
}

}  // namespace ewgs::test
