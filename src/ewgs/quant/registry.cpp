// The quantizer registry, filled from quantizers.def, and spec-text entry points.
#include "ewgs/quant/registry.h"

#include <c10/util/Exception.h>

namespace ewgs::quant {

#define EWGS_QUANTIZER(name, factory, description) \
  QuantizerPtr factory(const Spec& spec, QuantTarget target);
#include "quantizers.def"
#undef EWGS_QUANTIZER

const Registry<QuantizerFactory>& quantizer_registry() {
  static const Registry<QuantizerFactory> registry = [] {
    Registry<QuantizerFactory> r("quantizer");
#define EWGS_QUANTIZER(name, factory, description) r.add(name, description, factory);
#include "quantizers.def"
#undef EWGS_QUANTIZER
    return r;
  }();
  return registry;
}

bool is_off(const std::string& spec_text) {
  const Spec spec = Spec::parse(spec_text, "quantizer spec");
  if (spec.name() == "off" || spec.name() == "fp") {
    return true;
  }
  return spec.get_int("bits", kDefaultBits) == kBitsOff;
}

QuantizerPtr make_quantizer(const std::string& spec_text, QuantTarget target) {
  if (is_off(spec_text)) {
    return nullptr;
  }
  const Spec spec = Spec::parse(spec_text, "quantizer spec");
  const auto& entry = quantizer_registry().get(spec.name());
  QuantizerPtr quantizer = entry.factory(spec, target);
  spec.check_all_used();
  return quantizer;
}

}  // namespace ewgs::quant
