// `ewgs sweep`, `ewgs report` and `ewgs plot` as a user runs them: a sweep of three
// estimators over three seeds, the same sweep killed and started again (it must
// end with the same numbers), dry runs, and the figures and HTML page of the result.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "ewgs/experiments/child_process.h"
#include "ewgs/experiments/run_record.h"
#include "experiments/experiments_test_util.h"
#include "support/subprocess.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

namespace fs = std::filesystem;

int completed_cells(const std::string& sweep) {
  int done = 0;
  for (const auto& entry : fs::recursive_directory_iterator(sweep)) {
    if (entry.path().filename() == "summary.json" &&
        read_json(entry.path().string())["status"] == "completed") {
      done += 1;
    }
  }
  return done;
}

/// Waits until no process holds the sweep's lock (the cells of a killed sweep hold it until they
/// end).
void wait_for_unlock(const std::string& sweep) {
  const int fd = ::open((sweep + "/.lock").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 600 && ::flock(fd, LOCK_EX | LOCK_NB) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::close(fd);
}

nlohmann::json report_json(const std::string& sweep) {
  const auto report = run_process(EWGS_CLI, {"report", sweep, "--format", "json"});
  EXPECT_EQ(report.status, 0) << report.stderr_text;
  return nlohmann::json::parse(report.stdout_text);
}

class SweepTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    plan_ =
        new std::string(write_three_method_plan(fresh_dir("sweep_plan"), tiny_data("sweep_data")));
    whole_ = new std::string(fresh_dir("sweep_whole"));
    const auto result = run_process(
        EWGS_CLI,
        {"sweep",
         *plan_,
         "--profile",
         "budget",
         "--out",
         *whole_,
         "--parallel",
         "2",
         "--cores",
         "2"});
    ASSERT_EQ(result.status, 0) << result.stdout_text << result.stderr_text;
  }
  static void TearDownTestSuite() {
    delete plan_;
    delete whole_;
  }
  static std::string* plan_;
  static std::string* whole_;
};
std::string* SweepTest::plan_ = nullptr;
std::string* SweepTest::whole_ = nullptr;

TEST_F(SweepTest, RunsEveryCellAndReportsIntervalsAndPairedDifferences) {
  EXPECT_EQ(completed_cells(*whole_), 9);
  const auto report = report_json(*whole_);
  ASSERT_EQ(report["groups"].size(), 3u);
  EXPECT_EQ(report["baseline"], "ste") << "the plan's baseline";
  for (const auto& g : report["groups"]) {
    EXPECT_EQ(g["final_top1"]["n"], 3) << g.dump();
    EXPECT_TRUE(g["final_top1"]["ci95"].is_number()) << g.dump();
    EXPECT_EQ(g["epochs"], 2) << "the budget profile";
  }
  EXPECT_EQ(report["groups"][0]["paper_top1"], 84.7);
  ASSERT_EQ(report["differences"].size(), 2u);
  EXPECT_EQ(report["differences"][1]["a"], "ewgs-hessian");
  EXPECT_FALSE(report["differences"][1]["verdict"].get<std::string>().empty());
  // The cells are ordinary runs: the Hessian cell updated its delta once, at the start of epoch 2.
  const auto hessian = experiments::read_run(*whole_ + "/ewgs-hessian/seed=2");
  ASSERT_EQ(hessian.delta_updates.size(), 1u);
  EXPECT_EQ(hessian.delta_updates[0]["epoch"], 2);
  // Seeds differ, so do the results: the runs are not copies of one another.
  const auto& seeds = report["groups"][0]["final_top1_by_seed"];
  EXPECT_FALSE(seeds["1"] == seeds["2"] && seeds["2"] == seeds["3"]) << seeds.dump();
}

TEST_F(SweepTest, AFinishedSweepRunsNothingAndItsDryRunSaysDone) {
  const auto again =
      run_process(EWGS_CLI, {"sweep", *plan_, "--profile", "budget", "--out", *whole_});
  ASSERT_EQ(again.status, 0) << again.stderr_text;
  EXPECT_NE(again.stdout_text.find("9 cells, 0 to run"), std::string::npos) << again.stdout_text;
  const auto dry = run_process(
      EWGS_CLI, {"sweep", *plan_, "--profile", "budget", "--out", *whole_, "--dry-run"});
  ASSERT_EQ(dry.status, 0) << dry.stderr_text;
  EXPECT_NE(dry.stdout_text.find("ewgs-hessian/seed=3"), std::string::npos) << dry.stdout_text;
  EXPECT_NE(dry.stdout_text.find("estimated time: 0 s"), std::string::npos) << dry.stdout_text;
  // Another profile has other cells: not in this folder.
  const auto other =
      run_process(EWGS_CLI, {"sweep", *plan_, "--profile", "full", "--out", *whole_});
  EXPECT_EQ(other.status, 1);
  EXPECT_NE(other.stderr_text.find("holds a sweep of other cells"), std::string::npos)
      << other.stderr_text;
}

