// Internal: the state of LibTorch's SGD and Adam optimizers (options of each group and
// each parameter's buffers) as plain values that checkpoints pickle, and restored from
// them; LibTorch's own optimizer archives need its TorchScript importer to read.
#pragma once

#include <ATen/core/ivalue.h>
#include <torch/optim/optimizer.h>

#include <memory>
#include <string>

namespace ewgs::train::detail {

/// The state LibTorch holds for parameter `p` of `optimizer`, or null (none yet).
torch::optim::OptimizerParamState* param_state(
    torch::optim::Optimizer& optimizer, const torch::Tensor& p);

/// Whether `optimizer` is LibTorch's Adam; an error naming `user` unless it is Adam
/// or SGD, the two whose state ewgs knows.
bool is_adam(torch::optim::Optimizer& optimizer, const char* user);

/// {"kind": "sgd" | "adam", "groups": [{options..., "state": [per parameter: None or
/// {buffer name: tensor (on the CPU), "step": int}]}]}. CPU buffers are the
/// optimizer's own tensors, not copies: serialize the value before the next step.
c10::IValue optimizer_state_value(torch::optim::Optimizer& optimizer);

/// Puts `value` (as optimizer_state_value writes it) into `optimizer`, whose groups and
/// parameters must match it in number, shape and type; buffers go to each parameter's
/// device. `where` names the value in errors. Nothing changes when an error is raised.
void restore_optimizer_state(
    torch::optim::Optimizer& optimizer, const c10::IValue& value, const std::string& where);

}  // namespace ewgs::train::detail
