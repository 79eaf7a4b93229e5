// Loads named tensors (a PyTorch state dict, or another model's state) into a
// module by name, with errors that say which names and shapes differ.
#pragma once

#include <torch/nn/module.h>

#include <string>
#include <utility>
#include <vector>

namespace ewgs::nn {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

/// What a load matched and what it left out.
struct StateDictLoadReport {
  std::vector<std::string> loaded;
  /// Module parameters/buffers the state did not contain.
  std::vector<std::string> missing;
  /// State entries the module has no parameter/buffer for.
  std::vector<std::string> unexpected;
};

/// Parameters and buffers of `module` by dotted name, in module order.
NamedTensors module_state(const torch::nn::Module& module);

/// Name of the first floating-point tensor in `state` holding a NaN or an
/// infinity, or "" when every value is finite.
std::string first_non_finite(const NamedTensors& state);

/// Copies `state` into the parameters and buffers of `module` by name. A
/// shape mismatch or a non-finite value is always an error naming the entry
/// (and both shapes); with
/// `strict` a missing or unexpected name is an error too (all are listed).
/// `source` names where the state came from in messages.
StateDictLoadReport load_state(
    torch::nn::Module& module, const NamedTensors& state, bool strict, const std::string& source);

}  // namespace ewgs::nn
