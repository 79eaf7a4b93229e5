// Starts a model from earlier weights: an ewgs checkpoint or a PyTorch .pth state
// dict (the paper fine-tunes quantized models from a full-precision one).
#pragma once

#include <torch/nn/module.h>

#include <string>

#include "ewgs/nn/state_dict.h"
#include "ewgs/train/train_config.h"

namespace ewgs::train {

/// Loads the weights named by train.init_from (and train.init_entry, the key
/// of the state dict inside a .pth dict; empty: detect) into `model`, built
/// from `config`, by name. Entries the model lacks are an error; entries of
/// the model the file lacks must all be quantizer state (which then keeps its
/// paper initialization), else the error lists them. An ewgs checkpoint must
/// come from the same model, and, when quantized, with the same quantization.
nn::StateDictLoadReport initialize_from(torch::nn::Module& model, const TrainConfig& config);

/// Whether `name` is quantizer state (intervals, scales, flags, deltas).
bool is_quantizer_state(const std::string& name);

}  // namespace ewgs::train
