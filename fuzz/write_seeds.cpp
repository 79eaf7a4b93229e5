// Writes the seeds that only the C++ library can make: ewgs checkpoints of the
// model the checkpoint target restores into, and a model exported by ewgs's own
// packed export. scripts/gen_fuzz_seeds.py writes all the others.
//
//   write_seeds fuzz/corpus
#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "ewgs/core/checksum.h"
#include "ewgs/deploy/packed_export.h"
#include "ewgs/infer/model_file.h"
#include "ewgs/models/registry.h"
#include "ewgs/train/checkpoint.h"

namespace {

void write(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  TORCH_CHECK(out.good(), "write_seeds: cannot write ", path.string());
}

/// The archive of a checkpoint, without the checksum trailer the target adds.
std::string checkpoint_archive(
    const ewgs::train::CheckpointHeader& header, const ewgs::train::CheckpointParts& parts) {
  std::string bytes = ewgs::train::checkpoint_bytes(header, parts);
  bytes.resize(bytes.size() - ewgs::kChecksumTrailerBytes);
  return bytes;
}

/// Checkpoints of a Linear(4, 3) with Adam (checkpoint_fuzzer.cpp restores into
/// the same pair) before and after a step, and with SGD and momentum.
void checkpoint_seeds(const std::filesystem::path& corpus) {
  torch::manual_seed(0);
  torch::nn::Linear model(4, 3);
  torch::optim::Adam optimizer(model->parameters(), 0.1);
  ewgs::train::CheckpointHeader header;
  header.config_toml = ewgs::train::TrainConfig().to_toml();
  header.class_names = {"cat", "dog", "bird"};
  write(corpus / "seed-fresh", checkpoint_archive(header, {*model, &optimizer, nullptr}));
  model->forward(torch::randn({2, 4})).sum().backward();
  optimizer.step();
  header.progress.epoch = 1;
  header.progress.global_step = 1;
  header.progress.best_top1 = 50.0;
  header.progress.best_epoch = 0;
  header.metrics = "{\"epoch\":0,\"test_top1\":50.0}\n";
  write(corpus / "seed-stepped", checkpoint_archive(header, {*model, &optimizer, nullptr}));
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  model->forward(torch::randn({2, 4})).sum().backward();
  sgd.step();
  write(corpus / "seed-sgd-momentum", checkpoint_archive(header, {*model, &sgd, nullptr}));
}

/// small_cnn at W1A1 on 4x4 images as `ewgs export` writes it, whole and in the
/// model_file target's other form (JSON text, NUL, data section).
void exported_model_seeds(const std::filesystem::path& corpus) {
  torch::manual_seed(0);
  ewgs::models::ModelOptions options;
  options.num_classes = 3;
  options.in_channels = 1;
  options.quant.weight = "ewgs:bits=1";
  options.quant.act = "ewgs:bits=1";
  auto model = ewgs::models::make_model("small_cnn", options);
  model->train();
  model->forward(torch::randn({4, 1, 4, 4}));
  ewgs::deploy::PackedExportOptions export_options;
  export_options.input_shape = {1, 4, 4};
  const auto bytes = ewgs::deploy::export_packed_bytes(*model, export_options);
  write(corpus / "seed-small-cnn-w1a1.ewgsm", std::string(bytes.begin(), bytes.end()));
  const auto file = ewgs::infer::ModelFile::parse(bytes, "exported model");
  uint64_t data_offset = 0;
  std::memcpy(&data_offset, bytes.data() + 24, sizeof(data_offset));  // docs/MODEL_FORMAT.md
  write(
      corpus / "seed-small-cnn-w1a1.json",
      file.description().dump() + '\0' +
          std::string(bytes.begin() + static_cast<std::ptrdiff_t>(data_offset), bytes.end()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: write_seeds CORPUS_DIR (fuzz/corpus)\n";
    return 2;
  }
  try {
    checkpoint_seeds(std::filesystem::path(argv[1]) / "checkpoint");
    exported_model_seeds(std::filesystem::path(argv[1]) / "model_file");
  } catch (const std::exception& e) {
    std::cerr << "write_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
