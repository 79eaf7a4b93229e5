// A layer's quantizers as ONNX operators in the QCDQ layout: activations through
// QuantizeLinear -> Clip -> DequantizeLinear with uint8 codes, weights as integer
// initializers through DequantizeLinear.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ewgs/quant/integer_grid.h"
#include "onnx_graph.h"

namespace ewgs::deploy {

/// Emits the eval-mode activation quantizer `grid` of layer `layer` on the float
/// tensor `x`; its codes are the uint8 tensor onnx_input_codes_name(layer). Returns
/// the float tensor of their values scale (gain code - zero) + offset.
std::string emit_activation_quantizer(
    OnnxGraph& g,
    const std::string& layer,
    const std::string& x,
    const quant::ActivationGrid& grid);

/// Emits `scale` times the quantized weights `grid` of layer `layer`: the integers
/// gain code - zero as an int8 initializer (int32 when they leave [-128, 127]) of
/// shape `shape`, through DequantizeLinear. Returns the float weight tensor.
std::string emit_weight_dequantizer(
    OnnxGraph& g,
    const std::string& layer,
    const quant::WeightGrid& grid,
    const std::vector<int64_t>& shape,
    double scale);

}  // namespace ewgs::deploy
