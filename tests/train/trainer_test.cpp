// The trainer: exact resume after an interruption, non-finite loss handling,
// refusing to mix models, the FP -> quantized protocol and Hessian delta updates.
#include "ewgs/train/trainer.h"

#include <csignal>
#include <sstream>

#include "ewgs/train/checkpoint.h"
#include "ewgs/train/stop_signal.h"
#include "support/support.h"
#include "train/train_test_util.h"

namespace ewgs::test {
namespace {

using train::Trainer;
using train::TrainerOptions;

TEST(TrainerTest, ResumedRunReproducesTheUninterruptedLossesExactly) {
  std::ostringstream log;
  const auto config = tiny_config(3);
  const auto full_dir = fresh_dir("full");
  const auto full = Trainer(config, full_dir, quiet(log)).run();
  ASSERT_EQ(full.status, "completed") << full.message;

  // Stop mid-epoch 2 (after global step 9 of 18), then resume.
  const auto split_dir = fresh_dir("split");
  auto options = quiet(log);
  options.on_step = [](int64_t step) {
    if (step == 9) {
      train::StopSignalGuard::raise_for_test(SIGINT);
    }
  };
  const auto stopped = Trainer(config, split_dir, options).run();
  EXPECT_EQ(stopped.status, "interrupted");
  EXPECT_NE(stopped.message.find("epoch 2 batch 3"), std::string::npos) << stopped.message;
  EXPECT_NE(stopped.message.find("ewgs train --resume " + split_dir), std::string::npos);
  EXPECT_EQ(train::read_checkpoint_header(split_dir + "/last.pt").progress.global_step, 9);
  const auto resumed = Trainer::resume(split_dir, {}, quiet(log))->run();
  ASSERT_EQ(resumed.status, "completed") << resumed.message;

  const auto a = epoch_records(full_dir);
  const auto b = epoch_records(split_dir);
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["train_loss"].get<double>(), b[i]["train_loss"].get<double>())
        << "epoch " << i + 1;
    EXPECT_EQ(a[i]["train_top1"].get<double>(), b[i]["train_top1"].get<double>())
        << "epoch " << i + 1;
  }
  EXPECT_EQ(full.final_top1, resumed.final_top1);
  EXPECT_GT(full.final_top1, 20.0);  // chance is 10 %: it learned in 18 steps
}

TEST(TrainerTest, DeviceResidentDataTrainsExactlyLikeTheThreadedLoader) {
  std::ostringstream log;
  auto threaded = tiny_config(2);
  threaded.data_device_resident = "off";
  auto resident = threaded;
  resident.data_device_resident = "on";  // on the CPU here; the same ops run on a GPU
  const auto a_dir = fresh_dir("threaded");
  const auto b_dir = fresh_dir("resident");
  ASSERT_EQ(Trainer(threaded, a_dir, quiet(log)).run().status, "completed");
  ASSERT_EQ(Trainer(resident, b_dir, quiet(log)).run().status, "completed");
  const auto a = epoch_records(a_dir);
  const auto b = epoch_records(b_dir);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["train_loss"].get<double>(), b[i]["train_loss"].get<double>());
    EXPECT_EQ(a[i].contains("test_top1"), b[i].contains("test_top1")) << "epoch " << i + 1;
  }
  EXPECT_EQ(a[1]["test_top1"].get<double>(), b[1]["test_top1"].get<double>());
}

TEST(TrainerTest, NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint) {
  std::ostringstream log;
  auto config = tiny_config(2);
  const auto dir = fresh_dir("nan");
  ASSERT_EQ(Trainer(config, dir, quiet(log)).run().status, "completed");
  const auto before = train::read_checkpoint_header(dir + "/last.pt").progress.global_step;
  // Extend the run with an absurd learning rate: the loss blows up.
  const auto result = Trainer::resume(dir, {"train.epochs=4", "optim.lr=1e30"}, quiet(log))->run();
  EXPECT_EQ(result.status, "failed");
  EXPECT_NE(
      result.message.find(
          "training diverged in epoch 3: the loss became non-finite at global step"),
      std::string::npos)
      << result.message;
  EXPECT_NE(result.message.find("last good checkpoint is " + dir + "/last.pt"), std::string::npos);
  EXPECT_EQ(train::read_checkpoint_header(dir + "/last.pt").progress.global_step, before);
}

TEST(TrainerTest, ResumeRefusesToChangeTheModel) {
  std::ostringstream log;
  const auto dir = fresh_dir("refuse");
  ASSERT_EQ(Trainer(tiny_config(1), dir, quiet(log)).run().status, "completed");
  EWGS_EXPECT_THROWS_WITH(
      Trainer::resume(dir, {"quant.method=ewgs", "quant.wbits=1", "quant.abits=1"}, quiet(log)),
      "cannot resume " + dir + " with quant.method = \"ewgs\": the run was started with \"off\"");
  EWGS_EXPECT_THROWS_WITH(Trainer(tiny_config(1), dir, quiet(log)), "already holds a run");
  EWGS_EXPECT_THROWS_WITH(Trainer::resume(fresh_dir("empty"), {}, quiet(log)), "has no last.pt");
}

/// tiny_config at W1A1 with EWGS, its delta from the Hessian (4 probes at most),
/// and Adam at the paper's learning rate.
train::TrainConfig tiny_hessian_config(int64_t epochs) {
  auto c = tiny_config(epochs);
  c.quant_method = "ewgs";
  c.quant_wbits = 1;
  c.quant_abits = 1;
  c.quant_delta = "hessian";
  c.hessian_max_probes = 4;
  c.optim_optimizer = "adam";
  c.optim_lr = 1e-3;
  return c;
}

