// Test-set evaluation: mean cross-entropy, top-1 and top-5 accuracy, without
// gradients and in eval mode.
#pragma once

#include <c10/core/Device.h>

#include <functional>

#include "ewgs/data/loader.h"
#include "ewgs/models/classifier.h"
#include "ewgs/train/metrics.h"

namespace ewgs::train {

/// Evaluates `model` on every batch of `loader` (epoch 0, no shuffling
/// needed); restores the model's training flag afterwards.
MeanMeter evaluate(models::ClassifierImpl& model, data::DataLoader& loader, const c10::Device& device);

} // namespace ewgs::train
