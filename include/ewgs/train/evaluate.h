// Test-set evaluation: mean cross-entropy, top-1 and top-5 accuracy, without
// gradients, in eval mode, with one host synchronization at the end.
#pragma once

#include <c10/core/Device.h>

#include "ewgs/data/loader.h"
#include "ewgs/models/classifier.h"
#include "ewgs/train/metrics.h"

namespace ewgs::train {

/// Evaluates `model` on every batch of epoch 0 of `batches`; restores the
/// model's training flag afterwards.
MeanMeter evaluate(
    models::ClassifierImpl& model, data::BatchSource& batches, const c10::Device& device);

}  // namespace ewgs::train
