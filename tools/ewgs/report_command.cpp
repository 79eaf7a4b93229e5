// `ewgs report`: one table row per finished run (method, bits, test accuracy,
// time) from the runs' summary.json files.
#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "commands.h"

namespace ewgs::cli {
namespace {

nlohmann::json read_summary(const std::string& run_dir) {
  const auto path = std::filesystem::path(run_dir) / "summary.json";
  std::ifstream in(path);
  TORCH_CHECK(in.good(), run_dir, " has no summary.json (the run has not ended)");
  try {
    auto summary = nlohmann::json::parse(in);
    summary["run"] = run_dir;
    return summary;
  } catch (const nlohmann::json::exception& e) {
    TORCH_CHECK(false, path.string(), " is not valid JSON: ", e.what());
  }
}

} // namespace

void add_report_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "Table of finished runs from their run directories");
  auto dirs = std::make_shared<std::vector<std::string>>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("runs", *dirs, "Run directories")->required();
  cmd->add_flag("--json", *json, "Print one JSON array");
  cmd->callback([dirs, json] {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& d : *dirs) {
      rows.push_back(read_summary(d));
    }
    if (*json) {
      std::cout << rows.dump() << "\n";
      return;
    }
    std::cout << fmt::format(
        "{:<10} {:<8} {:>6} {:>8} {:>10} {:>9} {:>9}  {}\n", "model", "method", "bits", "delta", "test top1",
        "best", "time", "run");
    for (const auto& r : rows) {
      std::cout << fmt::format(
          "{:<10} {:<8} {:>6} {:>8} {:>9.2f}% {:>8.2f}% {:>8.1f}s  {}\n", r.value("model", ""),
          r.value("method", ""), fmt::format("W{}A{}", r.value("wbits", 32), r.value("abits", 32)),
          r.value("method", "") == "ewgs" ? r.value("delta", "") : "-", r.value("final_top1", -1.0),
          r.value("best_top1", -1.0), r.value("wall_s", 0.0), r.value("run", ""));
    }
  });
}

} // namespace ewgs::cli
