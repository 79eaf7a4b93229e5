// The one exception type of the inference engine, which has no LibTorch and so no
// c10::Error: every failure names the file, operation or field and what was expected.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace ewgs::infer {

/// Thrown for damaged or unsupported model files and for bad engine input.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

}  // namespace detail

/// Throws Error with the arguments streamed together when `condition` is false.
#define EWGS_INFER_CHECK(condition, ...)                                      \
  do {                                                                        \
    if (!(condition)) {                                                       \
      throw ::ewgs::infer::Error(::ewgs::infer::detail::concat(__VA_ARGS__)); \
    }                                                                         \
  } while (false)

}  // namespace ewgs::infer
