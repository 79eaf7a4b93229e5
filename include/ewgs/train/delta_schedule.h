// When a run updates EWGS's delta from the Hessian (paper Algorithm 1): every
// hessian.period epochs (at the start of epochs P, 2P, ..., never epoch 0) or
// every hessian.period iterations.
#pragma once

#include "ewgs/train/checkpoint.h"
#include "ewgs/train/train_config.h"

namespace ewgs::train {

/// Whether a delta update is due at `progress`: at an epoch's start when
/// `at_epoch_start`, else after a training step. Never twice at one global
/// step, never without quant.delta = "hessian".
bool delta_update_due(
    const TrainConfig& config, const TrainProgress& progress, bool at_epoch_start);

}  // namespace ewgs::train
