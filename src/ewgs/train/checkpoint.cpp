// Checkpoint files (include/ewgs/train/checkpoint.h): a LibTorch archive with
// the config text, a name -> tensor dict of the model, optimizer sub-archives,
// progress counters and the CPU generator state.
#include "ewgs/train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <filesystem>

#include "ewgs/core/version.h"
#include "ewgs/nn/state_dict.h"
#include "ewgs/train/atomic_file.h"

namespace ewgs::train {
namespace {

constexpr int64_t kFormatVersion = 1;

c10::Dict<std::string, at::Tensor> model_dict(const torch::nn::Module& model) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : nn::module_state(model)) {
    dict.insert(name, tensor.detach().cpu());
  }
  return dict;
}

c10::Dict<std::string, double> progress_dict(const TrainProgress& p) {
  c10::Dict<std::string, double> d;
  d.insert("epoch", static_cast<double>(p.epoch));
  d.insert("batch", static_cast<double>(p.batch));
  d.insert("global_step", static_cast<double>(p.global_step));
  d.insert("epoch_loss_sum", p.epoch_loss_sum);
  d.insert("epoch_correct", static_cast<double>(p.epoch_correct));
  d.insert("epoch_seen", static_cast<double>(p.epoch_seen));
  d.insert("best_top1", p.best_top1);
  d.insert("best_epoch", static_cast<double>(p.best_epoch));
  d.insert("last_delta_update", static_cast<double>(p.last_delta_update));
  return d;
}

TrainProgress progress_from(const c10::IValue& value, const std::string& path) {
  TORCH_CHECK(value.isGenericDict(), path, ": checkpoint 'progress' is not a dict");
  const auto d = value.toGenericDict();
  auto get = [&](const char* key) {
    TORCH_CHECK(d.contains(key), path, ": checkpoint progress lacks '", key, "'");
    return d.at(key).toDouble();
  };
  TrainProgress p;
  p.epoch = static_cast<int64_t>(get("epoch"));
  p.batch = static_cast<int64_t>(get("batch"));
  p.global_step = static_cast<int64_t>(get("global_step"));
  p.epoch_loss_sum = get("epoch_loss_sum");
  p.epoch_correct = static_cast<int64_t>(get("epoch_correct"));
  p.epoch_seen = static_cast<int64_t>(get("epoch_seen"));
  p.best_top1 = get("best_top1");
  p.best_epoch = static_cast<int64_t>(get("best_epoch"));
  p.last_delta_update = static_cast<int64_t>(get("last_delta_update"));
  return p;
}

torch::serialize::InputArchive open_archive(const std::string& path) {
  TORCH_CHECK(std::filesystem::exists(path), "checkpoint ", path, " does not exist");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, path, " is not an ewgs checkpoint (", e.what_without_backtrace(), ")");
  }
  c10::IValue format;
  TORCH_CHECK(
      archive.try_read("ewgs_checkpoint_format", format) && format.isInt(),
      path,
      " is not an ewgs checkpoint (no format marker); .pth files go to train.init_from");
  TORCH_CHECK(
      format.toInt() == kFormatVersion,
      path,
      ": checkpoint format ",
      format.toInt(),
      " is not supported (this build reads ",
      kFormatVersion,
      ")");
  return archive;
}

CheckpointHeader header_from(torch::serialize::InputArchive& archive, const std::string& path) {
  CheckpointHeader header;
  c10::IValue value;
  archive.read("ewgs_version", value);
  header.ewgs_version = value.toStringRef();
  archive.read("config", value);
  header.config_toml = value.toStringRef();
  archive.read("progress", value);
  header.progress = progress_from(value, path);
  return header;
}

std::vector<std::pair<std::string, torch::Tensor>> model_state_from(
    torch::serialize::InputArchive& archive) {
  c10::IValue value;
  archive.read("model", value);
  std::vector<std::pair<std::string, torch::Tensor>> state;
  for (const auto& entry : value.toGenericDict()) {
    state.emplace_back(entry.key().toStringRef(), entry.value().toTensor());
  }
  return state;
}

} // namespace

void save_checkpoint(
    const std::string& path,
    const TrainConfig& config,
    const TrainProgress& progress,
    const CheckpointParts& parts) {
  torch::serialize::OutputArchive archive;
  archive.write("ewgs_checkpoint_format", c10::IValue(kFormatVersion));
  archive.write("ewgs_version", c10::IValue(std::string(version())));
  archive.write("config", c10::IValue(config.to_toml()));
  archive.write("progress", c10::IValue(progress_dict(progress)));
  archive.write("model", c10::IValue(model_dict(parts.model)));
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("cpu_rng_state", generator.get_state(), /*is_buffer=*/true);
  }
  if (parts.model_optimizer != nullptr) {
    torch::serialize::OutputArchive sub;
    parts.model_optimizer->save(sub);
    archive.write("model_optimizer", sub);
  }
  if (parts.quant_optimizer != nullptr) {
    torch::serialize::OutputArchive sub;
    parts.quant_optimizer->save(sub);
    archive.write("quant_optimizer", sub);
  }
  write_file_atomically(path, [&](const std::function<size_t(const void*, size_t)>& sink) {
    archive.save_to(sink);
  });
}

bool is_checkpoint(const std::string& path) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error&) {
    return false;
  }
  c10::IValue format;
  return archive.try_read("ewgs_checkpoint_format", format);
}

CheckpointHeader read_checkpoint_header(const std::string& path) {
  auto archive = open_archive(path);
  return header_from(archive, path);
}

std::vector<std::pair<std::string, torch::Tensor>> read_checkpoint_model_state(const std::string& path) {
  auto archive = open_archive(path);
  return model_state_from(archive);
}

CheckpointHeader load_checkpoint(const std::string& path, const CheckpointParts& parts) {
  auto archive = open_archive(path);
  auto header = header_from(archive, path);
  nn::load_state(parts.model, model_state_from(archive), /*strict=*/true, "checkpoint " + path);
  torch::Tensor rng;
  archive.read("cpu_rng_state", rng, /*is_buffer=*/true);
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng);
  }
  const std::pair<const char*, torch::optim::Optimizer*> optimizers[] = {
      {"model_optimizer", parts.model_optimizer}, {"quant_optimizer", parts.quant_optimizer}};
  for (const auto& [key, optimizer] : optimizers) {
    if (optimizer == nullptr) {
      continue;
    }
    torch::serialize::InputArchive sub;
    TORCH_CHECK(archive.try_read(key, sub), path, ": checkpoint has no ", key, " state");
    optimizer->load(sub);
  }
  return header;
}

} // namespace ewgs::train
