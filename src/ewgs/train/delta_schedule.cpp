// Delta update schedule (include/ewgs/train/delta_schedule.h).
#include "ewgs/train/delta_schedule.h"

namespace ewgs::train {

bool delta_update_due(
    const TrainConfig& config, const TrainProgress& progress, bool at_epoch_start) {
  if (!config.hessian_delta() || progress.last_delta_update == progress.global_step) {
    return false;
  }
  if (config.hessian_period_unit == "epochs") {
    // The official schedule: epochs 10, 20, ... (never epoch 0).
    return at_epoch_start && progress.batch == 0 && progress.epoch > 0 &&
           progress.epoch % config.hessian_period == 0;
  }
  return !at_epoch_start && progress.global_step > 0 &&
         progress.global_step % config.hessian_period == 0;
}

}  // namespace ewgs::train
