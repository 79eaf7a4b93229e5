// The spread of a half-normal distribution, by which quantizers set an activation
// interval from the standard deviation of non-negative (post-ReLU) inputs.
#pragma once

#include <cmath>

namespace ewgs::detail {

/// A half-normal |N(0, s^2)| has standard deviation s sqrt(1 - 2/pi).
inline const double kHalfNormalStdFactor = std::sqrt(1.0 - 2.0 / M_PI);

}  // namespace ewgs::detail
