// Learning-rate schedules stepped per epoch (cosine to 0, step decay, constant),
// as functions of the epoch so a resumed run needs no scheduler state.
#pragma once

#include <string>
#include <vector>

namespace ewgs::train {

/// The learning rate of epoch `epoch` (0-based) of `epochs`.
///
/// - cosine: base * (1 + cos(pi * epoch / epochs)) / 2 (PyTorch
///   CosineAnnealingLR with T_max = epochs, eta_min = 0, stepped per epoch);
/// - step: base * gamma^(number of milestones <= epoch);
/// - constant: base.
class LrSchedule {
 public:
  LrSchedule(
      std::string kind, double base, int64_t epochs, std::vector<int64_t> milestones, double gamma);

  double at(int64_t epoch) const;

  /// Milestones from "80,120"; errors name `key`.
  static std::vector<int64_t> parse_milestones(const std::string& text, const std::string& key);

 private:
  std::string kind_;
  double base_;
  int64_t epochs_;
  std::vector<int64_t> milestones_;
  double gamma_;
};

}  // namespace ewgs::train
