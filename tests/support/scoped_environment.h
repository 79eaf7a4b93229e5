// Sets environment variables for the length of a test and restores them after,
// for code that reads its settings from the environment (launchers, data folder).
#pragma once

#include <cstdlib>
#include <map>
#include <optional>
#include <string>

namespace ewgs::test {

/// Each variable set to its value (std::nullopt: unset) until destruction.
class ScopedEnvironment {
 public:
  explicit ScopedEnvironment(const std::map<std::string, std::optional<std::string>>& values) {
    for (const auto& [name, value] : values) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
      set(name, value);
    }
  }
  ScopedEnvironment(const std::string& name, const std::optional<std::string>& value)
      : ScopedEnvironment(std::map<std::string, std::optional<std::string>>{{name, value}}) {}
  ~ScopedEnvironment() {
    for (const auto& [name, value] : saved_) {
      set(name, value);
    }
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  static void set(const std::string& name, const std::optional<std::string>& value) {
    if (value) {
      ::setenv(name.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

}  // namespace ewgs::test
