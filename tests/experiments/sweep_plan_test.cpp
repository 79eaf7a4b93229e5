// Sweep plans: expansion into cells (names, order, overrides in order of
// precedence), profiles, and errors that name the plan, the key or the cell.
#include "ewgs/experiments/sweep_plan.h"

#include "experiments/experiments_test_util.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using experiments::Overrides;
using experiments::SweepPlan;

TEST(SweepPlanTest, VariantsCrossTheGridInFileOrder) {
  const auto path = write_three_method_plan(fresh_dir("plan_cells"), tiny_data("plan_cells_data"));
  const auto plan = SweepPlan::load(path, "budget");
  EXPECT_EQ(plan.title, "three estimators");
  EXPECT_EQ(plan.profile, "budget");
  EXPECT_EQ(plan.baseline, "ste");
  ASSERT_EQ(plan.variants.size(), 3u);
  EXPECT_EQ(plan.variants[0].paper_top1.value_or(0), 84.7);
  EXPECT_FALSE(plan.variants[1].paper_top1.has_value());
  const auto cells = plan.cells();
  ASSERT_EQ(cells.size(), 9u);
  EXPECT_EQ(cells[0].dir, "ste/seed=1");
  EXPECT_EQ(cells[5].dir, "ewgs-fixed/seed=3");
  EXPECT_EQ(cells[8].dir, "ewgs-hessian/seed=3");
  EXPECT_EQ(cells[4].variant, "ewgs-fixed");
  // Profile, then variant, then grid: the later wins when a key repeats. Keys of
  // one table come in alphabetical order (TOML tables have no order).
  const Overrides expected{
      {"train.epochs", "2"}, {"quant.delta", "0.001"}, {"quant.method", "ewgs"}, {"run.seed", "2"}};
  EXPECT_EQ(cells[4].overrides, expected);
  EXPECT_EQ(SweepPlan::load(path).profile, "full") << "full is the default profile";
}

TEST(SweepPlanTest, SeveralGridKeysNameTheirCellsAndVaryTheLastFastest) {
  const auto dir = fresh_dir("plan_grid");
  write_three_method_plan(dir, tiny_data("plan_grid_data"));
  write_text(dir + "/grid.toml", R"([sweep]
base = "base.toml"
[grid]
"optim.lr" = [0.1, 0.01]
"run.seed" = [1, 2]
)");
  const auto cells = SweepPlan::load(dir + "/grid.toml").cells();
  ASSERT_EQ(cells.size(), 4u);
  EXPECT_EQ(cells[0].dir, "lr=0.1,seed=1");
  EXPECT_EQ(cells[1].dir, "lr=0.1,seed=2");
  EXPECT_EQ(cells[3].dir, "lr=0.01,seed=2");
  EXPECT_EQ(cells[3].variant, "");
}

TEST(SweepPlanTest, MistakesAreErrorsNamingThePlanAndTheCell) {
  const auto dir = fresh_dir("plan_errors");
  write_three_method_plan(dir, tiny_data("plan_errors_data"));
  const auto plan_with = [&](const std::string& body) {
    write_text(dir + "/bad.toml", "[sweep]\nbase = \"base.toml\"\n" + body);
    return dir + "/bad.toml";
  };
  EWGS_EXPECT_THROWS_WITH(
      SweepPlan::load(dir + "/plan.toml", "quick"),
      "no profile 'quick' (the plan has budget, full)");
  EWGS_EXPECT_THROWS_WITH(
      SweepPlan::load(plan_with(""), "budget"), "the plan defines no [profile.NAME] tables");
  EWGS_EXPECT_THROWS_WITH(
      SweepPlan::load(plan_with("[grids]\n")), "bad.toml: unknown table 'grids'");
  EWGS_EXPECT_THROWS_WITH(
      SweepPlan::load(plan_with("[grid]\n\"run.seed\" = []\n")),
      "grid key 'run.seed' must be a non-empty array");
  EWGS_EXPECT_THROWS_WITH(
      SweepPlan::load(plan_with("[[variant]]\nname = \"a\"\n[[variant]]\nname = \"a\"\n")),
      "variant 'a' is defined twice");
  EWGS_EXPECT_THROWS_WITH(
      SweepPlan::load(
          plan_with("[[variant]]\nname = \"bad\"\nset = { \"quant.method\" = \"egws\" }\n")),
      "bad.toml: cell bad/run: quant.method: unknown method 'egws'; did you mean 'ewgs'?");
  EWGS_EXPECT_THROWS_WITH(
      SweepPlan::load(plan_with("[grid]\n\"train.epoch\" = [1]\n")),
      "cell epoch=1: unknown config key 'train.epoch'");
  write_text(dir + "/nobase.toml", "[sweep]\nbase = \"missing.toml\"\n");
  EWGS_EXPECT_THROWS_WITH(
      SweepPlan::load(dir + "/nobase.toml"), "sweep.base " + dir + "/missing.toml is not a file");
  write_text(dir + "/baseline.toml", "[sweep]\nbase = \"base.toml\"\nbaseline = \"sté\"\n");
  EWGS_EXPECT_THROWS_WITH(
      SweepPlan::load(dir + "/baseline.toml"), "sweep.baseline 'sté' is not a variant's name");
  EWGS_EXPECT_THROWS_WITH(SweepPlan::load(dir + "/absent.toml"), "absent.toml");
}

TEST(SweepPlanTest, EveryShippedPlanLoadsWithEachOfItsProfiles) {
  int checked = 0;
  for (const char* folder : {"reproduce", "sweeps"}) {
    for (const auto& entry :
         std::filesystem::directory_iterator(std::string(EWGS_CONFIGS_DIR) + "/" + folder)) {
      SCOPED_TRACE(entry.path().string());
      const auto plan = SweepPlan::load(entry.path().string(), "", {"train.init_from=fp.pt"});
      EXPECT_FALSE(plan.title.empty());
      EXPECT_GE(plan.cells().size(), 6u) << "at least two variants over three seeds";
      if (!plan.profile.empty()) {
        EXPECT_EQ(SweepPlan::load(entry.path().string(), "budget").profile, "budget");
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 5);
}

}  // namespace
}  // namespace ewgs::test
