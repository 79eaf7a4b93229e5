// The `ewgs` program as a user runs it: bad input ends with a message and a
// non-zero status, never a hang, a crash or numbers that mean nothing.
#include <sys/stat.h>

#include <filesystem>
#include <sstream>

#include "ewgs/train/trainer.h"
#include "support/subprocess.h"
#include "support/support.h"
#include "train/train_test_util.h"

namespace ewgs::test {
namespace {

ProcessResult ewgs(const std::vector<std::string>& args) {
  return run_process(EWGS_CLI, args, /*timeout_s=*/120);
}

TEST(CliTest, EvalRefusesAFifoInsteadOfBlocking) {
  const auto dir = fresh_dir("cli_fifo");
  std::filesystem::create_directories(dir);
  const auto fifo = dir + "/model.pt";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto result = ewgs({"eval", "--checkpoint", fifo});
  ASSERT_FALSE(result.timed_out) << "ewgs eval blocked on a FIFO";
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(
      result.stderr_text.find(fifo + " is not a regular file (it is a FIFO)"), std::string::npos)
      << result.stderr_text;
}

TEST(CliTest, EvalExitsNonZeroWhenItsLossIsNotFinite) {
  // A finite checkpoint whose evaluation overflows.
  std::ostringstream log;
  const auto data = tiny_data("cli_nan_data");
  const auto dir = fresh_dir("cli_nan");
  ASSERT_EQ(train::Trainer(tiny_folder_config(data, 1), dir, quiet(log)).run().status, "completed");
  make_evaluation_overflow(dir + "/last.pt", tiny_folder_config(data, 1));
  const auto result = ewgs({"eval", "--checkpoint", dir + "/last.pt", "--json"});
  EXPECT_EQ(result.status, 1) << result.stdout_text;
  EXPECT_NE(
      result.stderr_text.find(dir + "/last.pt: the evaluation loss is NaN"), std::string::npos)
      << result.stderr_text;
  EXPECT_EQ(result.stdout_text, "");  // no accuracy is printed for it
}

TEST(CliTest, ARunRejectedAtStartLeavesNoFolder) {
  const auto dir = fresh_dir("cli_rejected");
  auto result = ewgs({"train", "--run-dir", dir, "--quant.method=egws"});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.stderr_text.find("unknown method 'egws'"), std::string::npos)
      << result.stderr_text;
  EXPECT_FALSE(std::filesystem::exists(dir));
  result = ewgs(
      {"train",
       "--run-dir",
       dir,
       "--data.dataset=cifar10-jpeg",
       "--data.root=" + fresh_dir("cli_none")});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.stderr_text.find("does not exist"), std::string::npos) << result.stderr_text;
  EXPECT_FALSE(std::filesystem::exists(dir));
}

}  // namespace
}  // namespace ewgs::test
