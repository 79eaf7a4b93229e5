// Metrics history of a run (include/ewgs/train/metrics_log.h).
#include "ewgs/train/metrics_log.h"

namespace ewgs::train {

MetricsLog::MetricsLog(std::string history, Publish publish)
    : history_(std::move(history)), publish_(std::move(publish)) {
  publish_(history_);
}

void MetricsLog::add(const nlohmann::json& record) {
  history_ += record.dump() + "\n";
}

void MetricsLog::publish() const {
  publish_(history_);
}

void MetricsLog::append(const nlohmann::json& record) {
  add(record);
  publish();
}

}  // namespace ewgs::train
