// What a run prints: a redrawn progress bar (loss, accuracy, images/s, ETA) on a
// terminal, or one JSON object per epoch when --json is given or stdout is not a tty.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace ewgs::train {

class ProgressReporter {
 public:
  enum class Mode { kTerminal, kJsonLines };

  /// kJsonLines when `json` or when `out` is stdout and stdout is not a tty.
  static Mode choose_mode(bool json);

  ProgressReporter(Mode mode, std::ostream& out) : mode_(mode), out_(out) {}

  Mode mode() const { return mode_; }

  /// Starts the bar of `epoch` (0-based) with `batches` steps.
  void begin_epoch(int64_t epoch, int64_t epochs, int64_t batches);
  /// After `done` steps: running loss and accuracy of the epoch, and the
  /// images processed since begin_epoch().
  void step(int64_t done, double loss, double top1_percent, int64_t images);
  /// Ends the epoch: a summary line on a terminal, `record` as JSON otherwise.
  void end_epoch(const nlohmann::json& record);
  /// A line for the user (terminal) or {"event": ..., "message": ...} (JSON).
  void message(const std::string& event, const std::string& text);

 private:
  Mode mode_;
  std::ostream& out_;
  int64_t epoch_ = 0;
  int64_t epochs_ = 0;
  int64_t batches_ = 0;
  int64_t images_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace ewgs::train
