// libFuzzer target: quantizer spec strings ("ewgs:bits=2,delta=1e-3"). Each one
// builds a weight, activation and gradient quantizer or fails with a c10::Error;
// a quantizer's own spec() must rebuild the same quantizer, and it must quantize.
#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <string>

#include "ewgs/core/spec.h"
#include "ewgs/quant/registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto spec = ewgs::Spec::parse(text, "input");
    ewgs::Spec::parse(spec.to_string(), "canonical");
  } catch (const c10::Error&) {
  }
  static const torch::Tensor input = torch::linspace(-2, 2, 24).reshape({2, 3, 4});
  for (const auto target :
       {ewgs::quant::QuantTarget::kWeight,
        ewgs::quant::QuantTarget::kActivation,
        ewgs::quant::QuantTarget::kGradient}) {
    ewgs::quant::QuantizerPtr q;
    try {
      q = ewgs::quant::make_quantizer(text, target);
    } catch (const c10::Error&) {
      continue;
    }
    if (!q) {
      continue;  // "off"
    }
    const auto again = ewgs::quant::make_quantizer(q->spec(), target);
    if (!again || again->spec() != q->spec()) {
      __builtin_trap();  // spec() must name the quantizer it came from
    }
    try {
      q->forward(input.clone().requires_grad_(true)).sum().backward();
    } catch (const c10::Error&) {
    }
  }
  return 0;
}
