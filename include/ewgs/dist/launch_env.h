// Where this process stands in a multi-process run, read from the environment
// variables of PyTorch's launchers (torchrun, Slurm and Kubernetes wrappers set them).
#pragma once

#include <cstdint>
#include <string>

namespace ewgs::dist {

/// A process's rank and its rendezvous point. Without WORLD_SIZE the process
/// runs alone (rank 0 of 1) and nothing else is read.
struct LaunchEnv {
  /// RANK: this process among all of them, in [0, world_size).
  int64_t rank = 0;
  /// WORLD_SIZE: processes in the run, >= 1.
  int64_t world_size = 1;
  /// LOCAL_RANK: this process among those of its machine (default RANK).
  int64_t local_rank = 0;
  /// LOCAL_WORLD_SIZE: processes on this machine (default WORLD_SIZE: one machine).
  int64_t local_world_size = 1;
  /// MASTER_ADDR and MASTER_PORT: where rank 0 serves the rendezvous store.
  std::string master_addr;
  int64_t master_port = 0;

  /// Whether there is more than one process.
  bool distributed() const { return world_size > 1; }

  /// Reads the variables; a missing or malformed one is an error naming the
  /// variable, its value and what is expected.
  static LaunchEnv from_environment();
};

}  // namespace ewgs::dist
