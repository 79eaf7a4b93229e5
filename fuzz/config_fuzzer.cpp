// libFuzzer target: TOML configs and --section.key=value overrides. The input is
// TOML text, then override lines after a line "--"; a config that validates must
// survive its own round trip through to_toml().
#include <c10/util/Exception.h>

#include <sstream>
#include <string>

#include "ewgs/train/train_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find("\n--\n");
  const std::string toml = input.substr(0, split);
  ewgs::train::TrainConfig config;
  try {
    config.apply_text(toml, "input");
    if (split != std::string::npos) {
      std::istringstream overrides(input.substr(split + 4));
      for (std::string line; std::getline(overrides, line);) {
        config.apply_override(line);
      }
    }
    config.validate();
    config.quant_spec();
  } catch (const c10::Error&) {
    return 0;
  }
  const std::string text = config.to_toml();
  const auto again = ewgs::train::TrainConfig::from_toml(text, "round trip");
  if (again.to_toml() != text) {
    __builtin_trap();  // the config file ewgs writes must read back as the same config
  }
  return 0;
}
