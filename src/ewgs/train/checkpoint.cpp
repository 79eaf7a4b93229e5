// Checkpoint files (include/ewgs/train/checkpoint.h): a LibTorch archive with the
// config text, a name -> tensor dict of the model, optimizer sub-archives, progress
// counters, the CPU generator state, class names and metrics, then a CRC-32 trailer.
#include "ewgs/train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include "ewgs/core/checksum.h"
#include "ewgs/core/files.h"
#include "ewgs/core/version.h"
#include "ewgs/nn/state_dict.h"
#include "ewgs/train/atomic_file.h"

namespace ewgs::train {
namespace {

/// 2: checksum trailer, class names, metrics history, latest test accuracy.
constexpr int64_t kFormatVersion = 2;
/// A key only ewgs checkpoints hold, also found in damaged ones.
constexpr const char* kFormatKey = "ewgs_checkpoint_format";

constexpr std::pair<const char*, int64_t TrainProgress::*> kIntFields[] = {
    {"epoch", &TrainProgress::epoch},
    {"batch", &TrainProgress::batch},
    {"global_step", &TrainProgress::global_step},
    {"epoch_correct", &TrainProgress::epoch_correct},
    {"epoch_seen", &TrainProgress::epoch_seen},
    {"best_epoch", &TrainProgress::best_epoch},
    {"last_delta_update", &TrainProgress::last_delta_update},
};
constexpr std::pair<const char*, double TrainProgress::*> kRealFields[] = {
    {"epoch_loss_sum", &TrainProgress::epoch_loss_sum},
    {"best_top1", &TrainProgress::best_top1},
    {"last_test_top1", &TrainProgress::last_test_top1},
    {"last_test_top5", &TrainProgress::last_test_top5},
};

c10::Dict<std::string, double> progress_dict(const TrainProgress& p) {
  c10::Dict<std::string, double> d;
  for (const auto& [key, field] : kIntFields) {
    d.insert(key, static_cast<double>(p.*field));
  }
  for (const auto& [key, field] : kRealFields) {
    d.insert(key, p.*field);
  }
  return d;
}

TrainProgress progress_from(const c10::IValue& value, const std::string& name) {
  TORCH_CHECK(value.isGenericDict(), name, ": checkpoint 'progress' is not a dict");
  const auto d = value.toGenericDict();
  auto get = [&](const char* key) {
    TORCH_CHECK(
        d.contains(key) && d.at(key).isDouble(), name, ": checkpoint progress lacks '", key, "'");
    return d.at(key).toDouble();
  };
  TrainProgress p;
  for (const auto& [key, field] : kIntFields) {
    p.*field = static_cast<int64_t>(get(key));
  }
  for (const auto& [key, field] : kRealFields) {
    p.*field = get(key);
  }
  return p;
}

/// The first line of a LibTorch error: deserializer messages continue with
/// TorchScript source that means nothing to a user.
std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

/// Runs `read`, turning LibTorch's own errors into ones that name the file.
template <typename Read>
auto naming_errors(const std::string& name, Read&& read) -> decltype(read()) {
  try {
    return read();
  } catch (const c10::Error& e) {
    TORCH_CHECK(
        false,
        name,
        ": not a readable ewgs checkpoint (",
        first_line(e.what_without_backtrace()),
        ")");
  } catch (const std::exception& e) {
    TORCH_CHECK(false, name, ": not a readable ewgs checkpoint (", first_line(e.what()), ")");
  }
}

}  // namespace

struct CheckpointFile::Archive {
  std::string bytes;
  torch::serialize::InputArchive input;

  c10::IValue value(const char* key, const std::string& name) {
    c10::IValue out;
    TORCH_CHECK(
        naming_errors(name, [&] { return input.try_read(key, out); }),
        name,
        ": checkpoint has no '",
        key,
        "'");
    return out;
  }

