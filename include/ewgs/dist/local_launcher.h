// `ewgs train --nproc N`: starts N ranks of a program on this machine with the
// variables a torchrun-style launcher would set, and keeps them together.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ewgs::dist {

struct LocalLaunch {
  /// The program and its arguments, run once per rank.
  std::vector<std::string> argv;
  /// Ranks to start (WORLD_SIZE = LOCAL_WORLD_SIZE).
  int64_t nproc = 2;
  /// Polled while the ranks run: true asks every rank to stop (SIGTERM).
  std::function<bool()> stop_requested;
  /// Seconds the others get to stop after one rank fails, before SIGKILL.
  double grace_s = 30.0;
};

/// Runs the ranks with RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE,
/// MASTER_ADDR = 127.0.0.1 and a free MASTER_PORT in their environment and
/// their output on this process's. When a rank fails the others get SIGTERM
/// (and SIGKILL after grace_s). Returns 0 when all succeed, else the exit
/// status of the first rank that failed (128 + signal when killed).
int run_local_ranks(const LocalLaunch& launch);

/// A TCP port on the loopback interface that nothing listens on now.
int free_loopback_port();

}  // namespace ewgs::dist
