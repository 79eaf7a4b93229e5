// The analysis `ewgs report` prints: runs grouped into cells (same config but for
// the seed), each cell's test top-1 over seeds with its 95 % interval, and every
// cell's paired difference against a baseline cell on the seeds both ran, with a
// verdict. Rendered as Markdown, CSV or JSON.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "ewgs/experiments/run_record.h"
#include "ewgs/experiments/statistics.h"

namespace ewgs::experiments {

/// Runs that differ only in their seed (and in settings that do not change
/// results: threads, loader workers).
struct RunGroup {
  std::string label;
  /// (seed, final test top-1) of the completed runs, by seed.
  std::vector<std::pair<int64_t, double>> final_top1;
  SeedSummary final_summary;
  SeedSummary best_summary;
  std::optional<double> paper_top1;
  /// Runs of the group that have not completed ("dir: interrupted at epoch 3 of 10").
  std::vector<std::string> unfinished;
  int64_t epochs = 0;
};

struct Analysis {
  std::vector<RunGroup> groups;
  /// The group the differences are taken against.
  std::string baseline;
  std::vector<PairedDifference> differences;
};

/// Runs with the same label in order of first appearance: the sweep's cell names,
/// or else the settings that differ between the groups.
std::vector<std::pair<std::string, std::vector<const RunRecord*>>> group_runs(
    const std::vector<RunRecord>& runs);

/// Groups `runs` and compares each group with `baseline` (a group label; "" : the
/// first group). Labels are the sweep's cell names, or else the settings that differ
/// between groups ("method=ewgs delta=hessian").
Analysis analyze(const std::vector<RunRecord>& runs, const std::string& baseline = "");

std::string to_markdown(const Analysis& analysis);
/// One row per cell ("cell") and per difference ("difference").
std::string to_csv(const Analysis& analysis);
nlohmann::json to_json(const Analysis& analysis);

}  // namespace ewgs::experiments
