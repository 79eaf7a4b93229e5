// c10d process groups behind ewgs::dist::ProcessGroup (include/ewgs/dist/process_group.h).
#include "ewgs/dist/process_group.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/version.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>

namespace ewgs::dist {
namespace {

// LibTorch 2 split the process group into a front end and backends; the
// backends (Gloo, NCCL) keep the collectives ewgs calls.
#if TORCH_VERSION_MAJOR >= 2
using BackendBase = c10d::Backend;
#else
using BackendBase = c10d::ProcessGroup;
#endif

/// An error's message without LibTorch's C++ backtrace.
std::string message_of(const std::exception& e) {
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) {
    return error->what_without_backtrace();
  }
  return e.what();
}

bool nccl_available() {
#ifdef USE_C10D_NCCL
  return true;
#else
  return false;
#endif
}

/// No other process: every collective leaves its tensors as they are.
class SingleProcess final : public ProcessGroup {
 public:
  SingleProcess() : ProcessGroup(0, 1) {}
  std::string backend() const override { return "none"; }
  at::TensorOptions tensor_options() const override { return at::TensorOptions(); }
  std::unique_ptr<PendingCollective> start_all_reduce_sum(at::Tensor) override {
    struct Done final : PendingCollective {
      void wait() override {}
    };
    return std::make_unique<Done>();
  }
  void broadcast(at::Tensor&, int64_t) override {}
  std::vector<at::Tensor> all_gather(const at::Tensor& local) override { return {local.clone()}; }
  void barrier() override {}

 protected:
  void all_reduce(at::Tensor&, bool) override {}
};

class C10dGroup final : public ProcessGroup {
 public:
  C10dGroup(
      int64_t rank,
      int64_t world_size,
      std::string backend,
      at::Device device,
      double timeout_s,
      c10::intrusive_ptr<c10d::Store> store,
      c10::intrusive_ptr<BackendBase> group)
      : ProcessGroup(rank, world_size),
        backend_(std::move(backend)),
        device_(device),
        timeout_s_(timeout_s),
        store_(std::move(store)),
        group_(std::move(group)) {}

  std::string backend() const override { return backend_; }
  at::TensorOptions tensor_options() const override { return at::TensorOptions().device(device_); }

  std::unique_ptr<PendingCollective> start_all_reduce_sum(at::Tensor tensor) override {
    std::vector<at::Tensor> tensors{std::move(tensor)};
    auto work = call("all-reduce", [&] { return group_->allreduce(tensors); });
    struct Pending final : PendingCollective {
      const C10dGroup* group;
      c10::intrusive_ptr<c10d::Work> work;
      std::vector<at::Tensor> tensors;
      void wait() override { group->finish(work, "all-reduce"); }
    };
    auto pending = std::make_unique<Pending>();
    pending->group = this;
    pending->work = std::move(work);
    pending->tensors = std::move(tensors);
    return pending;
  }

  void broadcast(at::Tensor& tensor, int64_t root) override {
    std::vector<at::Tensor> tensors{tensor};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    finish(call("broadcast", [&] { return group_->broadcast(tensors, options); }), "broadcast");
  }

  std::vector<at::Tensor> all_gather(const at::Tensor& local) override {
    std::vector<at::Tensor> inputs{local.contiguous()};
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int64_t r = 0; r < world_size(); ++r) {
      outputs[0].push_back(at::empty_like(inputs[0]));
    }
    finish(call("all-gather", [&] { return group_->allgather(outputs, inputs); }), "all-gather");
    return outputs[0];
  }

  void barrier() override {
    finish(call("barrier", [&] { return group_->barrier(); }), "barrier");
  }

 protected:
  void all_reduce(at::Tensor& tensor, bool max) override {
    std::vector<at::Tensor> tensors{tensor};
    c10d::AllreduceOptions options;
    options.reduceOp = max ? c10d::ReduceOp::MAX : c10d::ReduceOp::SUM;
    finish(call("all-reduce", [&] { return group_->allreduce(tensors, options); }), "all-reduce");
  }

 private:
  std::string failure(const char* what, const std::exception& e) const {
    return c10::str(
        "rank ",
        rank(),
        " of ",
        world_size(),
        ": ",
        what,
        " (",
        backend_,
        ") failed: ",
        message_of(e),
        "\nAnother rank stopped, or did not reach this ",
        what,
        " within dist.timeout_s = ",
        timeout_s_,
        " s");
  }

  template <typename Start>
  c10::intrusive_ptr<c10d::Work> call(const char* what, Start&& start) const {
    try {
      return start();
    } catch (const std::exception& e) {
      TORCH_CHECK(false, failure(what, e));
    }
  }

  void finish(const c10::intrusive_ptr<c10d::Work>& work, const char* what) const {
    try {
      work->wait();
    } catch (const std::exception& e) {
      TORCH_CHECK(false, failure(what, e));
    }
  }

  std::string backend_;
  at::Device device_;
  double timeout_s_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<BackendBase> group_;
};

