// metrics.jsonl: records accumulate in a history that checkpoints carry; the file
// is republished whole, so a resume rewrites it to the checkpoint's history.
#include "ewgs/train/metrics_log.h"

#include <vector>

#include "support/support.h"

namespace ewgs::test {
namespace {

TEST(MetricsLogTest, PublishesItsHistoryWholeAndOnlyWhenAsked) {
  std::vector<std::string> published;
  const auto publish = [&](const std::string& text) { published.push_back(text); };
  train::MetricsLog log("{\"epoch\":1}\n", publish);
  ASSERT_EQ(published.size(), 1u);  // a resumed run's file is rewritten at once
  EXPECT_EQ(published[0], "{\"epoch\":1}\n");
  log.add({{"epoch", 2}});
  EXPECT_EQ(published.size(), 1u);
  EXPECT_EQ(log.history(), "{\"epoch\":1}\n{\"epoch\":2}\n");
  log.publish();
  log.append({{"event", "delta_update"}});
  ASSERT_EQ(published.size(), 3u);
  EXPECT_EQ(published[1], "{\"epoch\":1}\n{\"epoch\":2}\n");
  EXPECT_EQ(published[2], log.history());
  EXPECT_EQ(log.history(), "{\"epoch\":1}\n{\"epoch\":2}\n{\"event\":\"delta_update\"}\n");
}

}  // namespace
}  // namespace ewgs::test
