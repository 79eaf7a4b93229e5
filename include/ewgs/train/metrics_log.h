// metrics.jsonl of a run: one JSON object per line. The lines live in memory and in
// every checkpoint; the file is republished whole from them, so after a resume it
// holds exactly the history of the checkpoint the run continued from.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace ewgs::train {

class MetricsLog {
 public:
  /// Publishes the file's new content (atomically, by the caller's means).
  using Publish = std::function<void(const std::string& content)>;

  /// Starts from `history` (JSON lines a checkpoint recorded; empty for a new
  /// run) and publishes it at once.
  MetricsLog(std::string history, Publish publish);

  /// Adds `record` as one line, without publishing it yet.
  void add(const nlohmann::json& record);
  /// Publishes the file with every line added so far.
  void publish() const;
  /// add(record), then publish().
  void append(const nlohmann::json& record);

  /// Every line so far, for the next checkpoint.
  const std::string& history() const { return history_; }

 private:
  std::string history_;
  Publish publish_;
};

}  // namespace ewgs::train
