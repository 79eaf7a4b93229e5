// Data parallelism on c10d over loopback: launcher variables, collectives between
// two processes, gradient averaging against one process, and lost ranks as errors.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <optional>

#include "ewgs/dist/gradient_reducer.h"
#include "ewgs/dist/launch_env.h"
#include "ewgs/dist/local_launcher.h"
#include "ewgs/dist/process_group.h"
#include "hessian/tiny_quantized_net.h"
#include "hessian_case.h"
#include "support/scoped_environment.h"
#include "support/subprocess.h"
#include "support/support.h"
#include "tiny_model.h"

namespace ewgs::test {
namespace {

namespace fs = std::filesystem;

class DistTest : public SeededTest {
 protected:
  void SetUp() override {
    SeededTest::SetUp();
    dir_ = fs::temp_directory_path() / ("ewgs_dist_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// Runs `ranks` of a `world`-rank scenario concurrently; each is killed after `limit_s`.
  std::vector<ProcessResult> run_ranks(
      const std::string& scenario,
      int world,
      std::vector<int> ranks,
      double timeout_s,
      int limit_s) {
    const std::string port = std::to_string(dist::free_loopback_port());
    std::vector<std::future<ProcessResult>> running;
    for (int r : ranks) {
      running.push_back(std::async(std::launch::async, [=] {
        return run_process(
            EWGS_DIST_WORKER,
            {scenario,
             std::to_string(r),
             std::to_string(world),
             port,
             std::to_string(timeout_s),
             dir_.string()},
            limit_s);
      }));
    }
    std::vector<ProcessResult> results;
    for (auto& r : running) {
      results.push_back(r.get());
    }
    return results;
  }

  /// Both ranks of a two-rank scenario that saves tensors, and what each
  /// saved (<scenario>_<rank>.pt); empty, with the failure reported, when a
  /// rank failed.
  std::vector<std::vector<torch::Tensor>> saved_by_two_ranks(
      const std::string& scenario, int limit_s) {
    for (const auto& r : run_ranks(scenario, 2, {0, 1}, 60, limit_s)) {
      EXPECT_EQ(r.status, 0) << r.stderr_text;
      if (r.status != 0) {
        return {};
      }
    }
    std::vector<std::vector<torch::Tensor>> saved(2);
    for (size_t rank = 0; rank < saved.size(); ++rank) {
      torch::load(saved[rank], (dir_ / (scenario + "_" + std::to_string(rank) + ".pt")).string());
    }
    return saved;
  }

  fs::path dir_;
};

TEST(LaunchEnvTest, ReadsTheVariablesOfPyTorchLaunchers) {
  {
    ScopedEnvironment env({{"WORLD_SIZE", std::nullopt}, {"RANK", "3"}});
    const auto alone = dist::LaunchEnv::from_environment();
    EXPECT_FALSE(alone.distributed());
    EXPECT_EQ(alone.rank, 0);
  }
  {
    ScopedEnvironment env(
        {{"WORLD_SIZE", "4"},
         {"RANK", "3"},
         {"LOCAL_RANK", "1"},
         {"LOCAL_WORLD_SIZE", "2"},
         {"MASTER_ADDR", "node0"},
         {"MASTER_PORT", "29511"}});
    const auto e = dist::LaunchEnv::from_environment();
    EXPECT_TRUE(e.distributed());
    EXPECT_EQ(e.rank, 3);
    EXPECT_EQ(e.world_size, 4);
    EXPECT_EQ(e.local_rank, 1);
    EXPECT_EQ(e.local_world_size, 2);
    EXPECT_EQ(e.master_addr, "node0");
    EXPECT_EQ(e.master_port, 29511);
  }
  {
    // One machine: the local rank and size default to the global ones.
    ScopedEnvironment env(
        {{"WORLD_SIZE", "2"},
         {"RANK", "1"},
         {"LOCAL_RANK", std::nullopt},
         {"LOCAL_WORLD_SIZE", std::nullopt},
         {"MASTER_ADDR", "127.0.0.1"},
         {"MASTER_PORT", "1234"}});
    const auto e = dist::LaunchEnv::from_environment();
    EXPECT_EQ(e.local_rank, 1);
    EXPECT_EQ(e.local_world_size, 2);
  }
}

TEST(LaunchEnvTest, BadVariablesAreErrorsNamingThem) {
  ScopedEnvironment base(
      {{"WORLD_SIZE", "2"},
       {"RANK", "0"},
       {"LOCAL_RANK", std::nullopt},
       {"LOCAL_WORLD_SIZE", std::nullopt},
       {"MASTER_ADDR", "127.0.0.1"},
       {"MASTER_PORT", "1234"}});
  const std::vector<std::pair<std::map<std::string, std::optional<std::string>>, std::string>>
      cases = {
          {{{"RANK", "2"}},
           "environment variable RANK must be an integer in [0, WORLD_SIZE - 1 = 1], got '2'"},
          {{{"RANK", std::nullopt}}, "environment variable RANK is not set"},
          {{{"WORLD_SIZE", "two"}},
           "environment variable WORLD_SIZE must be an integer in [1, 1048576], got 'two'"},
          {{{"MASTER_PORT", "70000"}},
           "environment variable MASTER_PORT must be an integer in [1, 65535], got '70000'"},
          {{{"MASTER_ADDR", ""}}, "environment variable MASTER_ADDR is not set"},
          {{{"LOCAL_WORLD_SIZE", "1"}}, "environment variable LOCAL_RANK is not set"},
          {{{"LOCAL_WORLD_SIZE", "3"}},
           "LOCAL_WORLD_SIZE must be an integer in [1, WORLD_SIZE = 2], got '3'"},
      };
  for (const auto& [values, message] : cases) {
    ScopedEnvironment env(values);
    EWGS_EXPECT_THROWS_WITH(dist::LaunchEnv::from_environment(), message);
  }
}

TEST(ProcessGroupTest, OneProcessNeedsNoPeersAndChecksItsOptions) {
  dist::ProcessGroupOptions options;
  const auto group = dist::ProcessGroup::connect(dist::LaunchEnv{}, options, /*cuda=*/false);
  EXPECT_EQ(group->world_size(), 1);
  EXPECT_EQ(group->backend(), "none");
  auto t = torch::tensor({1.0f, 2.0f});
  group->all_reduce_sum(t);
  EXPECT_TRUE(torch::equal(t, torch::tensor({1.0f, 2.0f})));
  EXPECT_EQ(group->all_gather_text("x"), std::vector<std::string>{"x"});
  options.backend = "mpi";
  EWGS_EXPECT_THROWS_WITH(
      dist::ProcessGroup::connect(dist::LaunchEnv{}, options, false),
      "dist.backend must be \"auto\", \"gloo\" or \"nccl\", got \"mpi\"");
  options.backend = "gloo";
  options.timeout_s = 0;
  EWGS_EXPECT_THROWS_WITH(
      dist::ProcessGroup::connect(dist::LaunchEnv{}, options, false),
      "dist.timeout_s must be in (0, 86400]");
#ifndef USE_C10D_NCCL
  options.timeout_s = 10;
  options.backend = "nccl";
  EWGS_EXPECT_THROWS_WITH(
      dist::ProcessGroup::connect(dist::LaunchEnv{}, options, true),
      "this LibTorch was built without NCCL");
#endif
}

TEST_F(DistTest, TwoRanksAgreeOnEveryCollective) {
  for (const auto& r : run_ranks("collectives", 2, {0, 1}, 60, 120)) {
    EXPECT_EQ(r.status, 0) << r.stderr_text;
  }
}

TEST_F(DistTest, AveragedGradientsOfTwoHalfBatchesAreThoseOfTheWholeBatch) {
  const auto saved = saved_by_two_ranks("gradients", 120);
  ASSERT_EQ(saved.size(), 2u);
  const auto& rank0 = saved[0];
  const auto& rank1 = saved[1];
  TinyNet net;
  const auto [x, y] = tiny_global_batch();
  torch::nn::functional::cross_entropy(net->forward(x), y).backward();
  std::vector<torch::Tensor> params;
  for (const auto& p : net->parameters()) {
    if (p.grad().defined()) {
      params.push_back(p);
    }
  }
  ASSERT_EQ(params.size(), 4u);  // the unused parameter has no gradient
  ASSERT_EQ(rank0.size(), 4u);
  for (size_t i = 0; i < rank0.size(); ++i) {
    // Every rank holds the same reduced bits.
    EXPECT_TRUE(all_equal(rank0[i], rank1[i])) << "parameter " << i;
    // Nine float32 terms summed in another grouping (4 + 5 samples, then the
    // two ranks) and the weight 4 * 2 / 9 instead of 1/9: a few ulp, far
    // below what a wrong weight (>= 10 %) or a missing rank (50 %) gives.
    EXPECT_TRUE(all_close(rank0[i], params[i].grad(), 2e-6, 1e-7)) << "parameter " << i;
  }
  EXPECT_NEAR(dist::local_loss_weight(4, 9, 2), 8.0 / 9.0, 1e-15);
  EWGS_EXPECT_THROWS_WITH(dist::local_loss_weight(10, 9, 2), "need 0 <= local <= global");
}

/// One LibTorch BatchNorm over all seven samples of batch_norm_case: the same
/// values sync_bn_case saves, with the input gradient of the whole batch.
template <typename Layer>
std::vector<torch::Tensor> whole_batch_norm(bool two_d) {
  const auto c = batch_norm_case(two_d);
  Layer bn(c.x.size(1));
  {
    torch::NoGradGuard no_grad;
    bn->weight.copy_(c.gamma);
    bn->bias.copy_(c.beta);
  }
  auto x = c.x.clone().requires_grad_();
  const auto y = bn->forward(x);
  ((y * c.probe).sum() / static_cast<double>(c.x.size(0))).backward();
  return {
      y.detach(), x.grad(), bn->weight.grad(), bn->bias.grad(), bn->running_mean, bn->running_var};
}

TEST_F(DistTest, SynchronizedBatchNormIsOneBatchNormOverAllRanks) {
  const auto saved = saved_by_two_ranks("sync_bn", 120);
  ASSERT_EQ(saved.size(), 2u);
  const auto& rank0 = saved[0];
  const auto& rank1 = saved[1];
  auto want = whole_batch_norm<torch::nn::BatchNorm2d>(true);
  const auto one_d = whole_batch_norm<torch::nn::BatchNorm1d>(false);
  want.insert(want.end(), one_d.begin(), one_d.end());
  ASSERT_EQ(rank0.size(), want.size());
  const char* names[] = {
      "output",
      "input gradient",
      "weight gradient",
      "bias gradient",
      "running mean",
      "running variance"};
  for (size_t i = 0; i < want.size(); ++i) {
    const std::string what = std::string(i < 6 ? "2d " : "1d ") + names[i % 6];
    torch::Tensor got = rank1[i];
    if (i % 6 < 2) {
      // Each rank holds its rows; the input gradient of a rank is that of the
      // sum of all ranks' losses: world_size times the whole batch's.
      got = torch::cat({rank0[i], rank1[i]}) / (i % 6 == 1 ? 2.0 : 1.0);
    } else {
      EXPECT_TRUE(all_equal(rank0[i], rank1[i])) << what << " differs between the ranks";
    }
    // float32 sums over 7 x 16 values in another grouping: a few ulp of the
    // largest terms; a wrong variance (biased for unbiased: 7/6) or a missing
    // all-reduce is off by percents.
    EXPECT_TRUE(all_close(got, want[i], 1e-5, 1e-6)) << what;
  }
}

TEST_F(DistTest, TwoRanksShareTheHessianProbesAndAgreeOnOneEstimate) {
  const auto saved = saved_by_two_ranks("hessian", 300);
  ASSERT_EQ(saved.size(), 2u);
  const auto& rank0 = saved[0];
  const auto& rank1 = saved[1];
  ASSERT_EQ(rank0.size(), 2u);
  ASSERT_EQ(rank1.size(), 2u);
  for (size_t run = 0; run < 2; ++run) {
    // Every rank pooled the same probes in the same order: the same bits.
    EXPECT_TRUE(all_equal(rank0[run], rank1[run]))
        << (run == 0 ? "capped" : "adaptive") << " estimate";
  }
  // The capped estimate: 63 probes per batch drawn by both ranks together,
  // within 4 standard errors (of 63 probes, from the exact Hessian) of the
  // exact delta, and not the one process's estimate (rank 1 drew its own).
  HessianFixture f;
  const auto exact = exact_deltas(f);
  HessianFixture alone;
  const auto one_process = hessian::estimate_deltas(
      *alone.net, alone.forward, alone.batches, shared_estimate_options(true));
  const auto capped = rank0[0].accessor<double, 2>();
  ASSERT_EQ(rank0[0].size(0), static_cast<int64_t>(one_process.quantizers.size()));
  for (size_t i = 0; i < one_process.quantizers.size(); ++i) {
    const auto& q = one_process.quantizers[i];
    const std::string what = q.layer + " " + hessian::delta_target_key(q.target);
    const auto& want = exact.at(q.layer + "/" + hessian::delta_target_key(q.target));
    const auto row = static_cast<int64_t>(i);
    EXPECT_EQ(capped[row][2], static_cast<double>(kCappedProbes * 2))
        << what << ": probes over 2 batches";
    double variance = 0;
    for (double s : want.sample_std) {
      variance += s * s / static_cast<double>(kCappedProbes);
    }
    const double exact_se = std::sqrt(variance) / static_cast<double>(want.sample_std.size());
    EXPECT_NEAR(capped[row][0], want.delta, 4 * exact_se) << what;
    EXPECT_NE(capped[row][0], q.delta_unclipped) << what << ": rank 1 drew rank 0's probes";
  }
  // The adaptive estimate meets every quantizer's target.
  const auto adaptive = rank0[1].accessor<double, 2>();
  for (int64_t row = 0; row < rank0[1].size(0); ++row) {
    EXPECT_EQ(adaptive[row][3], 1.0) << "quantizer " << row << " missed its error target";
  }
}

TEST_F(DistTest, ARankThatDiesIsAnErrorOnTheOthersNotAHang) {
  const auto start = std::chrono::steady_clock::now();
  const auto results = run_ranks("dies", 2, {0, 1}, 60, 120);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(results[1].status, 3);
  EXPECT_FALSE(results[0].timed_out);
  EXPECT_EQ(results[0].status, 2) << results[0].stderr_text;
  EXPECT_NE(results[0].stderr_text.find("rank 0 of 2: all-reduce (gloo) failed"), std::string::npos)
      << results[0].stderr_text;
  EXPECT_LT(seconds, 60.0) << "the error came only with the timeout";
}

TEST_F(DistTest, ARankThatStallsIsAnErrorAfterTheTimeout) {
  const auto results = run_ranks("stalls", 2, {0, 1}, 3, 30);
  EXPECT_FALSE(results[0].timed_out);
  EXPECT_EQ(results[0].status, 2) << results[0].stderr_text;
  EXPECT_NE(results[0].stderr_text.find("within dist.timeout_s = 3 s"), std::string::npos)
      << results[0].stderr_text;
}

TEST_F(DistTest, ARendezvousThatNeverCompletesTimesOut) {
  const auto results = run_ranks("collectives", 2, {0}, 3, 30);
  EXPECT_FALSE(results[0].timed_out);
  EXPECT_EQ(results[0].status, 2) << results[0].stderr_text;
  EXPECT_NE(
      results[0].stderr_text.find(
          "rank 0 of 2: rendezvous at MASTER_ADDR:MASTER_PORT = 127.0.0.1:"),
      std::string::npos)
      << results[0].stderr_text;
}

}  // namespace
}  // namespace ewgs::test
