// The data folder and its placeholder (include/ewgs/core/data_dir.h).
#include "ewgs/core/data_dir.h"

#include <c10/util/Exception.h>

#include <cstdlib>

#include "ewgs/data_dir_default.h"

namespace ewgs {

namespace {

/// $EWGS_DATA_DIR when set and not empty, else null.
const char* data_dir_from_environment() {
  const char* dir = std::getenv("EWGS_DATA_DIR");
  return dir != nullptr && *dir != '\0' ? dir : nullptr;
}

}  // namespace

std::string data_dir() {
  const char* dir = data_dir_from_environment();
  return dir != nullptr ? dir : EWGS_DEFAULT_DATA_DIR;
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

std::string data_dir_note(const std::string& path) {
  const std::string dir = data_dir();
  if (dir.empty() || path.rfind(dir + "/", 0) != 0) {
    return "";
  }
  return "; it lies in the data folder ${EWGS_DATA_DIR} = " + dir +
         (data_dir_from_environment() != nullptr ? " (from the environment variable)"
                                                 : " (the build's default)") +
         ": set EWGS_DATA_DIR to the folder that holds the data";
}

}  // namespace ewgs
