// The model and global batch of the data-parallel gradient test, built the same
// way by the test and by each rank of dist_worker.
#pragma once

#include <torch/torch.h>

namespace ewgs::test {

/// Two linear layers and a parameter the forward pass never uses.
struct TinyNetImpl : torch::nn::Module {
  TinyNetImpl() {
    torch::manual_seed(7);
    fc1 = register_module("fc1", torch::nn::Linear(5, 7));
    fc2 = register_module("fc2", torch::nn::Linear(7, 3));
    unused = register_parameter("unused", torch::ones({2}));
  }
  torch::Tensor forward(const torch::Tensor& x) { return fc2(torch::tanh(fc1(x))); }

  torch::nn::Linear fc1{nullptr};
  torch::nn::Linear fc2{nullptr};
  torch::Tensor unused;
};
TORCH_MODULE(TinyNet);

/// Nine samples (an odd count, so two shards differ in size) and their labels.
inline std::pair<torch::Tensor, torch::Tensor> tiny_global_batch() {
  torch::manual_seed(11);
  auto x = torch::randn({9, 5});
  auto y = torch::randint(0, 3, {9}, torch::kLong);
  return {x, y};
}

/// A BatchNorm test case: seven samples (N, 3, 4, 4) or (N, 5), a probe the
/// loss sum(y * probe) / N weighs the output with, and the affine parameters.
struct BatchNormCase {
  torch::Tensor x;
  torch::Tensor probe;
  torch::Tensor gamma;
  torch::Tensor beta;
};

inline BatchNormCase batch_norm_case(bool two_d) {
  torch::manual_seed(two_d ? 3 : 4);
  const std::vector<int64_t> shape =
      two_d ? std::vector<int64_t>{7, 3, 4, 4} : std::vector<int64_t>{7, 5};
  const int64_t channels = shape[1];
  return {
      torch::randn(shape) * 2 + 1,
      torch::randn(shape),
      torch::rand({channels}) + 0.5,
      torch::randn({channels})};
}

}  // namespace ewgs::test
