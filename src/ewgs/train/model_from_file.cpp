// Models from checkpoints or .pth files (include/ewgs/train/model_from_file.h).
#include "ewgs/train/model_from_file.h"

#include <c10/util/Exception.h>

#include <torch/torch.h>

#include <optional>

#include "ewgs/data/class_names.h"
#include "ewgs/data/open_dataset.h"
#include "ewgs/models/registry.h"
#include "ewgs/nn/quantized_layers.h"
#include "ewgs/nn/state_dict.h"
#include "ewgs/train/checkpoint.h"
#include "ewgs/train/initialize_from.h"

namespace ewgs::train {

void initialize_quantizers(models::ClassifierImpl& model, const at::Tensor& images) {
  bool needed = false;
  for (const auto& item : nn::named_quantized_layers(model)) {
    needed = needed || !item.layer->quant_initialized();
  }
  if (!needed) {
    return;
  }
  std::vector<at::Tensor> buffers;
  for (const auto& b : model.buffers()) {
    buffers.push_back(b.clone());
  }
  const bool was_training = model.is_training();
  torch::NoGradGuard no_grad;
  model.train();
  model.forward(images);
  model.train(was_training);
  // Keep BatchNorm statistics; the initialization flags and intervals stay set.
  size_t i = 0;
  for (auto& b : model.named_buffers()) {
    const auto& name = b.key();
    if (!is_quantizer_state(name)) {
      b.value().copy_(buffers[i]);
    }
    ++i;
  }
}

ModelFromFile load_model_from_file(
    const std::string& path, const std::vector<std::string>& overrides, const std::string& entry) {
  std::optional<CheckpointFile> checkpoint;
  CheckpointHeader header;
  if (is_checkpoint(path)) {
    checkpoint.emplace(path);
    header = checkpoint->header();
  }
  ModelFromFile out;
  if (checkpoint) {
    out.config = TrainConfig::from_toml(header.config_toml, path);
  }
  for (const auto& o : overrides) {
    TORCH_CHECK(
        !checkpoint || (o.rfind("model.", 0) != 0 && o.rfind("quant.", 0) != 0),
        "override '",
        o,
        "': ",
        path,
        " is a checkpoint and fixes its model and quantization");
    out.config.apply_override(o);
  }
  out.config.validate();
  const auto test_set =
      data::open_dataset(out.config.data_dataset, out.config.data_root, out.config.data_test_split);
  if (checkpoint && !header.class_names.empty()) {
    data::check_same_classes(
        header.class_names, "checkpoint " + path, test_set->class_names(), test_set->name());
  }
  out.num_classes = test_set->num_classes();
  out.channels = test_set->image_shape()[0];
  models::ModelOptions options;
  options.num_classes =
      out.config.model_num_classes > 0 ? out.config.model_num_classes : out.num_classes;
  options.in_channels = out.channels;
  options.quant = out.config.quant_spec();
  out.model = models::make_model(out.config.model_name, options);
  if (checkpoint) {
    nn::load_state(*out.model, checkpoint->model_state(), /*strict=*/true, "checkpoint " + path);
  } else {
    out.config.train_init_from = path;
    out.config.train_init_entry = entry;
    initialize_from(*out.model, out.config);
  }
  return out;
}

}  // namespace ewgs::train
