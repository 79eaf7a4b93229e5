// LibTorch's SGD and Adam updates with their per-step numbers (learning rate, Adam's
// step count) in device tensors, so that a captured CUDA graph of a training step
// replays them correctly (LibTorch's own step bakes host numbers into its launches).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "ewgs/train/optimizers.h"

namespace ewgs::train {

/// The update of `Optimizers` as tensor operations on the optimizers' own state
/// tensors (momentum buffers, Adam's moments), with the same formulas as
/// torch::optim::SGD and torch::optim::Adam. Learning rate and Adam's bias
/// corrections are read from device tensors that prepare() fills, so one captured
/// graph of step() serves every step and epoch. Needs the optimizers' state in
/// place (one ordinary step first); finish() advances LibTorch's host-side step
/// counts, so a checkpoint holds what LibTorch's own step would have left.
class DeviceOptimizerStep {
 public:
  /// Takes the state of every parameter that has one; errors if a parameter with
  /// a gradient has none yet (take one ordinary step first).
  explicit DeviceOptimizerStep(Optimizers& optimizers);

  /// Writes the coming step's learning rates and step counts into the device
  /// tensors (outside a graph capture: these are host-to-device writes).
  void prepare();
  /// The update itself: no host synchronization, so a CUDA graph may capture it.
  void step();
  /// After the update ran: advances the host-side step counts as LibTorch does.
  void finish();

 private:
  enum class Kind { kSgd, kAdam };
  /// One parameter group of one optimizer.
  struct Group {
    Kind kind;
    torch::optim::OptimizerParamGroup* group;
    std::vector<torch::Tensor> params;
    /// SGD: momentum buffers (empty without momentum); Adam: first moments.
    std::vector<torch::Tensor> first;
    /// Adam: second moments (and their running maxima with amsgrad).
    std::vector<torch::Tensor> second;
    std::vector<torch::Tensor> second_max;
    std::vector<torch::optim::AdamParamState*> adam_states;
    torch::Tensor lr;    ///< float64 scalar on the parameters' device
    torch::Tensor step;  ///< Adam: the coming step's count, float64
  };

  static Group take_group(
      torch::optim::Optimizer& optimizer, torch::optim::OptimizerParamGroup& group);
  static void sgd_step(Group& g);
  static void adam_step(Group& g);

  std::vector<Group> groups_;
};

}  // namespace ewgs::train
