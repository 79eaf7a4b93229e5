// A method spec such as "ewgs:bits=2,delta=1e-3": a registered name plus typed
// key=value arguments, parsed once and checked so a typo is an error, not a default.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ewgs {

/// A parsed "name:key=value,key=value" spec.
///
/// Every getter marks its key as used; `check_all_used()` then rejects keys that
/// no getter asked for, naming them with a suggestion.
///
/// Example:
///   Spec s = Spec::parse("ewgs:bits=2,delta=1e-3");
///   int64_t bits = s.get_int("bits", 4);      // 2
///   double delta = s.get_double("delta", 0);  // 0.001
///   s.check_all_used();
class Spec {
 public:
  Spec() = default;
  explicit Spec(std::string name) : name_(std::move(name)) {}

  /// Parses `text`; `context` names where it came from in error messages.
  static Spec parse(const std::string& text, const std::string& context = "spec");

  const std::string& name() const { return name_; }
  bool has(const std::string& key) const { return args_.count(key) != 0; }

  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;

  /// Sets or replaces an argument.
  Spec& set(const std::string& key, const std::string& value);

  /// Errors naming every given key that no getter has asked for.
  void check_all_used() const;

  /// Canonical text form: name, then keys in sorted order.
  std::string to_string() const;

 private:
  const std::string* lookup(const std::string& key) const;
  std::string where(const std::string& key) const;

  std::string name_;
  std::string context_ = "spec";
  std::map<std::string, std::string> args_;
  /// Keys some getter asked for, given or not: the keys this method takes.
  mutable std::map<std::string, bool> used_;
};

}  // namespace ewgs
