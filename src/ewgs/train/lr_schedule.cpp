// Per-epoch learning-rate schedules (include/ewgs/train/lr_schedule.h).
#include "ewgs/train/lr_schedule.h"

#include <c10/util/Exception.h>

#include <cmath>
#include <cstdlib>

#include "ewgs/core/strings.h"

namespace ewgs::train {

LrSchedule::LrSchedule(
    std::string kind, double base, int64_t epochs, std::vector<int64_t> milestones, double gamma)
    : kind_(std::move(kind)),
      base_(base),
      epochs_(epochs),
      milestones_(std::move(milestones)),
      gamma_(gamma) {
  TORCH_CHECK(
      kind_ == "cosine" || kind_ == "step" || kind_ == "constant",
      "unknown learning-rate schedule '",
      kind_,
      "'; use cosine, step or constant");
  TORCH_CHECK(epochs_ >= 1, "learning-rate schedule needs epochs >= 1, got ", epochs_);
}

double LrSchedule::at(int64_t epoch) const {
  if (kind_ == "cosine") {
    return base_ * 0.5 *
           (1.0 + std::cos(M_PI * static_cast<double>(epoch) / static_cast<double>(epochs_)));
  }
  if (kind_ == "step") {
    double lr = base_;
    for (int64_t m : milestones_) {
      if (epoch >= m) {
        lr *= gamma_;
      }
    }
    return lr;
  }
  return base_;
}

std::vector<int64_t> LrSchedule::parse_milestones(const std::string& text, const std::string& key) {
  std::vector<int64_t> out;
  if (trim(text).empty()) {
    return out;
  }
  for (const auto& part : split(text, ',')) {
    const std::string item = trim(part);
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    TORCH_CHECK(
        !item.empty() && *end == '\0' && v > 0 && (out.empty() || v > out.back()),
        key,
        " must be increasing positive epochs like \"80,120\", got '",
        text,
        "'");
    out.push_back(v);
  }
  return out;
}

}  // namespace ewgs::train
