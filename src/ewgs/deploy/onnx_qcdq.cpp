// Quantizers as QuantizeLinear / Clip / DequantizeLinear operators (onnx_qcdq.h).
#include "onnx_qcdq.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include "ewgs/deploy/onnx_export.h"

namespace ewgs::deploy {
namespace {

using quant::ActivationGrid;

/// Largest code of a uint8 tensor.
constexpr int64_t kMaxCode = 255;

torch::Tensor u8_scalar(int64_t value) {
  return torch::tensor(static_cast<uint8_t>(value), torch::kByte);
}

/// Codes of an affine grid: R(clamp(x in_scale + in_shift, 0, levels - 1)).
std::string emit_affine_codes(
    OnnxGraph& g, const std::string& layer, const std::string& x, const ActivationGrid& grid) {
  const std::string p = layer + ".input";
  std::string t = x;
  if (grid.in_shift != 0.0) {
    // x + in_shift / in_scale: the interval's lower end (or LSQ+'s offset) taken off.
    const auto shift = torch::tensor(static_cast<float>(grid.in_shift / grid.in_scale));
    t = g.node("Add", {t, g.constant(p + "_shift", shift)}, p + "_shifted");
  }
  const int64_t top = grid.values.levels - 1;
  TORCH_CHECK(
      top >= 1 && top <= kMaxCode,
      "an activation grid of ",
      grid.values.levels,
      " levels; uint8 codes hold 2 to 256 levels");
  // With 256 levels the saturation of QuantizeLinear is the whole clamp.
  const auto saturated = top == kMaxCode ? onnx_input_codes_name(layer) : p + "_saturated";
  const auto zero_point = g.constant(p + "_zero_point", u8_scalar(0));
  std::string q;
  if (grid.half_down) {
    // DAQ rounds half down: floor(t) + [frac(t) > 1/2] = ceil(t - 1/2), exact in
    // float32 (t - 1/2 is exact for t >= 1/4; smaller t give ceil = 0 either way).
    // QuantizeLinear with scale 1 then only casts the integer to uint8, saturating.
    t = g.node(
        "Mul",
        {t, g.constant(p + "_in_scale", torch::tensor(static_cast<float>(grid.in_scale)))},
        p + "_scaled");
    t = g.node("Sub", {t, g.shared_scalar("const.half", 0.5f)}, p + "_minus_half");
    t = g.node("Ceil", {t}, p + "_rounded");
    q = g.node("QuantizeLinear", {t, g.shared_scalar("const.one", 1.0f), zero_point}, saturated);
  } else {
    // round(x' / step) half to even, saturated to [0, 255].
    const auto step = torch::tensor(static_cast<float>(1.0 / grid.in_scale));
    q = g.node("QuantizeLinear", {t, g.constant(p + "_step", step), zero_point}, saturated);
  }
  if (top == kMaxCode) {
    return q;
  }
  // Saturation clamps at 0; rounding and clamping to integers commute, so
  // clamping the codes at levels - 1 equals clamping x first as the model does.
  return g.node(
      "Clip",
      {q, zero_point, g.constant(p + "_top", u8_scalar(top))},
      onnx_input_codes_name(layer));
}

/// Codes of a threshold grid: the number of thresholds x reaches.
std::string emit_threshold_codes(
    OnnxGraph& g, const std::string& layer, const std::string& x, const ActivationGrid& grid) {
  const std::string p = layer + ".input";
  std::vector<std::string> steps;
  for (size_t k = 0; k < grid.thresholds.size(); ++k) {
    const auto name = p + "_threshold" + std::to_string(k);
    const auto threshold = g.constant(name, torch::tensor(static_cast<float>(grid.thresholds[k])));
    const auto reached =
        g.node(grid.inclusive[k] ? "GreaterOrEqual" : "Greater", {x, threshold}, name + "_reached");
    steps.push_back(
        g.node("Cast", {reached}, name + "_step", {int_attribute("to", onnx::TensorProto::FLOAT)}));
  }
  const auto count = g.node("Sum", steps, p + "_count");
  // The count is a whole number in [0, levels - 1]: scale 1 casts it to uint8.
  return g.node(
      "QuantizeLinear",
      {count, g.shared_scalar("const.one", 1.0f), g.constant(p + "_zero_point", u8_scalar(0))},
      onnx_input_codes_name(layer));
}

}  // namespace

std::string emit_activation_quantizer(
    OnnxGraph& g,
    const std::string& layer,
    const std::string& x,
    const quant::ActivationGrid& grid) {
  const auto codes = grid.kind == ActivationGrid::Kind::kThresholds
                         ? emit_threshold_codes(g, layer, x, grid)
                         : emit_affine_codes(g, layer, x, grid);
  // scale (gain code - zero) + offset = (scale gain) (code - zero / gain) + offset,
  // with zero / gain as DequantizeLinear's zero point when it is a whole code.
  const auto& v = grid.values;
  const bool whole = v.zero % v.gain == 0 && v.zero / v.gain <= kMaxCode;
  const std::string p = layer + ".input";
  const auto value_scale = torch::tensor(static_cast<float>(v.scale * static_cast<double>(v.gain)));
  const auto values = g.node(
      "DequantizeLinear",
      {codes,
       g.constant(p + "_value_scale", value_scale),
       g.constant(p + "_value_zero", u8_scalar(whole ? v.zero / v.gain : 0))},
      p + "_values");
  const double add = v.offset - (whole ? 0.0 : v.scale * static_cast<double>(v.zero));
  if (add == 0.0) {
    return values;
  }
  return g.node(
      "Add",
      {values, g.constant(p + "_value_offset", torch::tensor(static_cast<float>(add)))},
      p + "_offset_values");
}

std::string emit_weight_dequantizer(
    OnnxGraph& g,
    const std::string& layer,
    const quant::WeightGrid& grid,
    const std::vector<int64_t>& shape,
    double scale) {
  const auto& v = grid.values;
  TORCH_CHECK(
      v.offset == 0.0,
      "a weight grid with an offset (",
      v.offset,
      "); ONNX export writes weights as a scale times integers only");
  const auto ints = (v.gain * grid.codes.to(torch::kLong) - v.zero).reshape(shape);
  const bool fits_int8 = ints.min().item<int64_t>() >= -128 && ints.max().item<int64_t>() <= 127;
  const auto stored =
      g.constant(layer + ".weight_ints", ints.to(fits_int8 ? torch::kChar : torch::kInt));
  const auto step = torch::tensor(static_cast<float>(scale * v.scale));
  return g.node(
      "DequantizeLinear",
      {stored, g.constant(layer + ".weight_step", step)},
      layer + ".weight_values");
}

}  // namespace ewgs::deploy
