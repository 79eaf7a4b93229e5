// Runs a sweep: each cell is an ordinary `ewgs train` run directory inside the sweep
// folder, started as a child process (one at a time or N at once, the cores split
// between them). Finished cells are skipped and interrupted ones resumed, so a sweep
// killed at any moment continues where it stopped when started again.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "ewgs/experiments/sweep_plan.h"

namespace ewgs::experiments {

/// Where a cell stands in its folder.
enum class CellState {
  kNew,      ///< nothing trained: started from scratch
  kPartial,  ///< has last.pt: resumed from it
  kDone,     ///< summary.json says completed
  kFailed,   ///< summary.json says diverged or failed: a result, not rerun
};
const char* to_string(CellState state);

struct CellStatus {
  SweepCell cell;
  CellState state = CellState::kNew;
  /// Epochs the cell's last.pt (or summary) holds.
  int64_t epochs_done = 0;
  /// Epochs the cell's config asks for.
  int64_t epochs = 0;
  /// Estimated seconds to finish the cell; negative when nothing was measured.
  double remaining_s = -1.0;
};

struct SweepOptions {
  /// The `ewgs` program that trains each cell.
  std::string executable;
  /// Cells trained at once.
  int parallel = 1;
  /// Cores split between them (0: all of this machine's).
  int cores = 0;
  /// Progress lines.
  std::ostream* out = nullptr;
};

/// The cells of `plan` in `sweep_dir` with their state and, where measured epochs
/// of this sweep allow, the time left.
std::vector<CellStatus> inspect_sweep(const SweepPlan& plan, const std::string& sweep_dir);

/// Measures cells whose variant has no measured epoch yet: one short run of the
/// variant's first cell (a few batches and one evaluation) in a scratch folder.
/// Returns the statuses with estimates filled in.
std::vector<CellStatus> estimate_with_probes(
    const SweepPlan& plan, const std::string& sweep_dir, const SweepOptions& options);

/// Trains every cell not yet done. Returns 0 when all are done, 1 when a cell
/// failed (the others still ran), 130 when SIGINT/SIGTERM stopped it (the running
/// cells checkpoint and stop first). Another sweep running in `sweep_dir`, or one
/// made from another plan, is an error.
int run_sweep(const SweepPlan& plan, const std::string& sweep_dir, const SweepOptions& options);

/// The manifest `run_sweep` writes (sweep.json): plan, profile, baseline and cells.
/// Reports and figures read sweeps through it.
std::string manifest_path(const std::string& sweep_dir);

}  // namespace ewgs::experiments
