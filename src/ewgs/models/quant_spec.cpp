// QuantSpec helpers (include/ewgs/models/quant_spec.h).
#include "ewgs/models/quant_spec.h"

#include "ewgs/core/spec.h"
#include "ewgs/quant/registry.h"

namespace ewgs::models {
namespace {

std::string bits_label(const std::string& spec) {
  if (quant::is_off(spec)) {
    return "32";
  }
  return std::to_string(Spec::parse(spec).get_int("bits", quant::kDefaultBits));
}

}  // namespace

bool QuantSpec::enabled() const {
  return !quant::is_off(weight) || !quant::is_off(act) || !quant::is_off(grad);
}

nn::QConv2dOptions QuantSpec::conv(int64_t in, int64_t out, int64_t kernel) const {
  return nn::QConv2dOptions(in, out, kernel).weight_quant(weight).act_quant(act).grad_quant(grad);
}

nn::QConv2dOptions QuantSpec::first_conv(int64_t in, int64_t out, int64_t kernel) const {
  return quantize_first_last
             ? conv(in, out, kernel)
             : nn::QConv2dOptions(in, out, kernel).weight_quant("off").act_quant("off");
}

nn::QLinearOptions QuantSpec::classifier(int64_t in, int64_t out) const {
  auto options = nn::QLinearOptions(in, out).bias(true);
  return quantize_first_last ? options.weight_quant(weight).act_quant(act).grad_quant(grad)
                             : options.weight_quant("off").act_quant("off");
}

std::string QuantSpec::describe() const {
  if (!enabled()) {
    return "FP";
  }
  // The methods of the quantized operands, "dorefa/pact" when they differ.
  std::string method;
  for (const auto* spec : {&weight, &act, &grad}) {
    if (quant::is_off(*spec)) {
      continue;
    }
    const auto name = Spec::parse(*spec).name();
    if (method.empty()) {
      method = name;
    } else if (spec != &grad && method.find(name) == std::string::npos) {
      method += "/" + name;
    }
  }
  return "W" + bits_label(weight) + "A" + bits_label(act) +
         (quant::is_off(grad) ? "" : "G" + bits_label(grad)) + " " + method +
         (quantize_first_last ? " (all layers)" : "");
}

}  // namespace ewgs::models
