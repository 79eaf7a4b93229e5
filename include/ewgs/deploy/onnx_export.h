// Export of a trained model to a standard ONNX graph that ONNX Runtime runs: every
// quantized tensor as QuantizeLinear / Clip / DequantizeLinear (QCDQ), so sub-8-bit
// codes live in int8/uint8 tensors, around the float operations of the model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ewgs/models/classifier.h"

namespace ewgs::deploy {

struct OnnxExportOptions {
  /// Input image shape {channels, height, width}; the batch dimension is dynamic.
  std::vector<int64_t> input_shape;
  /// Opset of the default domain.
  int64_t opset = 13;
  /// Recorded as the model's doc_string (the producer is "ewgs" and its version).
  std::string description;
};

/// The serialized ModelProto of `model` (put in eval mode), checked by ONNX's
/// checker. Unsupported layers are an error naming the layer and the reason.
std::string export_onnx_bytes(models::ClassifierImpl& model, const OnnxExportOptions& options);

/// Name of the uint8 tensor of a quantized layer's input codes in the graph,
/// "<layer>.input_codes" (e.g. "layer1.0.conv1.input_codes").
std::string onnx_input_codes_name(const std::string& layer);

/// Writes export_onnx_bytes() to `path` (through a temporary file).
void export_onnx(
    models::ClassifierImpl& model, const OnnxExportOptions& options, const std::string& path);

}  // namespace ewgs::deploy
