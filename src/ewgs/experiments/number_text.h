// How reports write a number: fixed digits, and "-" for a value that does not
// exist (NaN), as in a table cell with no interval.
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <string>

namespace ewgs::experiments {

/// `value` with `digits` digits after the point, or "-" when it is NaN.
inline std::string number_text(double value, int digits = 2) {
  return std::isnan(value) ? "-" : fmt::format("{:.{}f}", value, digits);
}

}  // namespace ewgs::experiments
