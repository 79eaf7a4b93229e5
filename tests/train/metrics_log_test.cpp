// metrics.jsonl: appending, and dropping records of epochs a resumed run redoes.
#include "ewgs/train/metrics_log.h"

#include <filesystem>

#include "support/support.h"
#include "train/train_test_util.h"

namespace ewgs::test {
namespace {

TEST(MetricsLogTest, ResumeDropsRecordsOfEpochsToBeRedone) {
  const auto dir = fresh_dir("metrics");
  std::filesystem::create_directories(dir);
  {
    train::MetricsLog log(dir + "/metrics.jsonl", 0);
    for (int e = 1; e <= 4; ++e) {
      log.append({{"epoch", e}, {"train_loss", 1.0 / e}});
    }
    log.append({{"event", "delta_update"}, {"epoch", 4}});
  }
  train::MetricsLog resumed(dir + "/metrics.jsonl", 3); // epochs 1-2 done
  resumed.append({{"epoch", 3}, {"train_loss", 0.5}});
  const auto records = epoch_records(dir);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0]["epoch"], 1);
  EXPECT_EQ(records[1]["epoch"], 2);
  EXPECT_EQ(records[2]["train_loss"], 0.5);
}

} // namespace
} // namespace ewgs::test
