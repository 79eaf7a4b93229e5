// metrics.jsonl of a run: one JSON object per line, appended and flushed as
// epochs end; a resumed run first drops lines of epochs it will redo.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace ewgs::train {

class MetricsLog {
 public:
  /// Opens `path` for appending; lines whose "epoch" is >= `keep_before_epoch`
  /// (when > 0) are removed first, so a resumed epoch is not logged twice.
  MetricsLog(std::string path, int64_t keep_before_epoch);

  /// Appends `record` as one line and flushes it.
  void append(const nlohmann::json& record);

 private:
  std::string path_;
};

} // namespace ewgs::train