  std::string text(const char* key, const std::string& name) {
    const auto v = value(key, name);
    TORCH_CHECK(v.isString(), name, ": checkpoint '", key, "' is not a string");
    return v.toStringRef();
  }
};

std::string checkpoint_bytes(const CheckpointHeader& header, const CheckpointParts& parts) {
  const auto state = nn::module_state(parts.model);
  const std::string bad = nn::first_non_finite(state);
  TORCH_CHECK(
      bad.empty(),
      "refusing to write a checkpoint: model tensor '",
      bad,
      "' has non-finite values (NaN or Inf)");
  c10::Dict<std::string, at::Tensor> model;
  for (const auto& [name, tensor] : state) {
    model.insert(name, tensor.detach().cpu());
  }
  c10::List<std::string> classes;
  for (const auto& c : header.class_names) {
    classes.push_back(c);
  }
  torch::serialize::OutputArchive archive;
  archive.write(kFormatKey, c10::IValue(kFormatVersion));
  archive.write("ewgs_version", c10::IValue(std::string(version())));
  archive.write("config", c10::IValue(header.config_toml));
  archive.write("progress", c10::IValue(progress_dict(header.progress)));
  archive.write("class_names", c10::IValue(classes));
  archive.write("metrics", c10::IValue(header.metrics));
  archive.write("model", c10::IValue(model));
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("cpu_rng_state", generator.get_state(), /*is_buffer=*/true);
  }
  const std::pair<const char*, torch::optim::Optimizer*> optimizers[] = {
      {"model_optimizer", parts.model_optimizer}, {"quant_optimizer", parts.quant_optimizer}};
  for (const auto& [key, optimizer] : optimizers) {
    if (optimizer != nullptr) {
      torch::serialize::OutputArchive sub;
      optimizer->save(sub);
      archive.write(key, sub);
    }
  }
  std::string bytes;
  archive.save_to([&](const void* data, size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  return append_checksum(std::move(bytes));
}

void save_checkpoint(
    const std::string& path, const CheckpointHeader& header, const CheckpointParts& parts) {
  write_file_atomically(path, checkpoint_bytes(header, parts));
}

bool is_checkpoint(const std::string& path) {
  const std::string bytes = read_file_bytes(path, "model file");
  return has_checksum(bytes) || bytes.find(kFormatKey) != std::string::npos;
}

CheckpointFile::CheckpointFile(const std::string& path)
    : CheckpointFile(read_file_bytes(path, "checkpoint"), path) {}

CheckpointFile::CheckpointFile(std::string bytes, std::string name)
    : archive_(std::make_unique<Archive>()), name_(std::move(name)) {
  archive_->bytes = std::move(bytes);
  const auto payload = verified_payload(archive_->bytes, name_);
  naming_errors(name_, [&] { archive_->input.load_from(payload.data(), payload.size()); });
  const auto format = archive_->value(kFormatKey, name_);
  TORCH_CHECK(
      format.isInt() && format.toInt() == kFormatVersion,
      name_,
      ": checkpoint format ",
      format.isInt() ? std::to_string(format.toInt()) : std::string("?"),
      " is not supported (this build reads ",
      kFormatVersion,
      ")");
}

CheckpointFile::~CheckpointFile() = default;
CheckpointFile::CheckpointFile(CheckpointFile&&) noexcept = default;

CheckpointHeader CheckpointFile::header() {
  CheckpointHeader header;
  header.ewgs_version = archive_->text("ewgs_version", name_);
  header.config_toml = archive_->text("config", name_);
  header.metrics = archive_->text("metrics", name_);
  header.progress = progress_from(archive_->value("progress", name_), name_);
  const auto classes = archive_->value("class_names", name_);
  TORCH_CHECK(classes.isList(), name_, ": checkpoint 'class_names' is not a list");
  for (const auto& c : classes.toListRef()) {
    TORCH_CHECK(
        c.isString(), name_, ": checkpoint 'class_names' holds a value that is not a string");
    header.class_names.push_back(c.toStringRef());
  }
  return header;
}

std::vector<std::pair<std::string, torch::Tensor>> CheckpointFile::model_state() {
  const auto value = archive_->value("model", name_);
  TORCH_CHECK(value.isGenericDict(), name_, ": checkpoint 'model' is not a dict");
  nn::NamedTensors state;
  for (const auto& entry : value.toGenericDict()) {
    TORCH_CHECK(
        entry.key().isString() && entry.value().isTensor(),
        name_,
        ": checkpoint 'model' holds an entry that is not a named tensor");
    state.emplace_back(entry.key().toStringRef(), entry.value().toTensor());
  }
  const std::string bad = nn::first_non_finite(state);
  TORCH_CHECK(bad.empty(), name_, ": model tensor '", bad, "' has non-finite values (NaN or Inf)");
  return state;
}

void CheckpointFile::restore(const CheckpointParts& parts) {
  nn::load_state(parts.model, model_state(), /*strict=*/true, "checkpoint " + name_);
  const auto rng = archive_->value("cpu_rng_state", name_);
  TORCH_CHECK(rng.isTensor(), name_, ": checkpoint 'cpu_rng_state' is not a tensor");
  naming_errors(name_, [&] {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng.toTensor());
  });
  const std::pair<const char*, torch::optim::Optimizer*> optimizers[] = {
      {"model_optimizer", parts.model_optimizer}, {"quant_optimizer", parts.quant_optimizer}};
  for (const auto& entry : optimizers) {
    const char* key = entry.first;
    torch::optim::Optimizer* optimizer = entry.second;
    if (optimizer == nullptr) {
      continue;
    }
    torch::serialize::InputArchive sub;
    TORCH_CHECK(
        naming_errors(name_, [&] { return archive_->input.try_read(key, sub); }),
        name_,
        ": checkpoint has no ",
        key,
        " state");
    naming_errors(name_, [&] { optimizer->load(sub); });
  }
}

CheckpointHeader read_checkpoint_header(const std::string& path) {
  return CheckpointFile(path).header();
}

CheckpointHeader load_checkpoint(const std::string& path, const CheckpointParts& parts) {
  CheckpointFile file(path);
  auto header = file.header();
  file.restore(parts);
  return header;
}

std::vector<std::pair<std::string, torch::Tensor>> read_checkpoint_model_state(
    const std::string& path) {
  return CheckpointFile(path).model_state();
}

}  // namespace ewgs::train
