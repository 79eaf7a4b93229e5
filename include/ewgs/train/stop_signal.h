// SIGINT/SIGTERM handling for training: the first signal asks the loop to finish
// its step, checkpoint and exit; the handlers are restored afterwards.
#pragma once

namespace ewgs::train {

/// Installs SIGINT and SIGTERM handlers for its lifetime; the previous ones
/// come back on destruction.
class StopSignalGuard {
 public:
  StopSignalGuard();
  ~StopSignalGuard();
  StopSignalGuard(const StopSignalGuard&) = delete;
  StopSignalGuard& operator=(const StopSignalGuard&) = delete;

  /// The signal received (SIGINT or SIGTERM), or 0.
  static int received();
  /// Forgets a received signal (tests).
  static void reset();
  /// Behaves as if `signal` had arrived (tests).
  static void raise_for_test(int signal);
};

} // namespace ewgs::train
