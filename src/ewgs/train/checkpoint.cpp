// Checkpoint files (include/ewgs/train/checkpoint.h): a torch.save archive of one dict
// (config text, model tensors by name, optimizer state, progress counters, the CPU
// generator state, class names, metrics), then a CRC-32 trailer; read by ewgs's own
// zip and pickle reader, so no file reaches LibTorch's TorchScript importer.
#include "ewgs/train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <cmath>
#include <string_view>

#include "checkpoint_values.h"
#include "ewgs/core/checksum.h"
#include "ewgs/core/files.h"
#include "ewgs/core/pth_reader.h"
#include "ewgs/core/version.h"
#include "ewgs/nn/state_dict.h"
#include "ewgs/train/atomic_file.h"
#include "optimizer_state.h"

namespace ewgs::train {
namespace {

/// 2: checksum trailer, class names, metrics history, latest test accuracy.
/// 3: a torch.save archive of plain values, optimizer state in ewgs's own layout
///    (optimizer_state.h) instead of LibTorch's TorchScript module archive.
constexpr int64_t kFormatVersion = 3;
/// Format 2 files still give their header and model (evaluation, export,
/// train.init_from), not their optimizer state.
constexpr int64_t kOldestReadableFormat = 2;
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

c10::impl::GenericDict progress_dict(const TrainProgress& p) {
  auto d = detail::new_checkpoint_dict();
  for (const auto& [key, field] : kIntFields) {
    d.insert(key, p.*field);
  }
  for (const auto& [key, field] : kRealFields) {
    d.insert(key, p.*field);
  }
  return d;
}

/// A counter of the progress dict: an integer, or (format 2 wrote every counter as a
/// float) a float holding a whole number an int64 keeps exactly.
int64_t counter(const detail::CheckpointDict& d, const char* key) {
  const c10::IValue& v = d.at(key);
  if (v.isInt()) {
    return v.toInt();
  }
  const double x = d.real(key);
  TORCH_CHECK(
      std::abs(x) <= 9007199254740992.0 && std::trunc(x) == x,
      d.name(key),
      " is not a whole number: ",
      x);
  return static_cast<int64_t>(x);
}

TrainProgress progress_from(const detail::CheckpointDict& d) {
  TrainProgress p;
  for (const auto& [key, field] : kIntFields) {
    p.*field = counter(d, key);
  }
  for (const auto& [key, field] : kRealFields) {
    p.*field = d.real(key);
  }
  return p;
}

/// The first line of an error: LibTorch's messages may continue with a backtrace.
std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

/// The dict a checkpoint file holds. Format 3 pickles it; format 2 pickled a
/// TorchScript module whose attributes were the same entries (the reader keeps such an
/// object as a dict with its class under "__class__").
detail::CheckpointDict root_of(std::string_view payload, const std::string& name) {
  c10::IValue root;
  try {
    root = load_pth_bytes(payload);
  } catch (const c10::Error& e) {
    C10_THROW_ERROR(
        Error,
        c10::str(
            name,
            ": not a readable ewgs checkpoint (",
            first_line(e.what_without_backtrace()),
            ")"));
  } catch (const std::exception& e) {
    C10_THROW_ERROR(
        Error, c10::str(name, ": not a readable ewgs checkpoint (", first_line(e.what()), ")"));
  }
  return detail::CheckpointDict(root, name + ": checkpoint");
}

}  // namespace

struct CheckpointFile::Contents {
  detail::CheckpointDict root;
  int64_t format;
};

std::string checkpoint_bytes(const CheckpointHeader& header, const CheckpointParts& parts) {
  const auto state = nn::module_state(parts.model);
  const std::string bad = nn::first_non_finite(state);
  TORCH_CHECK(
      bad.empty(),
      "refusing to write a checkpoint: model tensor '",
      bad,
      "' has non-finite values (NaN or Inf)");
  auto model = detail::new_checkpoint_dict();
  for (const auto& [name, tensor] : state) {
    model.insert(name, tensor.detach().cpu());
  }
  c10::impl::GenericList classes(c10::StringType::get());
  for (const auto& c : header.class_names) {
    classes.push_back(c);
  }
  auto root = detail::new_checkpoint_dict();
  root.insert(kFormatKey, kFormatVersion);
  root.insert("ewgs_version", std::string(version()));
  root.insert("config", header.config_toml);
  root.insert("progress", progress_dict(header.progress));
  root.insert("class_names", classes);
  root.insert("metrics", header.metrics);
  root.insert("model", model);
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    root.insert("cpu_rng_state", generator.get_state());
  }
  const std::pair<const char*, torch::optim::Optimizer*> optimizers[] = {
      {"model_optimizer", parts.model_optimizer}, {"quant_optimizer", parts.quant_optimizer}};
  for (const auto& [key, optimizer] : optimizers) {
    if (optimizer != nullptr) {
      root.insert(key, detail::optimizer_state_value(*optimizer));
    }
  }
  const std::vector<char> archive = torch::pickle_save(root);
  return append_checksum(std::string(archive.begin(), archive.end()));
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

CheckpointFile::CheckpointFile(std::string bytes, std::string name) : name_(std::move(name)) {
  const auto payload = verified_payload(bytes, name_);
  auto root = root_of(payload, name_);
  TORCH_CHECK(root.has(kFormatKey), name_, ": checkpoint has no '", kFormatKey, "'");
  const c10::IValue& format = root.at(kFormatKey);
  TORCH_CHECK(
      format.isInt() && format.toInt() >= kOldestReadableFormat && format.toInt() <= kFormatVersion,
      name_,
      ": checkpoint format ",
      format.isInt() ? std::to_string(format.toInt()) : std::string("?"),
      " is not supported (this build reads ",
      kOldestReadableFormat,
      " to ",
      kFormatVersion,
      ")");
  contents_ = std::make_unique<Contents>(Contents{std::move(root), format.toInt()});
}

CheckpointFile::~CheckpointFile() = default;
CheckpointFile::CheckpointFile(CheckpointFile&&) noexcept = default;

CheckpointHeader CheckpointFile::header() {
  const auto& root = contents_->root;
  CheckpointHeader header;
  header.ewgs_version = root.text("ewgs_version");
  header.config_toml = root.text("config");
  header.metrics = root.text("metrics");
  header.progress = progress_from(root.dict("progress"));
  for (const auto& c : root.list("class_names")) {
    TORCH_CHECK(c.isString(), root.name("class_names"), " holds a value that is not a string");
    header.class_names.push_back(c.toStringRef());
  }
  return header;
}

std::vector<std::pair<std::string, torch::Tensor>> CheckpointFile::model_state() {
  const auto model = contents_->root.dict("model");
  nn::NamedTensors state;
  for (const auto& entry : model.entries()) {
    TORCH_CHECK(
        entry.value().isTensor(), model.name(entry.key().toStringRef()), " is not a tensor");
    state.emplace_back(entry.key().toStringRef(), entry.value().toTensor());
  }
  const std::string bad = nn::first_non_finite(state);
  TORCH_CHECK(bad.empty(), name_, ": model tensor '", bad, "' has non-finite values (NaN or Inf)");
  return state;
}

void CheckpointFile::restore(const CheckpointParts& parts) {
  const auto& root = contents_->root;
  TORCH_CHECK(
      contents_->format == kFormatVersion,
      name_,
      ": checkpoint format ",
      contents_->format,
      " keeps its optimizer state in a layout this build no longer reads, so the run cannot "
      "resume from it; its model can still be evaluated, exported, or trained on from "
      "(train.init_from)");
  nn::load_state(parts.model, model_state(), /*strict=*/true, "checkpoint " + name_);
  const torch::Tensor rng = root.tensor("cpu_rng_state");
  try {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng);
  } catch (const c10::Error& e) {
    C10_THROW_ERROR(
        Error,
        c10::str(
            root.name("cpu_rng_state"),
            " is not a generator state (",
            first_line(e.what_without_backtrace()),
            ")"));
  }
  const std::pair<const char*, torch::optim::Optimizer*> optimizers[] = {
      {"model_optimizer", parts.model_optimizer}, {"quant_optimizer", parts.quant_optimizer}};
  for (const auto& entry : optimizers) {
    if (entry.second != nullptr) {
      TORCH_CHECK(root.has(entry.first), name_, ": checkpoint has no ", entry.first, " state");
      detail::restore_optimizer_state(*entry.second, root.at(entry.first), root.name(entry.first));
    }
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
