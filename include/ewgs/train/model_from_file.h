// Builds a ready model from a file for evaluation or analysis: an ewgs
// checkpoint (its own config) or a PyTorch .pth state dict (config from overrides).
#pragma once

#include <string>
#include <vector>

#include "ewgs/hessian/delta_estimator.h"
#include "ewgs/models/classifier.h"
#include "ewgs/train/train_config.h"

namespace ewgs::train {

struct ModelFromFile {
  TrainConfig config;
  models::ClassifierPtr model;
  /// Classes and channels of the config's data set.
  int64_t num_classes = 0;
  int64_t channels = 0;
};

/// Loads `path`. For an ewgs checkpoint the stored config is used, with
/// `overrides` applied (data.* to evaluate elsewhere); model.* and quant.*
/// overrides are refused. For a .pth file the config is the defaults plus
/// `overrides` (model.name, data.dataset, quant.*), and `entry` picks the
/// state dict inside it; a quantized model loads the FP weights and keeps its
/// quantizers for initialization.
ModelFromFile load_model_from_file(
    const std::string& path, const std::vector<std::string>& overrides, const std::string& entry);

/// Runs the paper initialization of quantized layers that have none yet (a
/// model loaded from FP weights) on `images`, in training mode, without
/// gradients; the model's BatchNorm statistics are left as they were.
void initialize_quantizers(models::ClassifierImpl& model, const at::Tensor& images);

}  // namespace ewgs::train
