// The data folder and its placeholder (include/ewgs/core/data_dir.h).
#include "ewgs/core/data_dir.h"

#include <c10/util/Exception.h>

#include <cstdlib>

#include "ewgs/data_dir_default.h"

namespace ewgs {

std::string data_dir() {
  const char* dir = std::getenv("EWGS_DATA_DIR");
  return dir != nullptr && *dir != '\0' ? dir : EWGS_DEFAULT_DATA_DIR;
}

std::string expand_data_dir(const std::string& value, const std::string& what) {
  const std::string placeholder = "${EWGS_DATA_DIR}";
  std::string out;
  size_t from = 0;
  for (size_t open; (open = value.find("${", from)) != std::string::npos;) {
    const size_t close = value.find('}', open);
    TORCH_CHECK(
        close != std::string::npos,
        what,
        ": '",
        value,
        "' opens '${' at offset ",
        open,
        " and never closes it; the one placeholder is ",
        placeholder);
    const std::string name = value.substr(open, close + 1 - open);
    TORCH_CHECK(
        name == placeholder,
        what,
        ": unknown placeholder ",
        name,
        " in '",
        value,
        "'; the one placeholder is ",
        placeholder,
        " (the data folder, now ",
        data_dir(),
        ")");
    out += value.substr(from, open - from) + data_dir();
    from = close + 1;
  }
  return out + value.substr(from);
}

}  // namespace ewgs
