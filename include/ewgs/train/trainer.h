// Runs the paper's training protocol from a config: model and quantizer optimizers,
// per-epoch schedules, evaluation, Hessian delta updates, metrics, and checkpoints
// from which a stopped run continues exactly.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "ewgs/train/train_config.h"
#include "ewgs/train/write_observer.h"

namespace ewgs::train {

/// How a run ended.
struct TrainResult {
  /// "completed", "interrupted" (signal; resumable) or "failed" (diverged).
  std::string status;
  std::string message;
  int64_t epochs_done = 0;
  double final_top1 = -1.0;
  double final_top5 = -1.0;
  double best_top1 = -1.0;
  double wall_s = 0.0;

  nlohmann::json to_json() const;
};

struct TrainerOptions {
  /// JSON lines instead of a progress bar (also when stdout is not a tty).
  bool json = false;
  /// Where progress goes (default std::cout).
  std::ostream* out = nullptr;
  /// Called after every optimizer step with the global step count (progress
  /// observers; tests use it to stop a run at a chosen step).
  std::function<void(int64_t global_step)> on_step;
  /// Called as each start-up stage begins ("loading data", ...); a stop
  /// signal that has arrived by the end of a stage ends start-up.
  std::function<void(const std::string& stage)> on_startup;
  /// Told of every step of every write in the run directory (tests stop
  /// the process at each one).
  WriteObserver on_write;
  /// SIGINT and SIGTERM handlers are installed while the trainer lives: a signal
  /// makes the run finish its step, checkpoint and return "interrupted". False
  /// leaves the process's handlers alone (programs that handle signals themselves).
  bool handle_stop_signals = true;
};

/// A training run in a run directory (run_directory.h):
///   config.toml    the resolved config
///   last.pt        checkpoint after the latest epoch (or interruption)
///   best.pt        checkpoint of the best test top-1
///   metrics.jsonl  one JSON object per epoch (and per delta update)
///   summary.json   the TrainResult and headline numbers, when the run ends
/// A non-finite loss, test loss or model tensor stops the run without
/// writing: every checkpoint holds a finite model. A stop signal during
/// start-up throws a std::runtime_error that says so; a new run's folder that
/// this process created is removed when start-up fails.
class Trainer {
 public:
  /// A new run of `config` in `run_dir`, which must not hold a run already;
  /// an invalid config is an error before any folder is created.
  Trainer(TrainConfig config, std::string run_dir, TrainerOptions options);
  /// Continues the run in `run_dir` from last.pt; `overrides` may change
  /// settings that do not alter the model (e.g. train.epochs to extend it).
  static std::unique_ptr<Trainer> resume(
      const std::string& run_dir,
      const std::vector<std::string>& overrides,
      TrainerOptions options);
  ~Trainer();

  /// Trains until the last epoch, a stop signal or a non-finite loss.
  TrainResult run();

  const TrainConfig& config() const;

 private:
  struct Impl;
  explicit Trainer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ewgs::train
