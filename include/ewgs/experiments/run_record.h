// What a finished or running run directory holds, read for reports and figures:
// its resolved config, summary.json and the epoch and delta-update lines of
// metrics.jsonl. A sweep folder stands for its cells.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ewgs::experiments {

struct RunRecord {
  std::string dir;
  /// The sweep cell's name without its seed ("ewgs-3std"); "" outside a sweep.
  std::string label;
  /// The paper's top-1 for this cell's variant, when its sweep plan gives one.
  std::optional<double> paper_top1;
  /// Every config key with its value as text ("quant.method" -> "\"ewgs\"").
  std::map<std::string, std::string> config;
  /// summary.json; an empty object while the run has not ended.
  nlohmann::json summary = nlohmann::json::object();
  /// metrics.jsonl lines of finished epochs, in order.
  std::vector<nlohmann::json> epochs;
  /// metrics.jsonl lines of delta updates ("event": "delta_update"), in order.
  std::vector<nlohmann::json> delta_updates;

  /// A config value without TOML quotes ("ewgs", "1", "0.001").
  std::string value(const std::string& key) const;
};

/// Reads `dir`; a missing config.toml or a line of metrics.jsonl that is not JSON
/// is an error naming the file (and line).
RunRecord read_run(const std::string& dir);

/// Parses a JSON file, naming it in errors.
nlohmann::json read_json_file(const std::string& path);

/// The runs at `paths`: a sweep folder (it holds sweep.json) stands for its cells
/// in plan order, labelled by variant and grid values other than the seed; any
/// other path is one run. Cells that have not started yet are left out.
std::vector<RunRecord> read_runs(const std::vector<std::string>& paths);

}  // namespace ewgs::experiments
