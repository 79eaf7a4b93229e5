// Turns the --section.key=value arguments of train/eval/hessian into overrides.
#include <c10/util/Exception.h>

#include "commands.h"

namespace ewgs::cli {

std::vector<std::string> collect_overrides(const std::vector<std::string>& extras) {
  std::vector<std::string> out;
  for (size_t i = 0; i < extras.size(); ++i) {
    const std::string& arg = extras[i];
    TORCH_CHECK(
        arg.rfind("--", 0) == 0 && arg.find('.') != std::string::npos,
        "unexpected argument '",
        arg,
        "'; config overrides look like --section.key=value (e.g. --train.epochs=3)");
    std::string body = arg.substr(2);
    if (body.find('=') == std::string::npos) {
      TORCH_CHECK(
          i + 1 < extras.size(), "override '", arg, "' has no value; write ", arg, "=VALUE");
      body += "=" + extras[++i];
    }
    out.push_back(body);
  }
  return out;
}

int& exit_status() {
  static int status = 0;
  return status;
}

}  // namespace ewgs::cli
