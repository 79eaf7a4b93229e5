// Checkpoints: round trip of model, optimizer and progress; atomic replacement;
// errors for files that are not checkpoints.
#include "ewgs/train/checkpoint.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "ewgs/train/atomic_file.h"
#include "support/support.h"
#include "train/train_test_util.h"

namespace ewgs::test {
namespace {

TEST(CheckpointTest, RoundTripsModelOptimizerProgressAndRng) {
  const auto dir = fresh_dir("ckpt");
  std::filesystem::create_directories(dir);
  torch::manual_seed(0);
  torch::nn::Linear a(4, 3);
  torch::optim::Adam opt_a(a->parameters(), 0.1);
  a->forward(torch::randn({2, 4})).sum().backward();
  opt_a.step();
  train::TrainProgress progress;
  progress.epoch = 3;
  progress.batch = 5;
  progress.global_step = 41;
  progress.epoch_loss_sum = 12.5;
  progress.best_top1 = 87.25;
  progress.last_delta_update = 30;
  train::TrainConfig config;
  config.train_epochs = 17;
  const auto path = dir + "/last.pt";
  torch::manual_seed(5);
  train::save_checkpoint(path, config, progress, {*a, &opt_a, nullptr});
  const double next_draw = torch::rand({1}).item<double>();

  torch::nn::Linear b(4, 3);
  torch::optim::Adam opt_b(b->parameters(), 0.1);
  EXPECT_TRUE(train::is_checkpoint(path));
  const auto header = train::load_checkpoint(path, {*b, &opt_b, nullptr});
  EXPECT_EQ(header.progress.epoch, 3);
  EXPECT_EQ(header.progress.batch, 5);
  EXPECT_EQ(header.progress.global_step, 41);
  EXPECT_EQ(header.progress.epoch_loss_sum, 12.5);
  EXPECT_EQ(header.progress.best_top1, 87.25);
  EXPECT_EQ(header.progress.last_delta_update, 30);
  EXPECT_EQ(train::TrainConfig::from_toml(header.config_toml, "x").train_epochs, 17);
  EXPECT_TRUE(all_equal(a->weight, b->weight));
  EXPECT_EQ(torch::rand({1}).item<double>(), next_draw); // RNG restored
  // Same optimizer state: one more identical step gives identical weights.
  for (auto* m : {&a, &b}) {
    (*m)->zero_grad();
    (*m)->forward(torch::ones({1, 4})).sum().backward();
  }
  opt_a.step();
  opt_b.step();
  EXPECT_TRUE(all_equal(a->weight, b->weight));
}

TEST(CheckpointTest, LoadingIntoAnotherModelSaysWhatDiffers) {
  const auto dir = fresh_dir("ckpt_mismatch");
  std::filesystem::create_directories(dir);
  torch::nn::Linear a(4, 3);
  train::save_checkpoint(dir + "/c.pt", train::TrainConfig(), {}, {*a, nullptr, nullptr});
  torch::nn::Linear b(5, 3);
  EWGS_EXPECT_THROWS_WITH(
      train::load_checkpoint(dir + "/c.pt", {*b, nullptr, nullptr}), "weight: model has [3, 5], checkpoint");
}

TEST(CheckpointTest, RejectsFilesThatAreNotCheckpoints) {
  const auto dir = fresh_dir("ckpt_bad");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/junk.pt") << "not a zip";
  EXPECT_FALSE(train::is_checkpoint(dir + "/junk.pt"));
  EWGS_EXPECT_THROWS_WITH(train::read_checkpoint_header(dir + "/junk.pt"), "is not an ewgs checkpoint");
  EWGS_EXPECT_THROWS_WITH(train::read_checkpoint_header(dir + "/missing.pt"), "does not exist");
  EXPECT_FALSE(train::is_checkpoint(shared_data_path("resnet20-fp-cifar10jpeg-official.pth")));
}

TEST(AtomicFileTest, AFailedWriteLeavesTheOldFileAndNoTemporary) {
  const auto dir = fresh_dir("atomic");
  std::filesystem::create_directories(dir);
  const auto path = dir + "/file";
  train::write_file_atomically(path, [](const auto& sink) { sink("old", 3); });
  EXPECT_THROW(
      train::write_file_atomically(
          path,
          [](const auto& sink) {
            sink("partial", 7);
            TORCH_CHECK(false, "disk full");
          }),
      c10::Error);
  std::ifstream in(path);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "old");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()), 1);
  EWGS_EXPECT_THROWS_WITH(
      train::write_file_atomically(dir + "/no/such/dir/file", [](const auto& sink) { sink("x", 1); }),
      "cannot write");
}

} // namespace
} // namespace ewgs::test
