// SyncBatchNorm without a group (one process, eval mode) is LibTorch's BatchNorm
// bit for bit; the synchronized path is tested across processes in tests/dist.
#include "ewgs/nn/sync_batch_norm.h"

#include "ewgs/models/registry.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

TEST(SyncBatchNormTest, AloneItIsLibTorchsBatchNorm) {
  torch::manual_seed(1);
  const auto x = torch::randn({5, 3, 4, 4}) * 3 + 2;
  nn::SyncBatchNorm2d sync(3);
  torch::nn::BatchNorm2d plain(3);
  auto y_sync = sync->forward(x);
  auto y_plain = plain->forward(x);
  EXPECT_TRUE(all_equal(y_sync, y_plain));
  EXPECT_TRUE(all_equal(sync->running_var, plain->running_var));
  sync->eval();
  plain->eval();
  EXPECT_TRUE(all_equal(sync->forward(x), plain->forward(x)));
  const auto f = torch::randn({6, 5});
  nn::SyncBatchNorm1d sync1(5);
  torch::nn::BatchNorm1d plain1(5);
  EXPECT_TRUE(all_equal(sync1->forward(f), plain1->forward(f)));
}

TEST(SyncBatchNormTest, EveryModelsBatchNormCanBeSynchronized) {
  models::ModelOptions options;
  auto resnet = models::make_model("resnet20", options);
  // bn1, 9 blocks x 2, and the BatchNorm1d before the classifier.
  EXPECT_EQ(nn::synchronize_batch_norm(*resnet, nullptr), 20);
  options.in_channels = 1;
  EXPECT_EQ(nn::synchronize_batch_norm(*models::make_model("small_cnn", options), nullptr), 3);
}

}  // namespace
}  // namespace ewgs::test
