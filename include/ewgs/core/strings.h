// Small string helpers shared by error messages and parsers: joining, trimming,
// and "did you mean" suggestions for near-miss names.
#pragma once

#include <string>
#include <vector>

namespace ewgs {

/// Joins `parts` with `sep` in between.
std::string join(const std::vector<std::string>& parts, const std::string& sep);

/// `text` without leading and trailing whitespace.
std::string trim(const std::string& text);

/// Whether `text` ends with `suffix`.
bool ends_with(const std::string& text, const std::string& suffix);

/// Splits `text` at every `sep`, keeping empty pieces.
std::vector<std::string> split(const std::string& text, char sep);

/// "NaN", "Inf" or "-Inf" for a non-finite `value` (whatever the sign of a
/// NaN), else the value as printf's %g writes it: for messages.
std::string number_text(double value);

/// Byte offset of the first byte of `text` that does not belong to a
/// well-formed UTF-8 sequence (overlong forms, surrogates and code points past
/// U+10FFFF included), or std::string::npos when all of `text` is UTF-8.
size_t invalid_utf8_offset(const std::string& text);

/// Levenshtein distance between `a` and `b`.
size_t edit_distance(const std::string& a, const std::string& b);

/// "; did you mean 'x'?" for the closest candidate within a small edit
/// distance of `name`, or an empty string when none is close.
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace ewgs
