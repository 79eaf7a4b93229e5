// Parsing and typed access for "name:key=value" method specs (include/ewgs/core/spec.h).
#include "ewgs/core/spec.h"

#include <c10/util/Exception.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "ewgs/core/strings.h"

namespace ewgs {

Spec Spec::parse(const std::string& text, const std::string& context) {
  Spec spec;
  spec.context_ = context;
  const std::string body = trim(text);
  const size_t colon = body.find(':');
  spec.name_ = trim(body.substr(0, colon));
  TORCH_CHECK(
      !spec.name_.empty(), context, ": expected 'name' or 'name:key=value,...', got '", text, "'");
  if (colon == std::string::npos) {
    return spec;
  }
  for (const auto& item : split(body.substr(colon + 1), ',')) {
    const std::string pair = trim(item);
    if (pair.empty()) {
      continue;
    }
    const size_t eq = pair.find('=');
    TORCH_CHECK(
        eq != std::string::npos && eq > 0,
        context,
        ": expected key=value in '",
        text,
        "', got '",
        pair,
        "'");
    const std::string key = trim(pair.substr(0, eq));
    TORCH_CHECK(
        spec.args_.count(key) == 0, context, ": key '", key, "' given twice in '", text, "'");
    spec.args_[key] = trim(pair.substr(eq + 1));
  }
  return spec;
}

const std::string* Spec::lookup(const std::string& key) const {
  used_[key] = true;
  auto it = args_.find(key);
  return it == args_.end() ? nullptr : &it->second;
}

std::string Spec::where(const std::string& key) const {
  return context_ + " '" + name_ + "': " + key;
}

int64_t Spec::get_int(const std::string& key, int64_t fallback) const {
  const std::string* v = lookup(key);
  if (v == nullptr) {
    return fallback;
  }
  char* end = nullptr;
  errno = 0;
  const long long parsed = std::strtoll(v->c_str(), &end, 10);
  TORCH_CHECK(
      errno == 0 && !v->empty() && *end == '\0', where(key), " must be an integer, got '", *v, "'");
  return parsed;
}

double Spec::get_double(const std::string& key, double fallback) const {
  const std::string* v = lookup(key);
  if (v == nullptr) {
    return fallback;
  }
  char* end = nullptr;
  errno = 0;
  const double parsed = std::strtod(v->c_str(), &end);
  TORCH_CHECK(
      errno == 0 && !v->empty() && *end == '\0', where(key), " must be a number, got '", *v, "'");
  // Quantizer parameters live in float32 tensors: a value float cannot hold would
  // otherwise fail later, inside LibTorch, without naming the key.
  TORCH_CHECK(
      std::isfinite(parsed) && std::fabs(parsed) <= std::numeric_limits<float>::max(),
      where(key),
      " must be a finite number within float range (|value| <= ",
      std::numeric_limits<float>::max(),
      "), got '",
      *v,
      "'");
  return parsed;
}

bool Spec::get_bool(const std::string& key, bool fallback) const {
  const std::string* v = lookup(key);
  if (v == nullptr) {
    return fallback;
  }
  if (*v == "true" || *v == "1") {
    return true;
  }
  if (*v == "false" || *v == "0") {
    return false;
  }
  TORCH_CHECK(false, where(key), " must be true or false, got '", *v, "'");
}

std::string Spec::get_string(const std::string& key, const std::string& fallback) const {
  const std::string* v = lookup(key);
  return v == nullptr ? fallback : *v;
}

Spec& Spec::set(const std::string& key, const std::string& value) {
  args_[key] = value;
  return *this;
}

void Spec::check_all_used() const {
  std::vector<std::string> known;
  for (const auto& kv : used_) {
    known.push_back(kv.first);
  }
  for (const auto& kv : args_) {
    TORCH_CHECK(
        used_.count(kv.first) != 0,
        context_,
        " '",
        name_,
        "' has no key '",
        kv.first,
        "'",
        did_you_mean(kv.first, known),
        known.empty() ? std::string("; it takes no keys") : "; it takes: " + join(known, ", "));
  }
}

std::string Spec::to_string() const {
  std::string out = name_;
  char sep = ':';
  for (const auto& kv : args_) {
    out += sep + kv.first + "=" + kv.second;
    sep = ',';
  }
  return out;
}

}  // namespace ewgs
