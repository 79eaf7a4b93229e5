// Training checkpoints: config, model, both optimizers, RNG, epoch and step,
// written atomically so a killed process never leaves a corrupt file.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <string>

#include "ewgs/train/train_config.h"

namespace ewgs::train {

/// Where a run stands; enough to continue it exactly.
struct TrainProgress {
  /// Epoch in progress (0-based) and batches of it already done.
  int64_t epoch = 0;
  int64_t batch = 0;
  /// Optimizer steps since the start of the run.
  int64_t global_step = 0;
  /// Running sums of the epoch in progress (so a resumed epoch reports the
  /// same loss as an uninterrupted one).
  double epoch_loss_sum = 0.0;
  int64_t epoch_correct = 0;
  int64_t epoch_seen = 0;
  /// Best test top-1 so far and its epoch (-1: none yet).
  double best_top1 = -1.0;
  int64_t best_epoch = -1;
  /// Global step of the last Hessian delta update (-1: none).
  int64_t last_delta_update = -1;
};

/// What a checkpoint holds besides the model and optimizers.
struct CheckpointHeader {
  std::string ewgs_version;
  std::string config_toml;
  TrainProgress progress;
};

/// The pieces saved and restored together.
struct CheckpointParts {
  torch::nn::Module& model;
  torch::optim::Optimizer* model_optimizer = nullptr;
  torch::optim::Optimizer* quant_optimizer = nullptr;
};

/// Writes a checkpoint to `path` atomically.
void save_checkpoint(
    const std::string& path,
    const TrainConfig& config,
    const TrainProgress& progress,
    const CheckpointParts& parts);

/// Whether `path` is an ewgs checkpoint (rather than, e.g., a PyTorch .pth).
bool is_checkpoint(const std::string& path);

/// Reads the header (version, config, progress) without touching a model.
CheckpointHeader read_checkpoint_header(const std::string& path);

/// Restores model (strictly, by name), optimizers and the CPU RNG from
/// `path`. Errors say which names or shapes differ.
CheckpointHeader load_checkpoint(const std::string& path, const CheckpointParts& parts);

/// The model's named state stored in a checkpoint.
std::vector<std::pair<std::string, torch::Tensor>> read_checkpoint_model_state(const std::string& path);

} // namespace ewgs::train
