// A small, fast training config on Fashion-MNIST and run-directory helpers for
// the trainer tests.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ewgs/core/files.h"
#include "ewgs/models/registry.h"
#include "ewgs/train/checkpoint.h"
#include "ewgs/train/optimizers.h"
#include "ewgs/train/train_config.h"
#include "ewgs/train/trainer.h"
#include "support/image_files.h"

namespace ewgs::test {

/// The bytes of a file the test expects to exist.
inline std::string read_all(const std::string& path) {
  return read_file_bytes(path, "test file");
}

/// JSON-lines progress into `out`, away from the test's output.
inline train::TrainerOptions quiet(std::ostream& out) {
  train::TrainerOptions o;
  o.json = true;
  o.out = &out;
  return o;
}

/// small_cnn on 6 batches of 32 Fashion-MNIST images per epoch, evaluated
/// only after the last epoch, 2 threads, no augmentation randomness needed.
inline train::TrainConfig tiny_config(int64_t epochs) {
  train::TrainConfig c;
  c.train_epochs = epochs;
  c.train_batch_size = 32;
  c.train_max_batches = 6;
  c.train_eval_every = 1000;
  c.run_threads = 2;
  c.data_workers = 2;
  c.optim_lr = 0.05;
  return c;
}

/// small_cnn on a tiny image folder (see tiny_data): 3 batches of 8 per
/// epoch, evaluated after every epoch; a run takes a second or two.
inline train::TrainConfig tiny_folder_config(const std::string& root, int64_t epochs) {
  train::TrainConfig c;
  c.data_dataset = "cifar10-jpeg";
  c.data_root = root;
  c.train_epochs = epochs;
  c.train_batch_size = 8;
  c.train_eval_every = 1;
  c.run_threads = 2;
  c.data_workers = 1;
  c.optim_lr = 0.05;
  return c;
}

/// A fresh empty directory under the temp folder.
inline std::string fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("ewgs_test_" + name);
  std::filesystem::remove_all(dir);
  return dir.string();
}

/// A fresh tiny image folder (write_tiny_image_folder) with classes cat, dog
/// and frog: 8 training and 4 test images each.
inline std::string tiny_data(const std::string& name) {
  const auto root = fresh_dir(name);
  write_tiny_image_folder(root, {{"train", {"cat", "dog", "frog"}}}, 8, /*seed=*/1);
  write_tiny_image_folder(root, {{"test", {"cat", "dog", "frog"}}}, 4, /*seed=*/2);
  return root;
}

/// Rewrites the small_cnn checkpoint at `path` (trained with `config` on tiny
/// data: 3 classes, 3 channels) with bn3's running mean at -1e38. Finite and
/// unused in training mode, it sends every evaluation output to infinity.
inline void make_evaluation_overflow(const std::string& path, const train::TrainConfig& config) {
  models::ModelOptions options;
  options.num_classes = 3;
  options.in_channels = 3;
  auto model = models::make_model("small_cnn", options);
  auto optimizers = train::make_optimizers(config, *model);
  const train::CheckpointParts parts{*model, optimizers.model.get(), optimizers.quant.get()};
  const auto header = train::load_checkpoint(path, parts);
  {
    torch::NoGradGuard no_grad;
    model->named_buffers()["bn3.running_mean"].fill_(-1e38);  // ReLU passes the huge outputs on
  }
  train::save_checkpoint(path, header, parts);
}

/// The epoch records of metrics.jsonl (delta updates left out).
inline std::vector<nlohmann::json> epoch_records(const std::string& run_dir) {
  std::ifstream in(std::filesystem::path(run_dir) / "metrics.jsonl");
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line)) {
    auto record = nlohmann::json::parse(line);
    if (!record.contains("event")) {
      out.push_back(record);
    }
  }
  return out;
}

}  // namespace ewgs::test