std::string resolve_backend(const std::string& requested, bool cuda) {
  TORCH_CHECK(
      requested == "auto" || requested == "gloo" || requested == "nccl",
      "dist.backend must be \"auto\", \"gloo\" or \"nccl\", got \"",
      requested,
      "\"");
  if (requested == "nccl") {
    TORCH_CHECK(
        nccl_available(),
        "dist.backend = \"nccl\" but this LibTorch was built without NCCL; use \"gloo\"");
    TORCH_CHECK(
        cuda,
        "dist.backend = \"nccl\" needs run.device = \"cuda\"; NCCL reduces CUDA tensors only");
  }
  if (requested == "auto") {
    return cuda && nccl_available() ? "nccl" : "gloo";
  }
  return requested;
}

/// Gloo's network device: GLOO_SOCKET_IFNAME when set (PyTorch's convention),
/// the loopback device for a rendezvous on this machine, else the device the
/// host name resolves to.
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
      interface != nullptr && *interface != '\0') {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  if (master_addr == "localhost" || master_addr.rfind("127.", 0) == 0) {
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

std::shared_ptr<ProcessGroup> ProcessGroup::single() {
  return std::make_shared<SingleProcess>();
}

std::shared_ptr<ProcessGroup> ProcessGroup::connect(
    const LaunchEnv& env, const ProcessGroupOptions& options, bool cuda) {
  TORCH_CHECK(
      options.timeout_s > 0 && options.timeout_s <= 86400,
      "dist.timeout_s must be in (0, 86400] seconds, got ",
      options.timeout_s);
  const std::string backend = resolve_backend(options.backend, cuda);
  if (!env.distributed()) {
    return single();
  }
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(options.timeout_s * 1000.0));
  const std::string where = c10::str(env.master_addr, ":", env.master_port);
  const auto rendezvous_failure = [&](const std::string& detail) {
    return c10::str(
        "rank ",
        env.rank,
        " of ",
        env.world_size,
        ": rendezvous at MASTER_ADDR:MASTER_PORT = ",
        where,
        " failed within dist.timeout_s = ",
        options.timeout_s,
        " s",
        detail);
  };
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(env.master_port);
    store_options.isServer = env.rank == 0;
    store_options.numWorkers = static_cast<size_t>(env.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
  } catch (const std::exception& e) {
    TORCH_CHECK(false, rendezvous_failure(": " + message_of(e)));
  }
  c10::intrusive_ptr<BackendBase> group;
  try {
    if (backend == "gloo") {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
      gloo_options->devices.push_back(gloo_device(env.master_addr));
      gloo_options->threads = 2;
      group = c10::make_intrusive<c10d::ProcessGroupGloo>(
          store, env.rank, env.world_size, gloo_options);
    } else {
#ifdef USE_C10D_NCCL
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      group = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          store, env.rank, env.world_size, nccl_options);
#endif
    }
  } catch (const std::exception& e) {
    TORCH_CHECK(
        false,
        rendezvous_failure(
            " while connecting the " + backend +
            " group (every rank must start): " + message_of(e)));
  }
  const at::Device device =
      backend == "nccl" ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank))
                        : at::Device(at::kCPU);
  return std::make_shared<C10dGroup>(
      env.rank, env.world_size, backend, device, options.timeout_s, store, group);
}

void ProcessGroup::all_reduce_sum(at::Tensor& tensor) {
  all_reduce(tensor, /*max=*/false);
}

void ProcessGroup::all_reduce_max(at::Tensor& tensor) {
  all_reduce(tensor, /*max=*/true);
}

std::string ProcessGroup::broadcast_text(const std::string& text, int64_t root) {
  auto length =
      at::tensor({static_cast<int64_t>(text.size())}, at::kLong).to(tensor_options().device());
  broadcast(length, root);
  auto bytes = at::zeros({length.item<int64_t>()}, at::kByte);
  if (rank() == root) {
    std::copy(text.begin(), text.end(), bytes.data_ptr<uint8_t>());
  }
  bytes = bytes.to(tensor_options().device());
  broadcast(bytes, root);
  bytes = bytes.cpu();
  const auto* data = bytes.data_ptr<uint8_t>();
  return std::string(data, data + bytes.numel());
}

std::vector<std::string> ProcessGroup::all_gather_text(const std::string& text) {
  const auto device = tensor_options().device();
  auto lengths = all_gather(at::tensor({static_cast<int64_t>(text.size())}, at::kLong).to(device));
  int64_t longest = 0;
  for (auto& l : lengths) {
    l = l.cpu();
    longest = std::max(longest, l.item<int64_t>());
  }
  auto bytes = at::zeros({longest}, at::kByte);
  std::copy(text.begin(), text.end(), bytes.data_ptr<uint8_t>());
  const auto gathered = all_gather(bytes.to(device));
  std::vector<std::string> texts;
  for (size_t r = 0; r < gathered.size(); ++r) {
    const auto host = gathered[r].cpu();
    const auto* data = host.data_ptr<uint8_t>();
    texts.emplace_back(data, data + lengths[r].item<int64_t>());
  }
  return texts;
}

}  // namespace ewgs::dist