TEST_F(SweepTest, ADryRunTimesEachVariantAndEstimatesEveryCell) {
  const auto fresh = fresh_dir("sweep_dry");
  const auto dry = run_process(EWGS_CLI, {"sweep", *plan_, "--out", fresh, "--dry-run"});
  ASSERT_EQ(dry.status, 0) << dry.stdout_text << dry.stderr_text;
  EXPECT_NE(dry.stdout_text.find("profile full"), std::string::npos) << dry.stdout_text;
  EXPECT_NE(dry.stdout_text.find("ewgs-fixed/seed=1"), std::string::npos);
  EXPECT_EQ(dry.stdout_text.find(" ? "), std::string::npos) << "every cell has an estimate:\n"
                                                            << dry.stdout_text;
  EXPECT_NE(dry.stdout_text.find("0/3"), std::string::npos) << dry.stdout_text;
  EXPECT_FALSE(fs::exists(fresh + "/ste")) << "a dry run trains nothing in the sweep folder";
}

TEST_F(SweepTest, AKilledSweepResumesToTheSameNumbers) {
  const auto killed = fresh_dir("sweep_killed");
  fs::create_directories(killed);
  const pid_t pid = experiments::start_process(
      {EWGS_CLI,
       "sweep",
       *plan_,
       "--profile",
       "budget",
       "--out",
       killed,
       "--parallel",
       "2",
       "--cores",
       "2"},
      killed + "/../ewgs_test_sweep_killed.log");
  for (int i = 0; i < 1200 && completed_cells(killed) < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(completed_cells(killed), 3);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_LT(completed_cells(killed), 9) << "killed too late to test a resume";
  wait_for_unlock(killed);
  const auto resumed = run_process(
      EWGS_CLI,
      {"sweep", *plan_, "--profile", "budget", "--out", killed, "--parallel", "2", "--cores", "2"});
  ASSERT_EQ(resumed.status, 0) << resumed.stdout_text << resumed.stderr_text;
  EXPECT_EQ(resumed.stdout_text.find("9 cells, 0 to run"), std::string::npos)
      << "cells were left to run";
  EXPECT_EQ(completed_cells(killed), 9);
  const auto a = report_json(*whole_);
  const auto b = report_json(killed);
  for (size_t g = 0; g < 3; ++g) {
    EXPECT_EQ(a["groups"][g]["final_top1_by_seed"], b["groups"][g]["final_top1_by_seed"]) << g;
  }
  for (size_t d = 0; d < 2; ++d) {
    EXPECT_EQ(a["differences"][d]["verdict"], b["differences"][d]["verdict"]);
  }
}

TEST_F(SweepTest, FiguresAndTheHtmlPageDrawEveryKindOfData) {
  const auto html = fresh_dir("sweep_html");
  const auto report =
      run_process(EWGS_CLI, {"report", *whole_, "--html", html, "--title", "three estimators"});
  ASSERT_EQ(report.status, 0) << report.stderr_text;
  const std::string page = read_text(html + "/index.html");
  EXPECT_NE(page.find("<h1>three estimators</h1>"), std::string::npos);
  EXPECT_NE(page.find("ewgs-hessian - ste"), std::string::npos);
  for (const std::string name :
       {"curves",
        "intervals-ste",
        "intervals-ewgs-hessian",
        "deltas-ewgs-hessian",
        "traces-ewgs-hessian"}) {
    const std::string png = read_text(html + "/" + name + ".png");
    ASSERT_GT(png.size(), 10000u) << name;
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << name;
    EXPECT_NE(read_text(html + "/" + name + ".svg").find("<svg"), std::string::npos) << name;
    EXPECT_NE(page.find("src=\"" + name + ".svg\""), std::string::npos) << name;
  }
  EXPECT_FALSE(fs::exists(html + "/deltas-ste.png")) << "STE has no delta";
  // The plotted mean is the mean of the seeds' test top-1.
  double sum = 0.0;
  for (int seed = 1; seed <= 3; ++seed) {
    sum += experiments::read_run(*whole_ + "/ste/seed=" + std::to_string(seed))
               .epochs.back()["test_top1"]
               .get<double>();
  }
  std::istringstream table(read_text(html + "/data/curves-ste.dat"));
  std::string header, first, second;
  std::getline(table, header);
  std::getline(table, first);
  std::getline(table, second);
  std::istringstream fields(second);
  std::vector<double> values;
  for (std::string f; fields >> f;) {
    values.push_back(std::stod(f));
  }
  ASSERT_EQ(values.size(), 7u) << second;
  EXPECT_EQ(values[0], 2.0);
  EXPECT_NEAR(values[4], sum / 3, 1e-9);

  const auto plot = run_process(
      EWGS_CLI,
      {"plot",
       *whole_ + "/ste/seed=1",
       "--out",
       html + "/one",
       "--gnuplot",
       "/nonexistent/gnuplot"});
  EXPECT_EQ(plot.status, 1);
  EXPECT_NE(plot.stderr_text.find("apt install gnuplot-nox"), std::string::npos)
      << plot.stderr_text;
}

}  // namespace
}  // namespace ewgs::test
