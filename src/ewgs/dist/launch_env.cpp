// Launcher environment variables (include/ewgs/dist/launch_env.h).
#include "ewgs/dist/launch_env.h"

#include <c10/util/Exception.h>

#include <cerrno>
#include <cstdlib>
#include <optional>

namespace ewgs::dist {
namespace {

std::optional<std::string> variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) {
    return std::nullopt;
  }
  return std::string(value);
}

/// The integer value of `name` in [lo, hi], or `fallback` when it is unset.
int64_t integer(
    const char* name,
    int64_t lo,
    int64_t hi,
    const std::string& range,
    std::optional<int64_t> fallback) {
  const auto text = variable(name);
  if (!text) {
    TORCH_CHECK(
        fallback.has_value(),
        "environment variable ",
        name,
        " is not set; a multi-process run (WORLD_SIZE set) needs ",
        name,
        " ",
        range);
    return *fallback;
  }
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text->c_str(), &end, 10);
  TORCH_CHECK(
      errno == 0 && !text->empty() && *end == '\0' && value >= lo && value <= hi,
      "environment variable ",
      name,
      " must be an integer ",
      range,
      ", got '",
      *text,
      "'");
  return value;
}

}  // namespace

LaunchEnv LaunchEnv::from_environment() {
  LaunchEnv env;
  if (!variable("WORLD_SIZE")) {
    return env;
  }
  constexpr int64_t kMaxRanks = 1 << 20;
  env.world_size = integer("WORLD_SIZE", 1, kMaxRanks, "in [1, 1048576]", std::nullopt);
  const std::string rank_range =
      "in [0, WORLD_SIZE - 1 = " + std::to_string(env.world_size - 1) + "]";
  env.rank = integer("RANK", 0, env.world_size - 1, rank_range, std::nullopt);
  env.local_world_size = integer(
      "LOCAL_WORLD_SIZE",
      1,
      env.world_size,
      "in [1, WORLD_SIZE = " + std::to_string(env.world_size) + "]",
      env.world_size);
  env.local_rank = integer(
      "LOCAL_RANK",
      0,
      env.local_world_size - 1,
      "in [0, LOCAL_WORLD_SIZE - 1 = " + std::to_string(env.local_world_size - 1) + "]",
      env.local_world_size == env.world_size ? std::optional<int64_t>(env.rank) : std::nullopt);
  if (!env.distributed()) {
    return env;
  }
  const auto addr = variable("MASTER_ADDR");
  TORCH_CHECK(
      addr && !addr->empty(),
      "environment variable MASTER_ADDR is not set; a run of WORLD_SIZE = ",
      env.world_size,
      " processes needs the host name or address of rank 0");
  env.master_addr = *addr;
  env.master_port = integer("MASTER_PORT", 1, 65535, "in [1, 65535]", std::nullopt);
  return env;
}

}  // namespace ewgs::dist
