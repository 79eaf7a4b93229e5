// One rank of the data-parallel tests: dist_worker SCENARIO RANK WORLD PORT TIMEOUT_S OUT_DIR.
// It sets the launcher variables as torchrun would, connects, runs the scenario and
// exits 0, 1 (a wrong result, printed) or 2 (an error, printed).
#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "ewgs/core/threads.h"
#include "ewgs/data/loader.h"
#include "ewgs/dist/gradient_reducer.h"
#include "ewgs/dist/launch_env.h"
#include "ewgs/dist/process_group.h"
#include "ewgs/nn/sync_batch_norm.h"
#include "hessian/tiny_quantized_net.h"
#include "hessian_case.h"
#include "tiny_model.h"

namespace {

using ewgs::dist::ProcessGroup;

int wrong(const std::string& what) {
  std::cerr << "wrong result: " << what << "\n";
  return 1;
}

int collectives(ProcessGroup& group) {
  const auto r = static_cast<float>(group.rank());
  auto sum = torch::tensor({r + 1.0f, 10.0f * (r + 1.0f)});
  group.all_reduce_sum(sum);
  if (!torch::equal(sum, torch::tensor({3.0f, 30.0f}))) {
    return wrong("all_reduce_sum gave " + c10::str(sum));
  }
  auto max = torch::tensor({r, -r});
  group.all_reduce_max(max);
  if (!torch::equal(max, torch::tensor({1.0f, 0.0f}))) {
    return wrong("all_reduce_max gave " + c10::str(max));
  }
  auto from_one = torch::full({3}, r);
  group.broadcast(from_one, /*root=*/1);
  if (!torch::equal(from_one, torch::ones({3}))) {
    return wrong("broadcast from rank 1 gave " + c10::str(from_one));
  }
  if (group.broadcast_text(group.rank() == 0 ? "config of rank 0" : "other", 0) !=
      "config of rank 0") {
    return wrong("broadcast_text");
  }
  const auto texts = group.all_gather_text(
      std::string(static_cast<size_t>(group.rank()) * 5 + 1, 'a' + group.rank()));
  if (texts.size() != 2 || texts[0] != "a" || texts[1] != "bbbbbb") {
    return wrong("all_gather_text");
  }
  group.barrier();
  return 0;
}

/// Each rank's shard of the nine samples, its loss weighted as the trainer
/// does, and the averaged gradients saved for the test to compare.
int gradients(const std::shared_ptr<ProcessGroup>& group, const std::string& out) {
  ewgs::test::TinyNet net;
  const auto [x, y] = ewgs::test::tiny_global_batch();
  const auto [first, last] = ewgs::data::shard_range(x.size(0), group->rank(), group->world_size());
  const auto local_x = x.slice(0, first, last);
  const auto local_y = y.slice(0, first, last);
  const auto weight = ewgs::dist::local_loss_weight(last - first, x.size(0), group->world_size());
  const auto loss = torch::nn::functional::cross_entropy(net->forward(local_x), local_y) * weight;
  loss.backward();
  // Tiny buckets: several all-reduces in flight at once.
  ewgs::dist::GradientReducer reducer(group, net->parameters(), /*bucket_bytes=*/64);
  if (reducer.buckets() < 3) {
    return wrong("expected several buckets, got " + std::to_string(reducer.buckets()));
  }
  reducer.average();
  if (net->unused.grad().defined()) {
    return wrong("the unused parameter got a gradient");
  }
  std::vector<torch::Tensor> grads;
  for (const auto& p : net->parameters()) {
    if (p.grad().defined()) {
      grads.push_back(p.grad());
    }
  }
  torch::save(grads, out + "/gradients_" + std::to_string(group->rank()) + ".pt");
  return 0;
}

/// Synchronized BatchNorm on this rank's shard of seven samples: output, input
/// gradient, averaged parameter gradients and running statistics.
template <typename Layer>
std::vector<torch::Tensor> sync_bn_case(const std::shared_ptr<ProcessGroup>& group, bool two_d) {
  const auto c = ewgs::test::batch_norm_case(two_d);
  Layer bn(c.x.size(1));
  bn->synchronize(group);
  {
    torch::NoGradGuard no_grad;
    bn->weight.copy_(c.gamma);
    bn->bias.copy_(c.beta);
  }
  const auto [first, last] =
      ewgs::data::shard_range(c.x.size(0), group->rank(), group->world_size());
  auto local = c.x.slice(0, first, last).clone().requires_grad_();
  const auto y = bn->forward(local);
  const double weight =
      ewgs::dist::local_loss_weight(last - first, c.x.size(0), group->world_size());
  ((y * c.probe.slice(0, first, last)).sum() / static_cast<double>(last - first) * weight)
      .backward();
  ewgs::dist::GradientReducer(group, bn->parameters()).average();
  return {
      y.detach(),
      local.grad(),
      bn->weight.grad(),
      bn->bias.grad(),
      bn->running_mean,
      bn->running_var};
}

/// Both BatchNorm kinds, saved for the test to compare with one process.
int sync_bn(const std::shared_ptr<ProcessGroup>& group, const std::string& out) {
  auto saved = sync_bn_case<ewgs::nn::SyncBatchNorm2d>(group, /*two_d=*/true);
  const auto one_d = sync_bn_case<ewgs::nn::SyncBatchNorm1d>(group, /*two_d=*/false);
  saved.insert(saved.end(), one_d.begin(), one_d.end());
  torch::save(saved, out + "/sync_bn_" + std::to_string(group->rank()) + ".pt");
  return 0;
}

/// The capped and the adaptive delta estimate with probes shared among the
/// ranks, saved for the test to compare across ranks and with exact traces.
int hessian_estimates(const std::shared_ptr<ProcessGroup>& group, const std::string& out) {
  std::vector<torch::Tensor> saved;
  for (const bool capped : {true, false}) {
    ewgs::test::HessianFixture f;
    auto options = ewgs::test::shared_estimate_options(capped);
    options.ranks = group;
    saved.push_back(ewgs::test::estimate_table(
        ewgs::hessian::estimate_deltas(*f.net, f.forward, f.batches, options)));
  }
  torch::save(saved, out + "/hessian_" + std::to_string(group->rank()) + ".pt");
  return 0;
}

/// Rank 1 leaves (dies) or stalls; rank 0's all-reduce must fail, not hang.
int lost_peer(ProcessGroup& group, bool dies) {
  if (group.rank() == 1) {
    if (dies) {
      std::_Exit(3);
    }
    std::this_thread::sleep_for(std::chrono::seconds(10));
    return 0;
  }
  auto t = torch::ones({4});
  group.all_reduce_sum(t);
  return wrong("the all-reduce without rank 1 returned");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::cerr << "usage: dist_worker SCENARIO RANK WORLD PORT TIMEOUT_S OUT_DIR\n";
    return 64;
  }
  const std::string scenario = argv[1];
  ::setenv("RANK", argv[2], 1);
  ::setenv("WORLD_SIZE", argv[3], 1);
  ::setenv("MASTER_ADDR", "127.0.0.1", 1);
  ::setenv("MASTER_PORT", argv[4], 1);
  ewgs::set_cpu_threads(1);
  try {
    ewgs::dist::ProcessGroupOptions options;
    options.backend = "gloo";
    options.timeout_s = std::stod(argv[5]);
    const auto group =
        ProcessGroup::connect(ewgs::dist::LaunchEnv::from_environment(), options, /*cuda=*/false);
    if (scenario == "collectives") {
      return collectives(*group);
    }
    if (scenario == "gradients") {
      return gradients(group, argv[6]);
    }
    if (scenario == "sync_bn") {
      return sync_bn(group, argv[6]);
    }
    if (scenario == "hessian") {
      return hessian_estimates(group, argv[6]);
    }
    if (scenario == "dies" || scenario == "stalls") {
      return lost_peer(*group, scenario == "dies");
    }
    std::cerr << "unknown scenario " << scenario << "\n";
    return 64;
  } catch (const c10::Error& e) {
    std::cerr << e.what_without_backtrace() << "\n";
    return 2;
  }
}
