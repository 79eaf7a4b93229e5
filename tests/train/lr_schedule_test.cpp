// Learning-rate schedules against their closed forms.
#include "ewgs/train/lr_schedule.h"

#include <cmath>

#include "support/support.h"

namespace ewgs::test {
namespace {

using train::LrSchedule;

TEST(LrScheduleTest, CosineFollowsPyTorchCosineAnnealingPerEpoch) {
  LrSchedule s("cosine", 0.1, 400, {}, 0.1);
  EXPECT_DOUBLE_EQ(s.at(0), 0.1);
  EXPECT_NEAR(s.at(200), 0.05, 1e-15);
  EXPECT_NEAR(s.at(100), 0.05 * (1 + std::cos(M_PI / 4)), 1e-15);
  EXPECT_NEAR(s.at(399), 0.05 * (1 + std::cos(M_PI * 399 / 400)), 1e-15);
}

TEST(LrScheduleTest, StepMultipliesByGammaAtEachMilestone) {
  LrSchedule s("step", 0.1, 160, LrSchedule::parse_milestones("80, 120", "optim.milestones"), 0.1);
  EXPECT_DOUBLE_EQ(s.at(79), 0.1);
  EXPECT_NEAR(s.at(80), 0.01, 1e-15);
  EXPECT_NEAR(s.at(120), 0.001, 1e-15);
  EXPECT_DOUBLE_EQ(LrSchedule("constant", 0.3, 5, {}, 0.1).at(4), 0.3);
}

TEST(LrScheduleTest, RejectsBadMilestonesAndKinds) {
  EWGS_EXPECT_THROWS_WITH(
      LrSchedule::parse_milestones("120,80", "optim.milestones"),
      "optim.milestones must be increasing");
  EWGS_EXPECT_THROWS_WITH(LrSchedule::parse_milestones("80,x", "optim.milestones"), "got '80,x'");
  EWGS_EXPECT_THROWS_WITH(
      LrSchedule("linear", 0.1, 5, {}, 0.1), "unknown learning-rate schedule 'linear'");
  EXPECT_TRUE(LrSchedule::parse_milestones("", "k").empty());
}

}  // namespace
}  // namespace ewgs::test
