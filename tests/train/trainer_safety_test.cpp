// What the trainer refuses to lose or fake: a diverged epoch never overwrites a
// checkpoint, a signal during start-up stops it with a message, a rejected run
// leaves no folder, and splits whose classes differ are an error.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ewgs/train/checkpoint.h"
#include "ewgs/train/model_from_file.h"
#include "ewgs/train/stop_signal.h"
#include "ewgs/train/trainer.h"
#include "support/support.h"
#include "train/train_test_util.h"

namespace ewgs::test {
namespace {

using train::Trainer;
using train::TrainerOptions;

TEST(TrainerSafetyTest, ADivergedEpochNeverOverwritesTheLastGoodCheckpoint) {
  std::ostringstream log;
  const auto data = tiny_data("diverge_data");
  const auto dir = fresh_dir("diverge");
  ASSERT_EQ(Trainer(tiny_folder_config(data, 2), dir, quiet(log)).run().status, "completed");
  const std::string last = read_all(dir + "/last.pt");
  const std::string best = read_all(dir + "/best.pt");
  // A learning rate of 1e6 keeps the training loss finite for an epoch but
  // blows up the model: its test loss or its weights are no longer finite.
  const auto result = Trainer::resume(dir, {"train.epochs=3", "optim.lr=1e6"}, quiet(log))->run();
  EXPECT_EQ(result.status, "failed");
  EXPECT_NE(result.message.find("training diverged in epoch 3"), std::string::npos)
      << result.message;
  EXPECT_NE(
      result.message.find("The last good checkpoint is " + dir + "/last.pt (epoch 2)"),
      std::string::npos)
      << result.message;
  EXPECT_TRUE(read_all(dir + "/last.pt") == last) << "last.pt was overwritten";
  EXPECT_TRUE(read_all(dir + "/best.pt") == best) << "best.pt was overwritten";
  EXPECT_EQ(epoch_records(dir).size(), 2u);
  EXPECT_FALSE(std::filesystem::exists(dir + "/best.pt.pending"));
}

TEST(TrainerSafetyTest, ANonFiniteTestLossIsDivergence) {
  // Every tensor is finite, the test loss is not (make_evaluation_overflow).
  std::ostringstream log;
  const auto data = tiny_data("nan_eval_data");
  const auto dir = fresh_dir("nan_eval");
  ASSERT_EQ(Trainer(tiny_folder_config(data, 1), dir, quiet(log)).run().status, "completed");
  make_evaluation_overflow(dir + "/last.pt", tiny_folder_config(data, 1));
  const std::string last = read_all(dir + "/last.pt");
  const std::string best = read_all(dir + "/best.pt");
  auto resumed = Trainer::resume(dir, {"train.epochs=2"}, quiet(log));
  const auto result = resumed->run();
  EXPECT_EQ(result.status, "failed");
  EXPECT_NE(
      result.message.find("training diverged in epoch 2: the test loss is NaN"), std::string::npos)
      << result.message;
  EXPECT_TRUE(read_all(dir + "/last.pt") == last) << "last.pt was overwritten";
  EXPECT_TRUE(read_all(dir + "/best.pt") == best) << "best.pt was overwritten";
}

TEST(TrainerSafetyTest, AStopSignalDuringStartUpStopsWithAMessageAndRemovesTheNewFolder) {
  std::ostringstream log;
  const auto data = tiny_data("startup_data");
  const auto dir = fresh_dir("startup");
  auto options = quiet(log);
  options.on_startup = [](const std::string& stage) {
    if (stage == "loading data") {
      std::raise(SIGTERM);  // the real signal, caught by the trainer's handler
    }
  };
  try {
    Trainer trainer(tiny_folder_config(data, 1), dir, options);
    ADD_FAILURE() << "start-up went on after SIGTERM";
  } catch (const train::StopRequested& stop) {
    EXPECT_EQ(stop.signal(), SIGTERM);
    EXPECT_NE(std::string(stop.what()).find("stopped by signal 15"), std::string::npos)
        << stop.what();
    EXPECT_NE(
        std::string(stop.what()).find("during start-up, while loading data"), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(TrainerSafetyTest, RejectedRunsLeaveNoFolderBehind) {
  std::ostringstream log;
  const auto dir = fresh_dir("rejected");
  auto config = tiny_folder_config(tiny_data("rejected_data"), 1);
  config.quant_method = "egws";
  EWGS_EXPECT_THROWS_WITH(Trainer(config, dir, quiet(log)), "unknown method 'egws'");
  EXPECT_FALSE(std::filesystem::exists(dir));
  // Valid config, missing data: the folder created for the run goes again.
  config = tiny_folder_config(fresh_dir("no_such_data"), 1);
  EWGS_EXPECT_THROWS_WITH(Trainer(config, dir, quiet(log)), "does not exist");
  EXPECT_FALSE(std::filesystem::exists(dir));
  // A folder the user made stays, with nothing of the failed run in it but its config.
  std::filesystem::create_directories(dir);
  EWGS_EXPECT_THROWS_WITH(Trainer(config, dir, quiet(log)), "does not exist");
  EXPECT_TRUE(std::filesystem::exists(dir));
  EXPECT_FALSE(std::filesystem::exists(dir + "/last.pt"));
}

TEST(TrainerSafetyTest, TestClassesAreMatchedToTrainingClassesByName) {
  std::ostringstream log;
  const auto data = fresh_dir("renamed_classes");
  write_tiny_image_folder(data, {{"train", {"bird", "cat"}}, {"test", {"bird", "dog"}}}, 4);
  EWGS_EXPECT_THROWS_WITH(
      Trainer(tiny_folder_config(data, 1), fresh_dir("renamed_run"), quiet(log)),
      "the classes of the test split 'test' differ from those of the training split 'train' "
      "(classes are matched "
      "by name): only in the training split 'train': cat; only in the test split 'test': dog");
}

TEST(TrainerSafetyTest, ResumeAndEvaluationCheckTheCheckpointsClasses) {
  std::ostringstream log;
  const auto data = tiny_data("classes_data");
  const auto dir = fresh_dir("classes_run");
  ASSERT_EQ(Trainer(tiny_folder_config(data, 1), dir, quiet(log)).run().status, "completed");
  EXPECT_EQ(
      train::read_checkpoint_header(dir + "/last.pt").class_names,
      (std::vector<std::string>{"cat", "dog", "frog"}));
  std::filesystem::rename(data + "/train/frog", data + "/train/toad");
  std::filesystem::rename(data + "/test/frog", data + "/test/toad");
  EWGS_EXPECT_THROWS_WITH(
      Trainer::resume(dir, {"train.epochs=2"}, quiet(log)),
      "the classes of the data set differ from those of checkpoint " + dir +
          "/last.pt (classes are matched by name)");
  EWGS_EXPECT_THROWS_WITH(
      train::load_model_from_file(dir + "/last.pt", {}, ""),
      "differ from those of checkpoint " + dir +
          "/last.pt (classes are matched by name): only in checkpoint " + dir +
          "/last.pt: frog; only in cifar10-jpeg");
}

}  // namespace
}  // namespace ewgs::test
