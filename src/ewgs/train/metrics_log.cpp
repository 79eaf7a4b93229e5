// Append-only JSON-lines metrics (include/ewgs/train/metrics_log.h).
#include "ewgs/train/metrics_log.h"

#include <c10/util/Exception.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ewgs/train/atomic_file.h"

namespace ewgs::train {

MetricsLog::MetricsLog(std::string path, int64_t keep_before_epoch) : path_(std::move(path)) {
  if (keep_before_epoch <= 0 || !std::filesystem::exists(path_)) {
    return;
  }
  std::ifstream in(path_);
  std::string kept;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) {
      continue;
    }
    const auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    // Keep unreadable lines out; keep records of finished epochs.
    if (!record.is_discarded() && record.value("epoch", int64_t{0}) < keep_before_epoch) {
      kept += line + "\n";
    }
  }
  write_file_atomically(path_, [&](const std::function<size_t(const void*, size_t)>& sink) {
    sink(kept.data(), kept.size());
  });
}

void MetricsLog::append(const nlohmann::json& record) {
  std::ofstream out(path_, std::ios::app);
  TORCH_CHECK(out.good(), "cannot append to ", path_);
  out << record.dump() << "\n";
  out.flush();
}

} // namespace ewgs::train
