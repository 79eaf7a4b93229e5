// Checkpoints: round trip of model, optimizer, progress and history; atomic
// replacement; a checksum that catches every corrupted byte; errors that name the file.
#include "ewgs/train/checkpoint.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "ewgs/core/checksum.h"
#include "ewgs/train/atomic_file.h"
#include "support/support.h"
#include "train/train_test_util.h"

namespace ewgs::test {
namespace {

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

train::CheckpointHeader header_of(
    const train::TrainConfig& config, const train::TrainProgress& progress) {
  return {"", config.to_toml(), progress, {"cat", "dog"}, "{\"epoch\":1}\n"};
}

/// A small checkpoint of a Linear(4, 3) with an Adam state, in `dir`.
std::string small_checkpoint(const std::string& dir) {
  std::filesystem::create_directories(dir);
  torch::nn::Linear model(4, 3);
  torch::optim::Adam optimizer(model->parameters(), 0.1);
  model->forward(torch::randn({2, 4})).sum().backward();
  optimizer.step();
  const auto path = dir + "/last.pt";
  train::save_checkpoint(path, header_of(train::TrainConfig(), {}), {*model, &optimizer, nullptr});
  return path;
}

TEST(CheckpointTest, RoundTripsModelOptimizerProgressHistoryAndRng) {
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
  progress.best_epoch = 2;
  progress.last_test_top1 = 86.5;
  progress.last_test_top5 = 99.25;
  progress.last_delta_update = 30;
  train::TrainConfig config;
  config.train_epochs = 17;
  const auto path = dir + "/last.pt";
  torch::manual_seed(5);
  train::save_checkpoint(path, header_of(config, progress), {*a, &opt_a, nullptr});
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
  EXPECT_EQ(header.progress.best_epoch, 2);
  EXPECT_EQ(header.progress.last_test_top1, 86.5);
  EXPECT_EQ(header.progress.last_test_top5, 99.25);
  EXPECT_EQ(header.progress.last_delta_update, 30);
  EXPECT_EQ(header.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(header.metrics, "{\"epoch\":1}\n");
  EXPECT_EQ(train::TrainConfig::from_toml(header.config_toml, "x").train_epochs, 17);
  EXPECT_TRUE(all_equal(a->weight, b->weight));
  EXPECT_EQ(torch::rand({1}).item<double>(), next_draw);  // RNG restored
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
  train::save_checkpoint(
      dir + "/c.pt", header_of(train::TrainConfig(), {}), {*a, nullptr, nullptr});
  torch::nn::Linear b(5, 3);
  EWGS_EXPECT_THROWS_WITH(
      train::load_checkpoint(dir + "/c.pt", {*b, nullptr, nullptr}),
      "weight: model has [3, 5], checkpoint");
}

TEST(CheckpointTest, EveryFlippedByteIsCaughtAndTheErrorNamesTheFile) {
  const auto dir = fresh_dir("ckpt_flip");
  const auto path = small_checkpoint(dir);
  const std::string good = read_all(path);
  ASSERT_GT(good.size(), 1000u);
  const auto flipped = dir + "/flipped.pt";
  write_all(flipped, good);
  train::CheckpointFile(flipped).header();  // intact, it loads
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ (1 << (i % 8)));
    try {
      train::CheckpointFile(std::move(bad), flipped).header();  // the bytes read from `flipped`
      ADD_FAILURE() << "a flipped bit at byte " << i << " of " << good.size() << " loaded";
    } catch (const c10::Error& e) {
      const std::string message = e.what_without_backtrace();
      EXPECT_EQ(message.rfind(flipped, 0), 0u) << "byte " << i << ": " << message;
    }
  }
}

TEST(CheckpointTest, AppendedOrCutBytesAreRejected) {
  const auto dir = fresh_dir("ckpt_append");
  const auto path = small_checkpoint(dir);
  const std::string good = read_all(path);
  write_all(path, good + "garbage");
  EWGS_EXPECT_THROWS_WITH(
      train::read_checkpoint_header(path), path + ": 7 bytes follow its checksum trailer");
  write_all(path, good.substr(0, good.size() - 1));
  EWGS_EXPECT_THROWS_WITH(train::read_checkpoint_header(path), path + ": no checksum trailer");
  write_all(path, good.substr(0, good.size() / 2));
  EWGS_EXPECT_THROWS_WITH(train::read_checkpoint_header(path), "the file is truncated");
  EXPECT_TRUE(train::is_checkpoint(path));  // damaged, but recognizably a checkpoint (not a .pth)
}

TEST(CheckpointTest, LibTorchErrorsAreWrappedToNameTheFileOnOneLine) {
  const auto dir = fresh_dir("ckpt_wrapped");
  std::filesystem::create_directories(dir);
  // A valid checksum over bytes that are no archive, and over an archive
  // that is not an ewgs checkpoint.
  const auto junk = dir + "/junk.pt";
  write_all(junk, append_checksum("PK\x03\x04 not really a zip archive"));
  try {
    train::read_checkpoint_header(junk);
    ADD_FAILURE() << "junk loaded";
  } catch (const c10::Error& e) {
    const std::string message = e.what_without_backtrace();
    EXPECT_EQ(message.rfind(junk + ": not a readable ewgs checkpoint (", 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  torch::serialize::OutputArchive archive;
  archive.write("something", c10::IValue(int64_t{1}));
  std::string bytes;
  archive.save_to([&](const void* data, size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  const auto other = dir + "/other.pt";
  write_all(other, append_checksum(bytes));
  EWGS_EXPECT_THROWS_WITH(
      train::read_checkpoint_header(other), other + ": checkpoint has no 'ewgs_checkpoint_format'");
}

TEST(CheckpointTest, RejectsFilesThatAreNotCheckpoints) {
  const auto dir = fresh_dir("ckpt_bad");
  std::filesystem::create_directories(dir);
  write_all(dir + "/junk.pt", "not a zip");
  EXPECT_FALSE(train::is_checkpoint(dir + "/junk.pt"));
  EWGS_EXPECT_THROWS_WITH(
      train::read_checkpoint_header(dir + "/junk.pt"), dir + "/junk.pt: no checksum trailer");
  EWGS_EXPECT_THROWS_WITH(
      train::read_checkpoint_header(dir + "/missing.pt"), "missing.pt does not exist");
  EXPECT_FALSE(train::is_checkpoint(shared_data_path("resnet20-fp-cifar10jpeg-official.pth")));
}

TEST(CheckpointTest, AFifoIsRefusedInsteadOfBlocking) {
  const auto dir = fresh_dir("ckpt_fifo");
  std::filesystem::create_directories(dir);
  const auto fifo = dir + "/fifo.pt";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EWGS_EXPECT_THROWS_WITH(
      train::read_checkpoint_header(fifo), fifo + " is not a regular file (it is a FIFO)");
  EWGS_EXPECT_THROWS_WITH(train::is_checkpoint(fifo), "is not a regular file (it is a FIFO)");
}

TEST(CheckpointTest, ADivergedModelIsNeverWritten) {
  const auto dir = fresh_dir("ckpt_nan");
  std::filesystem::create_directories(dir);
  torch::nn::Linear model(4, 3);
  {
    torch::NoGradGuard no_grad;
    model->bias[1] = std::numeric_limits<float>::infinity();
  }
  EWGS_EXPECT_THROWS_WITH(
      train::save_checkpoint(
          dir + "/last.pt", header_of(train::TrainConfig(), {}), {*model, nullptr, nullptr}),
      "refusing to write a checkpoint: model tensor 'bias' has non-finite values");
  EXPECT_FALSE(std::filesystem::exists(dir + "/last.pt"));
}

TEST(AtomicFileTest, AFailedWriteLeavesTheOldFileAndNoTemporary) {
  const auto dir = fresh_dir("atomic");
  std::filesystem::create_directories(dir);
  const auto path = dir + "/file";
  train::write_file_atomically(path, "old");
  // A file-size limit makes the write fail part way, as a full disk does;
  // in a child process, so the limit stays there.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    const struct rlimit limit { 100, 100 };
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      train::write_file_atomically(path, std::string(1000, 'x'));
      ::_exit(2);
    } catch (const c10::Error& e) {
      const std::string message = e.what_without_backtrace();
      const bool named =
          message.find(
              "cannot write " + path + ": File too large; the file needs 1.0 kB (1000 bytes)") !=
          std::string::npos;
      ::_exit(named && message.find(" free") != std::string::npos ? 0 : 3);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the writer died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "2: the write succeeded; 3: the message lacks the path or sizes";
  EXPECT_EQ(read_all(path), "old");
  EXPECT_EQ(
      std::distance(
          std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()),
      1);
  EWGS_EXPECT_THROWS_WITH(
      train::write_file_atomically(dir + "/no/such/dir/file", "x"), "cannot write");
}

TEST(AtomicFileTest, StaleTemporariesOfDeadProcessesAreRemoved) {
  const auto dir = fresh_dir("atomic_stale");
  std::filesystem::create_directories(dir);
  // A process id that is free now: a child that has exited and been reaped.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::_exit(0);
  }
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  const std::string dead = ".last.pt.tmp." + std::to_string(child);
  const std::string alive = ".last.pt.tmp." + std::to_string(::getppid());
  for (const auto& name : {dead, alive, std::string("keep.tmp.1")}) {
    write_all(dir + "/" + name, "x");
  }
  EXPECT_EQ(train::remove_stale_temporaries(dir), std::vector<std::string>{dead});
  EXPECT_FALSE(std::filesystem::exists(dir + "/" + dead));
  EXPECT_TRUE(std::filesystem::exists(dir + "/" + alive));
  EXPECT_TRUE(std::filesystem::exists(dir + "/keep.tmp.1"));
}

}  // namespace
}  // namespace ewgs::test
