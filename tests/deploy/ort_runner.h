// Runs exported ONNX models in ONNX Runtime through tests/deploy/ort_run.js (npm's
// onnxruntime-node under Node.js) and reads back every graph output.
#pragma once

#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

namespace ewgs::test {

/// Why ONNX Runtime cannot run here (node missing, onnxruntime-node not
/// installed), with what to do about it; empty when it can.
std::string ort_unavailable_reason();

/// Graph outputs by optimization level ("disabled", "all") and output name:
/// float32 outputs as kFloat, uint8 ones as kByte, shaped as ONNX Runtime gives them.
using OrtOutputs = std::map<std::string, std::map<std::string, torch::Tensor>>;

/// Runs the serialized model `model_bytes` on `images` (N, C, H, W) once per
/// optimization level, with one intra-op thread.
OrtOutputs run_ort(
    const std::string& model_bytes,
    const torch::Tensor& images,
    const std::vector<std::string>& levels);

/// `model_bytes` with the uint8 input codes of `layers` added as graph outputs.
std::string with_input_code_outputs(
    const std::string& model_bytes, const std::vector<std::string>& layers);

}  // namespace ewgs::test
