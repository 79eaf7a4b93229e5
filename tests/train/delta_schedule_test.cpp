// The Hessian delta schedule at the paper's period of 10: epochs 10, 20, ...
// (never epoch 0), or every 10 iterations; never twice at one step.
#include "ewgs/train/delta_schedule.h"

#include "support/support.h"

namespace ewgs::test {
namespace {

train::TrainConfig hessian_config(int64_t period, const std::string& unit) {
  train::TrainConfig c;
  c.quant_method = "ewgs";
  c.quant_wbits = 1;
  c.quant_abits = 1;
  c.quant_delta = "hessian";
  c.hessian_period = period;
  c.hessian_period_unit = unit;
  return c;
}

/// The (epoch, global step) of every update over `epochs` epochs of
/// `batches` steps, asked as the trainer asks: at each epoch's start and
/// after each step; an update records its step as the trainer does.
std::vector<std::pair<int64_t, int64_t>> updates(
    const train::TrainConfig& c, int64_t epochs, int64_t batches) {
  std::vector<std::pair<int64_t, int64_t>> out;
  train::TrainProgress p;
  const auto update = [&] {
    out.emplace_back(p.epoch, p.global_step);
    p.last_delta_update = p.global_step;
  };
  for (p.epoch = 0; p.epoch < epochs; ++p.epoch) {
    p.batch = 0;
    if (train::delta_update_due(c, p, /*at_epoch_start=*/true)) {
      update();
    }
    for (; p.batch < batches;) {
      ++p.batch;
      ++p.global_step;
      if (train::delta_update_due(c, p, /*at_epoch_start=*/false)) {
        update();
      }
    }
  }
  return out;
}

TEST(DeltaScheduleTest, EveryTenEpochsAtTheEpochStartNeverAtEpochZero) {
  using Updates = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(updates(hessian_config(10, "epochs"), 31, 3), (Updates{{10, 30}, {20, 60}, {30, 90}}));
  EXPECT_EQ(updates(hessian_config(10, "epochs"), 10, 3), Updates{});  // epoch 10 never starts
}

TEST(DeltaScheduleTest, EveryTenIterationsAfterTheStep) {
  using Updates = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(updates(hessian_config(10, "iterations"), 3, 8), (Updates{{1, 10}, {2, 20}}));
}

TEST(DeltaScheduleTest, NeverTwiceAtOneStepNorWithoutAHessianDelta) {
  auto c = hessian_config(10, "epochs");
  train::TrainProgress p;
  p.epoch = 10;
  p.global_step = 30;
  EXPECT_TRUE(train::delta_update_due(c, p, true));
  EXPECT_FALSE(train::delta_update_due(c, p, false));  // epoch units update at epoch starts only
  p.batch = 1;
  EXPECT_FALSE(train::delta_update_due(c, p, true));  // a resumed epoch does not start again
  p.batch = 0;
  p.last_delta_update = 30;  // resumed right after the update
  EXPECT_FALSE(train::delta_update_due(c, p, true));
  c.quant_delta = "0.001";
  p.last_delta_update = -1;
  EXPECT_FALSE(train::delta_update_due(c, p, true));
}

}  // namespace
}  // namespace ewgs::test
