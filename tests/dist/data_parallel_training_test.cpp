// `ewgs train` with two ranks (its own --nproc launcher, and a torchrun-style
// environment) against one process: the same training, step by step; resumes
// across world sizes; a rank that dies or runs another config fails the run.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "ewgs/dist/local_launcher.h"
#include "ewgs/experiments/child_process.h"
#include "ewgs/train/checkpoint.h"
#include "support/image_files.h"
#include "support/subprocess.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

namespace fs = std::filesystem;

/// EWGS small_cnn with 1-bit weights, `abits`-bit activations and synchronized
/// BatchNorm on a tiny image folder: 120 training images in batches of 16 (8
/// steps per epoch, the last of 8 images), every step's loss recorded, one
/// thread per process.
std::vector<std::string> recipe(const std::string& data, int epochs, int abits = 1) {
  return {
      "--data.dataset=cifar10-jpeg",
      "--data.root=" + data,
      "--model.name=small_cnn",
      "--quant.method=ewgs",
      "--quant.wbits=1",
      "--quant.abits=" + std::to_string(abits),
      "--quant.delta=0.001",
      "--model.sync_bn=true",
      "--train.batch_size=16",
      "--train.epochs=" + std::to_string(epochs),
      "--optim.schedule=constant",
      "--optim.lr=0.05",
      "--train.log_steps=1",
      "--run.threads=1",
      "--data.workers=1",
      "--json"};
}

/// The "steps" records' losses of a run, in order.
std::vector<double> step_losses(const fs::path& run) {
  std::ifstream in(run / "metrics.jsonl");
  std::vector<double> out;
  for (std::string line; std::getline(in, line);) {
    const auto record = nlohmann::json::parse(line);
    if (record.value("event", "") == "steps") {
      out.push_back(record.at("train_loss").get<double>());
    }
  }
  return out;
}

std::vector<double> test_accuracies(const fs::path& run) {
  std::ifstream in(run / "metrics.jsonl");
  std::vector<double> out;
  for (std::string line; std::getline(in, line);) {
    const auto record = nlohmann::json::parse(line);
    if (record.contains("test_top1") && !record.contains("event")) {
      out.push_back(record.at("test_top1").get<double>());
    }
  }
  return out;
}

/// A small_cnn state in double, with each BatchNorm's running statistics
/// divided by the output scale of the quantized convolution before it (mean
/// by s, variance by s^2). BatchNorm makes the loss blind to that scale, so
/// its gradient is float rounding alone, which the optimizer turns into a
/// walk that differs between runs (1.3e-4 relative for conv2 over 200
/// steps); the statistics follow the scale, and what they hold relative to
/// it is what the runs must share.
std::vector<std::pair<std::string, torch::Tensor>> scale_free_state(
    std::vector<std::pair<std::string, torch::Tensor>> state) {
  std::map<std::string, torch::Tensor> scales;
  for (const auto& [name, tensor] : state) {
    const std::string suffix = ".output_scale";
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      // convK.output_scale scales what bnK normalizes.
      scales["bn" + name.substr(4, name.size() - suffix.size() - 4)] = tensor.to(torch::kDouble);
    }
  }
  for (auto& [name, tensor] : state) {
    tensor = tensor.to(torch::kDouble);
    const auto dot = name.find('.');
    const auto scale = scales.find(name.substr(0, dot));
    if (scale == scales.end()) {
      continue;
    }
    if (name.substr(dot + 1) == "running_mean") {
      tensor = tensor / scale->second;
    } else if (name.substr(dot + 1) == "running_var") {
      tensor = tensor / scale->second.square();
    }
  }
  return state;
}

class DataParallelTrainingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("ewgs_ddp_" + std::to_string(::getpid())));
    fs::remove_all(*root_);
    data_ = new std::string((*root_ / "data").string());
    write_tiny_image_folder(*data_, {{"train", {"cat", "dog", "frog"}}}, 40, /*seed=*/1);
    write_tiny_image_folder(*data_, {{"test", {"cat", "dog", "frog"}}}, 4, /*seed=*/2);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
    delete data_;
  }

  /// `ewgs train` with `extra` arguments, then the recipe; asserts success.
  static fs::path train(
      const std::string& name, std::vector<std::string> extra, int epochs, int abits) {
    const auto dir = *root_ / name;
    std::vector<std::string> args{"train", "--run-dir", dir.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = recipe(*data_, epochs, abits);
    args.insert(args.end(), r.begin(), r.end());
    const auto result = run_process(EWGS_CLI, args, 600);
    EXPECT_EQ(result.status, 0) << result.stderr_text;
    return dir;
  }

  static fs::path resume(const fs::path& dir, std::vector<std::string> extra, int epochs) {
    std::vector<std::string> args{
        "train", "--resume", dir.string(), "--train.epochs=" + std::to_string(epochs), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto result = run_process(EWGS_CLI, args, 600);
    EXPECT_EQ(result.status, 0) << result.stderr_text;
    return dir;
  }

  /// One process's W1A32 run, trained once for the suite.
  static const fs::path& one_process() {
    static const fs::path run = train("one", {}, kEpochs, 32);
    return run;
  }

  static constexpr int kEpochs = 25;
  static fs::path* root_;
  static std::string* data_;
};

fs::path* DataParallelTrainingTest::root_ = nullptr;
std::string* DataParallelTrainingTest::data_ = nullptr;

/// |a - b| <= tolerance for the first `count` steps.
void expect_same_steps(
    const std::vector<double>& a, const std::vector<double>& b, size_t count, double tolerance) {
  ASSERT_GE(a.size(), count);
  ASSERT_GE(b.size(), count);
  for (size_t i = 0; i < count; ++i) {
    EXPECT_NEAR(a[i], b[i], tolerance) << "step " << i + 1;
  }
}

TEST_F(DataParallelTrainingTest, TwoRanksTrainAsOneProcessWithTheWholeBatch) {
  const auto one = one_process();
  const auto two = train("two", {"--nproc", "2"}, kEpochs, 32);
  const auto losses_one = step_losses(one);
  const auto losses_two = step_losses(two);
  ASSERT_EQ(losses_one.size(), 8u * kEpochs);
  // Two ranks sum each batch's gradients and BatchNorm statistics in another
  // order (8 + 8 samples, then across ranks): float32 rounding, which these
  // 200 steps keep below 1e-6 (5e-7 measured); a missing all-reduce, a wrong
  // loss weight, local BatchNorm statistics or the estimator applied to each
  // rank's part of the weight gradient change losses by 1e-3 and more.
  expect_same_steps(losses_one, losses_two, losses_one.size(), 1e-5);
  EXPECT_EQ(test_accuracies(one), test_accuracies(two));
  const auto model_one =
      scale_free_state(train::read_checkpoint_model_state((one / "last.pt").string()));
  const auto model_two =
      scale_free_state(train::read_checkpoint_model_state((two / "last.pt").string()));
  ASSERT_EQ(model_one.size(), model_two.size());
  for (size_t i = 0; i < model_one.size(); ++i) {
    EXPECT_EQ(model_one[i].first, model_two[i].first);
    EXPECT_TRUE(all_close(model_two[i].second, model_one[i].second, 1e-4, 1e-5))
        << model_one[i].first;
  }
}

TEST_F(DataParallelTrainingTest, W1A1RanksFollowTheAccuracyCurveOfOneProcess) {
  const auto one = train("one_w1a1", {}, 10, 1);
  const auto two = train("two_w1a1", {"--nproc", "2"}, 10, 1);
  const auto losses_one = step_losses(one);
  const auto losses_two = step_losses(two);
  ASSERT_EQ(losses_two.size(), 80u);
  // The first forward pass is the same up to float rounding. Later steps are
  // not: binary activations times binary weights give convolution outputs on a
  // lattice, where BatchNorm sends exact ties to ReLU's kink and max-pool's
  // argmax, and which side float rounding puts them on picks a different
  // subgradient. The runs then agree as two seeds do, not step by step.
  EXPECT_NEAR(losses_one[0], losses_two[0], 1e-6);
  const auto accuracy_one = test_accuracies(one);
  const auto accuracy_two = test_accuracies(two);
  ASSERT_EQ(accuracy_one.size(), accuracy_two.size());
  for (size_t e = 0; e < accuracy_one.size(); ++e) {
    // One of the 12 test images is 8.3 points.
    EXPECT_NEAR(accuracy_one[e], accuracy_two[e], 100.0 / 12.0 + 1e-9) << "epoch " << e + 1;
  }
}

TEST_F(DataParallelTrainingTest, ATorchrunStyleEnvironmentRunsTheSameRanks) {
  const auto launched = train("launched", {"--nproc", "2"}, 3, 1);
  const auto dir = *root_ / "environment";
  const std::string port = std::to_string(dist::free_loopback_port());
  std::vector<std::future<ProcessResult>> ranks;
  for (int r = 0; r < 2; ++r) {
    std::vector<std::string> args{
        "RANK=" + std::to_string(r),
        "WORLD_SIZE=2",
        "LOCAL_RANK=" + std::to_string(r),
        "MASTER_ADDR=127.0.0.1",
        "MASTER_PORT=" + port,
        EWGS_CLI,
        "train",
        "--run-dir",
        dir.string()};
    const auto rest = recipe(*data_, 3);
    args.insert(args.end(), rest.begin(), rest.end());
    ranks.push_back(
        std::async(std::launch::async, [args] { return run_process("/usr/bin/env", args, 600); }));
  }
  for (auto& rank : ranks) {
    const auto result = rank.get();
    EXPECT_EQ(result.status, 0) << result.stderr_text;
  }
  // The same ranks, the same reductions: the same bits.
  EXPECT_EQ(step_losses(dir), step_losses(launched));
  EXPECT_EQ(step_losses(dir).size(), 24u);
}

TEST_F(DataParallelTrainingTest, RunsResumeWithAnotherNumberOfRanks) {
  const auto losses_one = step_losses(one_process());
  const auto from_two = train("from_two", {"--nproc", "2"}, 2, 32);
  resume(from_two, {}, 4);
  const auto from_one = train("from_one", {}, 2, 32);
  resume(from_one, {"--nproc", "2"}, 4);
  // Tolerance as in TwoRanksTrainAsOneProcessWithTheWholeBatch, over 32 steps.
  expect_same_steps(step_losses(from_two), losses_one, 32, 1e-5);
  expect_same_steps(step_losses(from_one), losses_one, 32, 1e-5);
  EXPECT_EQ(step_losses(from_one).size(), 32u);
}

TEST_F(DataParallelTrainingTest, ADeadRankStopsTheOthersWithAnError) {
  const auto dir = *root_ / "killed";
  const auto log = (*root_ / "killed.log").string();
  std::vector<std::string> argv{
      EWGS_CLI, "train", "--nproc", "2", "--run-dir", dir.string(), "--dist.timeout_s=60"};
  const auto rest = recipe(*data_, 1000);
  argv.insert(argv.end(), rest.begin(), rest.end());
  const auto start = std::chrono::steady_clock::now();
  const pid_t launcher = experiments::start_process(argv, log);
  // Once rank 0 has finished an epoch, kill rank 1 (SIGKILL: no goodbye).
  pid_t rank1 = -1;
  while (rank1 < 0 && std::chrono::steady_clock::now() - start < std::chrono::seconds(120)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (!fs::exists(dir / "last.pt")) {
      continue;
    }
    std::ifstream children(
        "/proc/" + std::to_string(launcher) + "/task/" + std::to_string(launcher) + "/children");
    for (pid_t child; children >> child;) {
      std::ifstream environ("/proc/" + std::to_string(child) + "/environ");
      const std::string env(
          (std::istreambuf_iterator<char>(environ)), std::istreambuf_iterator<char>());
      if (env.find(std::string("RANK=1") + '\0') != std::string::npos &&
          env.find(std::string("LOCAL_RANK=1") + '\0') != std::string::npos) {
        rank1 = child;
      }
    }
  }
  ASSERT_GT(rank1, 0) << "rank 1 never trained an epoch:\n" << experiments::tail_of_file(log, 20);
  ::kill(rank1, SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  int status = 0;
  while (::waitpid(launcher, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() - killed > std::chrono::seconds(90)) {
      ::kill(launcher, SIGKILL);
      ::waitpid(launcher, &status, 0);
      FAIL() << "the run hung after rank 1 died:\n" << experiments::tail_of_file(log, 20);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(experiments::exit_code(status), 0);
  const std::string tail = experiments::tail_of_file(log, 30);
  EXPECT_NE(tail.find("rank 0 of 2: "), std::string::npos) << tail;
  // The last committed epoch stays resumable.
  EXPECT_TRUE(fs::exists(dir / "last.pt"));
}

TEST_F(DataParallelTrainingTest, RanksWithDifferentConfigsFailNamingTheSetting) {
  const std::string port = std::to_string(dist::free_loopback_port());
  const auto dir = *root_ / "mismatch";
  std::vector<std::future<ProcessResult>> ranks;
  for (int r = 0; r < 2; ++r) {
    std::vector<std::string> args{
        "RANK=" + std::to_string(r),
        "WORLD_SIZE=2",
        "MASTER_ADDR=127.0.0.1",
        "MASTER_PORT=" + port,
        EWGS_CLI,
        "train",
        "--run-dir",
        dir.string()};
    const auto rest = recipe(*data_, 1);
    args.insert(args.end(), rest.begin(), rest.end());
    args.push_back(r == 0 ? "--optim.lr=0.05" : "--optim.lr=0.1");
    ranks.push_back(
        std::async(std::launch::async, [args] { return run_process("/usr/bin/env", args, 120); }));
  }
  const auto rank0 = ranks[0].get();
  const auto rank1 = ranks[1].get();
  EXPECT_EQ(rank0.status, 1);
  EXPECT_EQ(rank1.status, 1);
  EXPECT_NE(
      rank1.stderr_text.find(
          "rank 1 runs another config than rank 0: 'lr = 0.1' here, 'lr = 0.05' on rank 0"),
      std::string::npos)
      << rank1.stderr_text;
  EXPECT_NE(
      rank0.stderr_text.find("another rank runs a config that differs from rank 0's"),
      std::string::npos)
      << rank0.stderr_text;
}

}  // namespace
}  // namespace ewgs::test
