// SIGINT/SIGTERM handling for training: the first signal asks the loop to finish
// its step, checkpoint and exit; one arriving during start-up stops it with a
// message instead of killing the process silently. Handlers are restored afterwards.
#pragma once

#include <csignal>
#include <stdexcept>
#include <string>

namespace ewgs::train {

/// A stop signal arrived before training began; nothing was trained.
class StopRequested : public std::runtime_error {
 public:
  StopRequested(int signal, const std::string& stage);
  int signal() const { return signal_; }

 private:
  int signal_;
};

/// Installs SIGINT and SIGTERM handlers for its lifetime; the previous ones
/// come back on destruction. Guards nest: the outermost one forgets any
/// earlier signal when it is installed, inner ones keep what arrived.
class StopSignalGuard {
 public:
  /// `install` false makes a guard that changes nothing.
  explicit StopSignalGuard(bool install = true);
  ~StopSignalGuard();
  StopSignalGuard(const StopSignalGuard&) = delete;
  StopSignalGuard& operator=(const StopSignalGuard&) = delete;

  /// The signal received (SIGINT or SIGTERM), or 0.
  static int received();
  /// Throws StopRequested when a signal has arrived; `stage` says what
  /// start-up was doing ("loading data").
  static void throw_if_received(const std::string& stage);
  /// Forgets a received signal (tests).
  static void reset();
  /// Behaves as if `signal` had arrived (tests).
  static void raise_for_test(int signal);

 private:
  bool installed_;
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
};

}  // namespace ewgs::train
