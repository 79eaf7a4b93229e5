// Looks quantizers up by spec text ("ewgs:bits=1,delta=1e-3"); every method is
// one line in quantizers.def, so a static library cannot drop one.
#pragma once

#include <functional>
#include <string>

#include "ewgs/core/registry.h"
#include "ewgs/core/spec.h"
#include "ewgs/quant/quantizer.h"

namespace ewgs::quant {

/// Builds a quantizer from a parsed spec for the given target. Factories
/// read their keys from the spec; unknown keys are rejected afterwards.
using QuantizerFactory = std::function<QuantizerPtr(const Spec&, QuantTarget)>;

/// The registry of all quantization methods.
const Registry<QuantizerFactory>& quantizer_registry();

/// Whether `spec_text` asks for no quantization: "off", "fp", or bits=32.
bool is_off(const std::string& spec_text);

/// Builds the quantizer described by `spec_text`, or nullptr when it is off.
///
/// Example:
///   auto q = make_quantizer("ewgs:bits=2,delta=1e-3", QuantTarget::kWeight);
QuantizerPtr make_quantizer(const std::string& spec_text, QuantTarget target);

/// Default bit-width when a spec names no "bits".
constexpr int64_t kDefaultBits = 4;

}  // namespace ewgs::quant
