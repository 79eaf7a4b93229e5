// Training checkpoints: config, model, both optimizers, RNG, epoch and step, the
// run's metrics history and class names, sealed with a checksum verified on load.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <memory>
#include <string>
#include <vector>

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
  /// Latest test top-1 and top-5 (-1: not evaluated yet).
  double last_test_top1 = -1.0;
  double last_test_top5 = -1.0;
  /// Global step of the last Hessian delta update (-1: none).
  int64_t last_delta_update = -1;
};

/// What a checkpoint holds besides the model and optimizers.
struct CheckpointHeader {
  std::string ewgs_version;
  std::string config_toml;
  TrainProgress progress;
  /// Class names of the data the model was trained on, in label order
  /// (empty when unknown).
  std::vector<std::string> class_names;
  /// metrics.jsonl as it stood when the checkpoint was written.
  std::string metrics;
};

/// The pieces saved and restored together.
struct CheckpointParts {
  torch::nn::Module& model;
  torch::optim::Optimizer* model_optimizer = nullptr;
  torch::optim::Optimizer* quant_optimizer = nullptr;
};

/// The bytes of a checkpoint file of `header` and `parts`, checksum trailer
/// included (the running ewgs version is written, not header.ewgs_version).
/// Errors when a model tensor is not finite, naming it: a diverged model is
/// never written.
std::string checkpoint_bytes(const CheckpointHeader& header, const CheckpointParts& parts);

/// Writes checkpoint_bytes(header, parts) to `path` atomically.
void save_checkpoint(
    const std::string& path, const CheckpointHeader& header, const CheckpointParts& parts);

/// Whether `path` is an ewgs checkpoint (possibly a damaged one) rather than,
/// e.g., a PyTorch .pth. Errors when `path` is not a regular file.
bool is_checkpoint(const std::string& path);

/// A checkpoint read into memory with its checksum verified; every error
/// names the file. Readers take what they need from it.
class CheckpointFile {
 public:
  /// Reads and verifies the file at `path`.
  explicit CheckpointFile(const std::string& path);
  /// Verifies `bytes`, a whole checkpoint file; `name` stands for its path.
  CheckpointFile(std::string bytes, std::string name);
  ~CheckpointFile();
  CheckpointFile(CheckpointFile&&) noexcept;

  /// Version, config, progress, class names, metrics history.
  CheckpointHeader header();
  /// The model's named state (every tensor finite, checked).
  std::vector<std::pair<std::string, torch::Tensor>> model_state();
  /// Restores model (strictly, by name), optimizers and the CPU RNG.
  void restore(const CheckpointParts& parts);

 private:
  struct Contents;
  std::unique_ptr<Contents> contents_;
  std::string name_;
};

/// CheckpointFile(path).header().
CheckpointHeader read_checkpoint_header(const std::string& path);

/// Restores model (strictly, by name), optimizers and the CPU RNG from
/// `path`. Errors say which names or shapes differ.
CheckpointHeader load_checkpoint(const std::string& path, const CheckpointParts& parts);

/// The model's named state stored in a checkpoint.
std::vector<std::pair<std::string, torch::Tensor>> read_checkpoint_model_state(
    const std::string& path);

}  // namespace ewgs::train
