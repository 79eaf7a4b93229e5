// Test entry point: skips *_CUDA cases when no GPU is present and pins the
// thread count so results do not depend on the machine.
#include <gtest/gtest.h>
#include <torch/torch.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!torch::cuda::is_available()) {
    auto& filter = ::testing::GTEST_FLAG(filter);
    filter += (filter.find('-') == std::string::npos ? "-" : ":") + std::string("*_CUDA");
  }
  at::set_num_threads(2);
  return RUN_ALL_TESTS();
}
