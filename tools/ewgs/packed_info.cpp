// `ewgs info --model FILE.ewgsm`: the operations of a packed model with their shapes,
// bits and weight bytes, and the kernels the engine picks for them on this CPU.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>

#include "ewgs/infer/engine.h"
#include "packed_info.h"

namespace ewgs::cli {
namespace {

/// Bytes the layer's weights take in the file.
int64_t weight_bytes(const infer::ConvOp& c) {
  if (!c.quantized()) {
    return static_cast<int64_t>((c.weights.size() + c.bias.size()) * sizeof(float));
  }
  return c.out_channels * ((c.window() * c.weight_bits + 7) / 8);
}

std::string shape_text(const infer::TensorInfo& t) {
  return fmt::format(
      "{}x{}x{}{}", t.height, t.width, t.channels, t.codes ? fmt::format(" u{}", t.bits) : "");
}

}  // namespace

nlohmann::json packed_model_info(const std::string& path) {
  infer::Engine engine(infer::Model::load(path));
  const auto& model = engine.model();
  const auto kernels = engine.kernel_names();
  nlohmann::json ops = nlohmann::json::array();
  int64_t total_weight_bytes = 0;
  for (size_t i = 0; i < model.ops().size(); ++i) {
    const auto& op = model.ops()[i];
    nlohmann::json entry{
        {"op", infer::to_string(op.kind)},
        {"name", op.name},
        {"output", shape_text(model.tensors()[static_cast<size_t>(op.output)])}};
    if (op.kind == infer::OpKind::kConv) {
      const auto& c = op.conv;
      const auto& in = model.tensors()[static_cast<size_t>(op.inputs[0])];
      entry["bits"] = c.quantized() ? fmt::format("W{}A{}", c.weight_bits, in.bits) : "float";
      entry["kernel"] = fmt::format("{}x{}/{}", c.kernel_h, c.kernel_w, c.stride_h);
      entry["weight_bytes"] = weight_bytes(c);
      entry["engine_kernel"] = kernels[i];
      total_weight_bytes += weight_bytes(c);
    }
    ops.push_back(entry);
  }
  return {
      {"file", path},
      {"file_bytes", model.file_bytes()},
      {"weight_bytes", total_weight_bytes},
      {"producer", model.producer()},
      {"input", shape_text(model.input_info())},
      {"classes", model.classes()},
      {"kernel_path", infer::to_string(engine.kernel_path())},
      {"ops", ops}};
}

void print_packed_model_info(const nlohmann::json& info) {
  const auto& p = info["producer"];
  std::cout << info["file"].get<std::string>() << ": " << p.value("model", std::string("?")) << " ("
            << p.value("quantization", std::string("?")) << "), input "
            << info["input"].get<std::string>() << ", " << info["classes"] << " classes\n"
            << "  file " << info["file_bytes"] << " bytes, weights " << info["weight_bytes"]
            << " bytes; kernel path " << info["kernel_path"].get<std::string>() << "\n";
  for (const auto& op : info["ops"]) {
    std::cout << fmt::format(
        "  {:<18} {:<26} {:<14}",
        op["op"].get<std::string>(),
        op["name"].get<std::string>(),
        op["output"].get<std::string>());
    if (op.contains("bits")) {
      std::cout << fmt::format(
          " {:<6} {:<6} {:>9} B  {}",
          op["bits"].get<std::string>(),
          op["kernel"].get<std::string>(),
          op["weight_bytes"].get<int64_t>(),
          op["engine_kernel"].get<std::string>());
    }
    std::cout << "\n";
  }
}

}  // namespace ewgs::cli