TEST(TrainerTest, QuantizedFineTuningStartsFromTheFullPrecisionRun) {
  std::ostringstream log;
  const auto fp_dir = fresh_dir("fp");
  ASSERT_EQ(Trainer(tiny_config(1), fp_dir, quiet(log)).run().status, "completed");
  auto q = tiny_hessian_config(2);
  q.hessian_period = 1;
  q.hessian_batches = 2;
  q.train_init_from = fp_dir + "/last.pt";
  const auto q_dir = fresh_dir("w1a1");
  const auto result = Trainer(q, q_dir, quiet(log)).run();
  ASSERT_EQ(result.status, "completed") << result.message;
  EXPECT_NE(log.str().find("initialized from " + fp_dir + "/last.pt"), std::string::npos);
  // One delta update at the start of epoch 2, logged with every quantizer.
  std::ifstream in(q_dir + "/metrics.jsonl");
  std::string line;
  int updates = 0;
  while (std::getline(in, line)) {
    const auto r = nlohmann::json::parse(line);
    if (r.value("event", "") == "delta_update") {
      ++updates;
      EXPECT_EQ(r["epoch"], 2);
      EXPECT_EQ(r["quantizers"].size(), 4u);  // conv2, conv3: weight and activation
      for (const auto& e : r["quantizers"]) {
        EXPECT_TRUE(e["delta"].is_number());
        EXPECT_GE(e["delta"].get<double>(), 0.0);
      }
    }
  }
  EXPECT_EQ(updates, 1);
  const auto records = epoch_records(q_dir);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["layers"].size(), 2u);
  EXPECT_TRUE(records[1]["layers"][0]["weight"].contains("delta"));

  // A quantized checkpoint cannot seed another bit-width.
  auto other = q;
  other.quant_wbits = 2;
  other.train_init_from = q_dir + "/last.pt";
  EWGS_EXPECT_THROWS_WITH(
      Trainer(other, fresh_dir("w2"), quiet(log)), "was trained as small_cnn W1A1 ewgs");
}

/// The delta updates of metrics.jsonl: global step and every quantizer's delta.
std::vector<std::pair<int64_t, std::vector<double>>> delta_updates(const std::string& run_dir) {
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::vector<std::pair<int64_t, std::vector<double>>> out;
  std::string line;
  while (std::getline(in, line)) {
    const auto r = nlohmann::json::parse(line);
    if (r.value("event", "") == "delta_update") {
      std::vector<double> deltas;
      for (const auto& q : r["quantizers"]) {
        deltas.push_back(q["delta"].get<double>());
      }
      out.emplace_back(r["global_step"].get<int64_t>(), deltas);
    }
  }
  return out;
}

TEST(TrainerTest, AStopSignalEndsAHessianUpdateAndTheResumedRunRepeatsIt) {
  // Updates after global steps 3, 6, 9 and 12; the signal arrives as the one
  // after step 6 starts, which stops at its first quantizer instead of after
  // all of them, and the resumed run makes it before step 7.
  std::ostringstream log;
  auto config = tiny_hessian_config(2);
  config.hessian_period_unit = "iterations";
  config.hessian_period = 3;
  config.hessian_batches = 1;
  const auto full_dir = fresh_dir("hessian_full");
  ASSERT_EQ(Trainer(config, full_dir, quiet(log)).run().status, "completed");

  const auto split_dir = fresh_dir("hessian_split");
  auto options = quiet(log);
  options.on_step = [](int64_t step) {
    if (step == 6) {
      train::StopSignalGuard::raise_for_test(SIGINT);
    }
  };
  std::ostringstream stopped_log;
  options.out = &stopped_log;
  const auto stopped = Trainer(config, split_dir, options).run();
  EXPECT_EQ(stopped.status, "interrupted") << stopped.message;
  EXPECT_NE(stopped_log.str().find("delta update stopped by signal"), std::string::npos);
  const auto header = train::read_checkpoint_header(split_dir + "/last.pt");
  EXPECT_EQ(header.progress.global_step, 6);
  EXPECT_EQ(header.progress.last_delta_update, 3);
  ASSERT_EQ(Trainer::resume(split_dir, {}, quiet(log))->run().status, "completed");

  const auto want = delta_updates(full_dir);
  ASSERT_EQ(want.size(), 4u);
  EXPECT_EQ(delta_updates(split_dir), want);
  const auto a = epoch_records(full_dir);
  const auto b = epoch_records(split_dir);
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["train_loss"].get<double>(), b[i]["train_loss"].get<double>()) << i;
  }
}

TEST(TrainerTest, InitFromAnotherArchitectureNamesTheDifference) {
  std::ostringstream log;
  auto c = tiny_config(1);
  c.model_name = "resnet20";
  c.train_init_from = shared_data_path("resnet20-fp-cifar10jpeg-official.pth");
  // ResNet-20 weights of CIFAR (3 channels) into a 1-channel Fashion-MNIST model.
  EWGS_EXPECT_THROWS_WITH(
      Trainer(c, fresh_dir("mismatch"), quiet(log)), "conv1.weight: model has [16, 1, 3, 3]");
}

}  // namespace
}  // namespace ewgs::test
