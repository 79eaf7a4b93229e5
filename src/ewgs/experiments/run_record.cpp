// Reading run directories (include/ewgs/experiments/run_record.h).
#include "ewgs/experiments/run_record.h"

#include <c10/util/Exception.h>

#include <filesystem>
#include <fstream>

#include "ewgs/core/files.h"
#include "ewgs/train/train_config.h"

namespace fs = std::filesystem;

namespace ewgs::experiments {

std::string RunRecord::value(const std::string& key) const {
  const auto it = config.find(key);
  TORCH_CHECK(it != config.end(), dir, "/config.toml has no key ", key);
  const std::string& text = it->second;
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    return text.substr(1, text.size() - 2);
  }
  return text;
}

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_file_bytes(path, "JSON file");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    C10_THROW_ERROR(Error, c10::str(path, " is not valid JSON: ", e.what()));
  }
}

RunRecord read_run(const std::string& dir) {
  RunRecord run;
  run.dir = dir;
  const fs::path root(dir);
  TORCH_CHECK(fs::is_directory(root), dir, " is not a run directory (it does not exist)");
  const std::string config_path = (root / "config.toml").string();
  TORCH_CHECK(fs::exists(config_path), dir, " is not a run directory: it has no config.toml");
  const auto config =
      train::TrainConfig::from_toml(read_file_bytes(config_path, "run config"), config_path);
  for (const auto& key : train::TrainConfig::schema().keys()) {
    run.config[key.name] = key.value_text(&config);
  }
  if (fs::exists(root / "summary.json")) {
    run.summary = read_json_file((root / "summary.json").string());
  }
  std::ifstream metrics(root / "metrics.jsonl");
  int line_number = 0;
  for (std::string line; std::getline(metrics, line);) {
    line_number += 1;
    if (line.empty()) {
      continue;
    }
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      TORCH_CHECK(
          false, (root / "metrics.jsonl").string(), ":", line_number, " is not JSON: ", e.what());
    }
    const std::string event = record.value("event", "");
    if (event == "delta_update") {
      run.delta_updates.push_back(std::move(record));
    } else if (event.empty() && record.contains("epoch")) {  // "steps" records (train.log_steps)
                                                             // are not epochs
      run.epochs.push_back(std::move(record));
    }
  }
  return run;
}

std::vector<RunRecord> read_runs(const std::vector<std::string>& paths) {
  std::vector<RunRecord> out;
  for (const auto& path : paths) {
    const fs::path manifest = fs::path(path) / "sweep.json";
    if (!fs::exists(manifest)) {
      out.push_back(read_run(path));
      continue;
    }
    const auto sweep = read_json_file(manifest.string());
    for (const auto& cell : sweep.at("cells")) {
      const fs::path dir = fs::path(path) / cell.at("dir").get<std::string>();
      if (!fs::exists(dir / "config.toml")) {
        continue;
      }
      auto run = read_run(dir.string());
      std::string label = cell.value("variant", "");
      for (const auto& [key, value] : cell.at("grid").items()) {
        if (key != "run.seed") {
          label += (label.empty() ? "" : " ") + key.substr(key.rfind('.') + 1) + "=" +
                   value.get<std::string>();
        }
      }
      run.label = label;
      if (cell.contains("paper_top1")) {
        run.paper_top1 = cell["paper_top1"].get<double>();
      }
      out.push_back(std::move(run));
    }
  }
  return out;
}

}  // namespace ewgs::experiments
