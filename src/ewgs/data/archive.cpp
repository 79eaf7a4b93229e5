// Extract-once helper for data archives (include/ewgs/data/archive.h).
#include "ewgs/data/archive.h"

#include <c10/util/Exception.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

namespace ewgs::data {
namespace fs = std::filesystem;
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

/// `text` in single quotes for /bin/sh.
std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

}  // namespace

std::string default_cache_dir() {
  if (!env("EWGS_CACHE_DIR").empty()) {
    return env("EWGS_CACHE_DIR");
  }
  if (!env("XDG_CACHE_HOME").empty()) {
    return env("XDG_CACHE_HOME") + "/ewgs";
  }
  if (!env("HOME").empty()) {
    return env("HOME") + "/.cache/ewgs";
  }
  return "/tmp/ewgs-cache";
}

std::string extract_once(
    const std::string& archive, const std::string& folder, const std::string& cache_dir) {
  const fs::path target = fs::path(cache_dir) / folder;
  std::error_code ec;
  if (fs::is_directory(target, ec)) {
    return target.string();
  }
  TORCH_CHECK(fs::is_regular_file(archive, ec), "archive '", archive, "' does not exist");
  fs::create_directories(cache_dir, ec);
  TORCH_CHECK(!ec, "cannot create cache folder '", cache_dir, "': ", ec.message());
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  const fs::path scratch =
      fs::path(cache_dir) /
      (".extract-" + folder + "-" + std::to_string(::getpid()) + "-" + std::to_string(stamp));
  fs::create_directories(scratch, ec);
  TORCH_CHECK(!ec, "cannot create folder '", scratch.string(), "': ", ec.message());
  const std::string command =
      "tar xf " + shell_quote(archive) + " -C " + shell_quote(scratch.string());
  const int status = std::system(command.c_str());
  const int code = status == -1 ? -1 : (WIFEXITED(status) ? WEXITSTATUS(status) : 128);
  if (code != 0) {
    fs::remove_all(scratch, ec);
    TORCH_CHECK(
        false,
        "extracting '",
        archive,
        "' into '",
        cache_dir,
        "' failed: '",
        command,
        "' exited with status ",
        code);
  }
  const fs::path extracted = scratch / folder;
  if (!fs::is_directory(extracted, ec)) {
    fs::remove_all(scratch, ec);
    TORCH_CHECK(false, "archive '", archive, "' has no top folder '", folder, "'");
  }
  fs::rename(extracted, target, ec);
  const std::string rename_error = ec.message();
  std::error_code exists_ec;
  // A failed rename is fine when another process placed the folder first.
  const bool placed = !ec || fs::is_directory(target, exists_ec);
  fs::remove_all(scratch, ec);
  TORCH_CHECK(
      placed, "cannot move '", extracted.string(), "' to '", target.string(), "': ", rename_error);
  return target.string();
}

}  // namespace ewgs::data
