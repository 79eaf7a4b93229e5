// The report's analysis on hand-made runs: grouping by config without the seed,
// labels from the settings that differ, unfinished runs left out and listed, paired
// differences on shared seeds only, and the three output formats.
#include "ewgs/experiments/analysis.h"

#include <cmath>

#include "support/support.h"

namespace ewgs::test {
namespace {

using experiments::RunRecord;

RunRecord run(
    const std::string& method, int seed, double top1, const std::string& status = "completed") {
  RunRecord r;
  r.dir = "runs/" + method + "-" + std::to_string(seed);
  r.config = {
      {"quant.method", "\"" + method + "\""},
      {"run.seed", std::to_string(seed)},
      {"run.threads", std::to_string(seed)},
      {"train.epochs", "4"},
      {"optim.lr", "0.001"}};
  r.summary = {{"status", status}, {"final_top1", top1}, {"best_top1", top1 + 1.0}};
  return r;
}

TEST(AnalysisTest, GroupsBySettingsOtherThanTheSeedAndPairsSharedSeeds) {
  const std::vector<RunRecord> runs{
      run("ste", 1, 80.0),
      run("ste", 2, 81.0),
      run("ste", 3, 79.0),
      run("ewgs", 1, 81.0),
      run("ewgs", 2, 82.2),
      run("ewgs", 3, 79.8),
      run("ewgs", 4, 90.0),
      run("dorefa", 1, 10.0, "interrupted")};
  const auto a = experiments::analyze(runs, "method=ste");
  ASSERT_EQ(a.groups.size(), 3u);
  EXPECT_EQ(a.groups[0].label, "method=ste") << "threads differ too, but do not count";
  EXPECT_EQ(a.groups[1].label, "method=ewgs");
  EXPECT_EQ(a.groups[1].final_summary.n, 4);
  EXPECT_DOUBLE_EQ(a.groups[1].final_summary.mean, (81.0 + 82.2 + 79.8 + 90.0) / 4);
  EXPECT_DOUBLE_EQ(a.groups[1].best_summary.mean, (81.0 + 82.2 + 79.8 + 90.0) / 4 + 1.0);
  EXPECT_EQ(a.groups[2].final_summary.n, 0);
  ASSERT_EQ(a.groups[2].unfinished.size(), 1u);
  EXPECT_EQ(a.groups[2].unfinished[0], "runs/dorefa-1: interrupted after 0 of 4 epochs");
  ASSERT_EQ(a.differences.size(), 2u);
  // Seed 4 has no STE partner: differences 1, 1.2, 0.8.
  EXPECT_EQ(a.differences[0].diff.n, 3);
  EXPECT_NEAR(a.differences[0].diff.mean, 1.0, 1e-12);
  EXPECT_NEAR(a.differences[0].diff.ci95, 4.302652729749464 * 0.2 / std::sqrt(3.0), 1e-9);
  EXPECT_EQ(
      a.differences[0].verdict,
      "method=ewgs ahead of method=ste by 1.00 ± 0.50 points (95 % CI, 3 seeds)");
  EXPECT_EQ(
      a.differences[1].verdict, "method=dorefa and method=ste share no seed: no paired comparison");

  const std::string md = experiments::to_markdown(a);
  EXPECT_NE(md.find("| method=ewgs | 4 | 4 | 83.25 | "), std::string::npos) << md;
  EXPECT_NE(
      md.find("| method=ewgs - method=ste | 3 | 1.00 | ± 0.50 | method=ewgs ahead"),
      std::string::npos)
      << md;
  EXPECT_NE(md.find("- runs/dorefa-1: interrupted"), std::string::npos) << md;
  const std::string csv = experiments::to_csv(a);
  EXPECT_NE(csv.find("cell,\"method=ste\",,4,3,80,1,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("difference,\"method=ewgs\",\"method=ste\",,3,"), std::string::npos) << csv;
  const auto json = experiments::to_json(a);
  EXPECT_EQ(json["groups"][1]["final_top1_by_seed"]["4"], 90.0);
  EXPECT_TRUE(json["groups"][2]["final_top1"]["mean"].is_null());
  EXPECT_EQ(json["baseline"], "method=ste");
}

TEST(AnalysisTest, SweepLabelsAndPaperNumbersComeFromTheRuns) {
  auto a = run("ste", 1, 80.0);
  a.label = "ste";
  a.paper_top1 = 84.7;
  auto b = run("ewgs", 1, 81.0);
  b.label = "ewgs-3std";
  const auto analysis = experiments::analyze({a, b});
  EXPECT_EQ(analysis.baseline, "ste") << "the first group by default";
  EXPECT_EQ(analysis.groups[0].paper_top1.value_or(0), 84.7);
  EXPECT_EQ(
      analysis.differences[0].verdict,
      "one shared seed (ewgs-3std - ste = 1.00 points): no interval, run more seeds");
  EWGS_EXPECT_THROWS_WITH(
      experiments::analyze({a, b}, "dorefa"),
      "no group 'dorefa' to compare with (groups: ste, ewgs-3std)");
  EWGS_EXPECT_THROWS_WITH(experiments::analyze({a, a}), "ste has two completed runs with seed 1");
}

}  // namespace
}  // namespace ewgs::test
