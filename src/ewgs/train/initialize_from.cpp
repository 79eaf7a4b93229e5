// Weight initialization from checkpoints and .pth files (include/ewgs/train/initialize_from.h).
#include "ewgs/train/initialize_from.h"

#include <c10/util/Exception.h>

#include "ewgs/core/data_dir.h"
#include "ewgs/core/files.h"
#include "ewgs/core/pth_reader.h"
#include "ewgs/core/strings.h"
#include "ewgs/train/checkpoint.h"

namespace ewgs::train {
namespace {

/// Errors when the checkpoint's model or quantization differs from `config`'s.
void check_same_model(
    const std::string& path, const std::string& config_toml, const TrainConfig& config) {
  const auto trained = TrainConfig::from_toml(config_toml, path);
  const auto theirs = trained.quant_spec();
  const auto ours = config.quant_spec();
  const bool same_quant = theirs.weight == ours.weight && theirs.act == ours.act &&
                          theirs.quantize_first_last == ours.quantize_first_last;
  TORCH_CHECK(
      trained.model_name == config.model_name && (!theirs.enabled() || same_quant),
      "train.init_from: ",
      path,
      " was trained as ",
      trained.model_name,
      " ",
      theirs.describe(),
      " (weights ",
      theirs.weight,
      ", activations ",
      theirs.act,
      "); this run is ",
      config.model_name,
      " ",
      ours.describe(),
      " (weights ",
      ours.weight,
      ", activations ",
      ours.act,
      ")");
}

}  // namespace

bool is_quantizer_state(const std::string& name) {
  const auto last = name.substr(name.rfind('.') + 1);
  return name.find("weight_quant.") != std::string::npos ||
         name.find("act_quant.") != std::string::npos || last == "output_scale" ||
         last == "quant_initialized";
}

nn::StateDictLoadReport initialize_from(torch::nn::Module& model, const TrainConfig& config) {
  // Expanded already when read from a file; a config filled in code may still hold it.
  const std::string path = expand_data_dir(config.train_init_from, "train.init_from");
  require_regular_file(path, "train.init_from:");
  nn::NamedTensors state;
  if (is_checkpoint(path)) {
    CheckpointFile checkpoint(path);
    check_same_model(path, checkpoint.header().config_toml, config);
    state = checkpoint.model_state();
  } else {
    state = load_pth_state_dict(path, config.train_init_entry);
  }
  auto report = nn::load_state(model, state, /*strict=*/false, path);
  TORCH_CHECK(
      report.unexpected.empty(),
      "train.init_from: ",
      path,
      " has entries the model lacks: ",
      join(report.unexpected, ", "),
      " (a different model?)");
  std::vector<std::string> missing_weights;
  for (const auto& name : report.missing) {
    if (!is_quantizer_state(name)) {
      missing_weights.push_back(name);
    }
  }
  TORCH_CHECK(
      missing_weights.empty(),
      "train.init_from: ",
      path,
      " lacks model weights: ",
      join(missing_weights, ", "));
  return report;
}

}  // namespace ewgs::train
