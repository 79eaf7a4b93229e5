// The training loop (include/ewgs/train/trainer.h): per-epoch schedules, Hessian
// delta updates, evaluation, divergence checks, metrics and epoch commits; exact resume.
#include "ewgs/train/trainer.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <optional>
#include <tuple>
#include <variant>

#include "ewgs/core/strings.h"
#include "ewgs/core/threads.h"
#include "ewgs/core/version.h"
#include "ewgs/data/class_names.h"
#include "ewgs/dist/gradient_reducer.h"
#include "ewgs/dist/launch_env.h"
#include "ewgs/dist/process_group.h"
#include "ewgs/hessian/delta_estimator.h"
#include "ewgs/models/model_summary.h"
#include "ewgs/models/registry.h"
#include "ewgs/nn/quantized_layers.h"
#include "ewgs/nn/rank_gradients.h"
#include "ewgs/nn/state_dict.h"
#include "ewgs/nn/sync_batch_norm.h"
#include "ewgs/train/captured_step.h"
#include "ewgs/train/checkpoint.h"
#include "ewgs/train/data_pipeline.h"
#include "ewgs/train/delta_schedule.h"
#include "ewgs/train/evaluate.h"
#include "ewgs/train/initialize_from.h"
#include "ewgs/train/lr_schedule.h"
#include "ewgs/train/metrics_log.h"
#include "ewgs/train/optimizers.h"
#include "ewgs/train/progress.h"
#include "ewgs/train/run_directory.h"
#include "ewgs/train/stop_signal.h"

namespace ewgs::train {

nlohmann::json TrainResult::to_json() const {
  return {
      {"status", status},
      {"message", message},
      {"epochs_done", epochs_done},
      {"final_top1", final_top1},
      {"final_top5", final_top5},
      {"best_top1", best_top1},
      {"wall_s", wall_s}};
}

/// Steps between host reads of the running loss on a GPU (progress, and
/// the non-finite check, which then names the exact step after the fact).
constexpr int64_t kGpuReadEvery = 50;

/// Where ranks other than 0 send their progress: nowhere.
std::ostream& discarded_output() {
  static std::ostream nowhere(nullptr);
  return nowhere;
}

struct Trainer::Impl {
  /// First member: signals are caught from the start of start-up on.
  StopSignalGuard signals;
  TrainConfig config;
  /// This process's place in a multi-process run (rank 0 of 1 alone).
  dist::LaunchEnv launch;
  RunDirectory dir;
  ProgressReporter progress;
  std::function<void(int64_t)> on_step;
  std::function<void(const std::string&)> on_startup;
  torch::Device device{torch::kCPU};
  std::unique_ptr<DataPipeline> data;
  models::ClassifierPtr model;
  Optimizers optimizers;
  std::unique_ptr<LrSchedule> model_schedule;
  std::unique_ptr<LrSchedule> quant_schedule;
  TrainProgress state;
  /// The progress last.pt holds (what a resume would continue from).
  std::optional<TrainProgress> committed;
  std::unique_ptr<MetricsLog> metrics;
  /// Whether some quantizer adds a penalty to the loss (PACT).
  bool has_regularizer = false;
  /// All ranks of the run; rank 0 writes the run directory and reports.
  std::shared_ptr<dist::ProcessGroup> group = dist::ProcessGroup::single();
  /// Averages gradients over the ranks (multi-process runs only).
  std::unique_ptr<dist::GradientReducer> reducer;
  /// The training step as a CUDA graph (run.cuda_graph), else null.
  std::unique_ptr<CapturedStep> graph;

  Impl(TrainConfig c, dist::LaunchEnv l, RunDirectory d, const TrainerOptions& options)
      : signals(options.handle_stop_signals),
        config(std::move(c)),
        launch(std::move(l)),
        dir(std::move(d)),
        progress(
            ProgressReporter::choose_mode(options.json),
            launch.rank != 0 ? discarded_output()
            : options.out    ? *options.out
                             : std::cout),
        on_step(options.on_step),
        on_startup(options.on_startup) {}

  /// Runs one start-up stage; a stop signal that arrived meanwhile ends start-up.
  template <typename Stage>
  void startup_stage(const std::string& name, Stage&& stage) {
    if (on_startup) {
      on_startup(name);
    }
    stage();
    StopSignalGuard::throw_if_received(name);
  }

  /// Builds data, model, optimizers and schedules from the config.
  void build() {
    // Ranks on one machine share its cores.
    set_cpu_threads(
        config.run_threads > 0
            ? config.run_threads
            : std::max<int64_t>(1, data::hardware_threads() / launch.local_world_size));
    if (config.run_device == "cuda") {
      TORCH_CHECK(
          torch::cuda::is_available(), "run.device = \"cuda\" but no CUDA device is available");
      device =
          launch.distributed()
              ? torch::Device(
                    torch::kCUDA,
                    static_cast<c10::DeviceIndex>(launch.local_rank % torch::cuda::device_count()))
              : torch::Device(torch::kCUDA);
    }
    if (launch.distributed()) {
      startup_stage("connecting to the other ranks", [&] { connect(); });
    }
    torch::manual_seed(static_cast<uint64_t>(config.run_seed));
    startup_stage("loading data", [&] {
      DataShard shard;
      shard.rank = group->rank();
      shard.ranks = group->world_size();
      shard.local_processes = launch.local_world_size;
      shard.cuda_index = device.is_cuda() ? device.index() : -1;
      data = std::make_unique<DataPipeline>(config, /*with_train=*/true, shard);
    });
    startup_stage("building the model", [&] {
      models::ModelOptions model_options;
      model_options.num_classes =
          config.model_num_classes > 0 ? config.model_num_classes : data->num_classes();
      model_options.in_channels = data->channels();
      model_options.quant = config.quant_spec();
      TORCH_CHECK(
          model_options.num_classes >= data->num_classes(),
          "model.num_classes = ",
          model_options.num_classes,
          " but the data set has ",
          data->num_classes(),
          " classes");
      model = models::make_model(config.model_name, model_options);
      model->to(device);
      has_regularizer = nn::quantizer_regularizer(*model).defined();
      optimizers = make_optimizers(config, *model);
      if (config.run_cuda_graph) {
        TORCH_CHECK(
            !launch.distributed(),
            "run.cuda_graph = true trains in one process; this run has WORLD_SIZE = ",
            launch.world_size);
        graph = std::make_unique<CapturedStep>(
            optimizers,
            model->parameters(),
            [this](const torch::Tensor& i, const torch::Tensor& l) { return forward_loss(i, l); });
      }
    });
    const auto milestones =
        LrSchedule::parse_milestones(config.optim_milestones, "optim.milestones");
    model_schedule = std::make_unique<LrSchedule>(
        config.optim_schedule,
        config.optim_lr,
        config.train_epochs,
        milestones,
        config.optim_gamma);
    quant_schedule = std::make_unique<LrSchedule>(
        config.optim_schedule,
        config.optim_quant_lr,
        config.train_epochs,
        milestones,
        config.optim_gamma);
  }

  /// Joins the other ranks and checks that they run the same config.
  void connect() {
    group = dist::ProcessGroup::connect(
        launch, {config.dist_backend, config.dist_timeout_s}, device.is_cuda());
    TORCH_CHECK(
        config.train_batch_size >= group->world_size(),
        "train.batch_size = ",
        config.train_batch_size,
        " cannot be split over WORLD_SIZE = ",
        group->world_size(),
        " ranks: each needs at least one sample");
    const std::string mine = config.to_toml();
    const std::string leaders = group->broadcast_text(mine);
    if (!any_rank(mine != leaders)) {
      return;
    }
    const auto my_lines = split(mine, '\n');
    const auto leader_lines = split(leaders, '\n');
    for (size_t i = 0; i < std::max(my_lines.size(), leader_lines.size()); ++i) {
      const std::string here = i < my_lines.size() ? my_lines[i] : "(end)";
      const std::string there = i < leader_lines.size() ? leader_lines[i] : "(end)";
      TORCH_CHECK(
          here == there,
          "rank ",
          group->rank(),
          " runs another config than rank 0: '",
          here,
          "' here, '",
          there,
          "' on rank 0; every rank must run the same config");
    }
    TORCH_CHECK(
        false,
        "rank ",
        group->rank(),
        ": another rank runs a config that differs from rank 0's (that rank's ",
        "error names the setting); every rank must run the same config");
  }

  /// Whether `flag` holds on some rank (every rank gets the same answer).
  bool any_rank(bool flag) {
    auto t = torch::full({1}, flag ? 1.0f : 0.0f, group->tensor_options().dtype(torch::kFloat));
    group->all_reduce_max(t);
    return t.item<float>() > 0.0f;
  }

  /// The largest `value` over the ranks.
  int64_t max_over_ranks(int64_t value) {
    auto t = torch::full({1}, value, group->tensor_options().dtype(torch::kLong));
    group->all_reduce_max(t);
    return t.item<int64_t>();
  }

  /// Sums of every rank's meter: the meter of the whole batches.
  MeanMeter summed(const MeanMeter& local) {
    if (group->world_size() == 1) {
      return local;
    }
    auto t = torch::tensor(
        {local.loss_sum,
         static_cast<double>(local.top1),
         static_cast<double>(local.topk),
         static_cast<double>(local.seen)},
        group->tensor_options().dtype(torch::kDouble));
    group->all_reduce_sum(t);
    const auto sums = t.cpu();
    const auto* v = sums.data_ptr<double>();
    MeanMeter out;
    out.loss_sum = v[0];
    out.top1 = static_cast<int64_t>(std::llround(v[1]));
    out.topk = static_cast<int64_t>(std::llround(v[2]));
    out.seen = static_cast<int64_t>(std::llround(v[3]));
    return out;
  }

  /// Copies rank 0's parameters and buffers to every rank.
  void broadcast_model_state() {
    torch::NoGradGuard no_grad;
    for (auto& [name, tensor] : nn::module_state(*model)) {
      group->broadcast(tensor);
    }
  }

  /// Whether every quantized layer has run the paper's first-batch initialization.
  bool quantizers_initialized() const {
    for (const auto& module : model->modules()) {
      if (const auto* layer = dynamic_cast<const nn::QuantizedLayer*>(module.get());
          layer != nullptr && !layer->quant_initialized()) {
        return false;
      }
    }
    return true;
  }

  /// Ranks start alike: quantizers initialized from the whole first batch (paper
  /// Sec. 4.1, what one process sees; BatchNorm's running statistics are left
  /// as they were), then rank 0's model state everywhere.
  void start_ranks() {
    if (!quantizers_initialized()) {
      const auto whole = data->whole_train_batch(state.epoch, state.batch);
      std::vector<std::pair<torch::Tensor, torch::Tensor>> running;
      for (const auto& item : model->named_buffers()) {
        const auto& name = item.key();
        if (name.find("running_") != std::string::npos ||
            name.find("num_batches_tracked") != std::string::npos) {
          running.emplace_back(item.value(), item.value().clone());
        }
      }
      torch::NoGradGuard no_grad;
      model->train();
      model->forward(whole.images.to(device));
      for (auto& [buffer, saved] : running) {
        buffer.copy_(saved);
      }
    }
    broadcast_model_state();
    // Gradients of quantized weights are averaged in backward, before their
    // quantizers' (non-additive) estimators; the reducer averages the rest.
    const auto in_backward = synchronize_ranks(true);
    std::vector<torch::Tensor> rest;
    for (const auto& p : model->parameters()) {
      const bool reduced =
          std::any_of(in_backward.begin(), in_backward.end(), [&](const torch::Tensor& q) {
            return q.unsafeGetTensorImpl() == p.unsafeGetTensorImpl();
          });
      if (!reduced) {
        rest.push_back(p);
      }
    }
    reducer = std::make_unique<dist::GradientReducer>(group, rest);
  }

  /// Turns the collectives inside forward and backward on or off (off for
  /// Hessian-vector products, which differentiate twice); returns the
  /// parameters whose gradients backward then averages itself.
  std::vector<torch::Tensor> synchronize_ranks(bool on) {
    nn::synchronize_batch_norm(*model, on && config.model_sync_bn ? group : nullptr);
    return nn::average_quantized_weight_gradients(*model, on ? group : nullptr);
  }

  CheckpointParts parts() { return {*model, optimizers.model.get(), optimizers.quant.get()}; }

  std::string checkpoint() {
    return checkpoint_bytes(
        {"", config.to_toml(), state, data->class_names(), metrics->history()}, parts());
  }

  void start_metrics(std::string history) {
    metrics = std::make_unique<MetricsLog>(
        std::move(history), [this](const std::string& text) { dir.write("metrics.jsonl", text); });
  }

  /// Start-up ends: the run directory can hold its checkpoints, and stays.
  void finish_startup() {
    if (!dir.writes()) {
      return;  // rank 0 checks and keeps the folder
    }
    startup_stage("checking the run directory", [&] {
      uint64_t bytes = checkpoint().size();
      if (state.global_step == 0) {
        // The optimizers' moments (up to two per parameter, Adam) appear at the first step.
        for (const auto& p : model->parameters()) {
          bytes += 2 * static_cast<uint64_t>(p.numel() * p.element_size());
        }
      }
      dir.check_room(bytes);
    });
    dir.keep();
  }

  /// Writes the state as last.pt (and best.pt) atomically: an epoch's unit.
  void commit(bool best) {
    if (dir.writes()) {
      dir.commit(checkpoint(), best);
    }
    committed = state;
  }

  /// "D/last.pt (epoch 2)" or "none (no epoch finished)": what a resume continues from.
  std::string last_good() const {
    if (!committed) {
      return "none (no epoch finished)";
    }
    return fmt::format(
        "{} (epoch {}{})",
        dir.path("last.pt"),
        committed->epoch,
        committed->batch > 0
            ? fmt::format(", then {} batches of epoch {}", committed->batch, committed->epoch + 1)
            : "");
  }

  /// Why the state must not be saved: a non-finite model tensor, or "".
  std::string non_finite_state() const {
    const std::string bad = nn::first_non_finite(nn::module_state(*model));
    return bad.empty() ? "" : "model tensor '" + bad + "' is not finite";
  }

  TrainResult diverged(const std::string& what) {
    return failed(fmt::format(
        "training diverged in epoch {}: {}; stopped without saving. The last good checkpoint is {}",
        state.epoch + 1,
        what,
        last_good()));
  }

  /// Updates every EWGS delta from the Hessian (paper Algorithm 1). Returns
  /// false when a stop signal ended it early (one process only): the deltas
  /// are unchanged and the update runs again, at the same step, on resume.
  bool update_deltas() {
    auto options = config.estimator_options(
        static_cast<uint64_t>(config.run_seed) * 1000003ULL +
        static_cast<uint64_t>(state.global_step));
    std::vector<hessian::Batch> batches;
    for (auto& [images, labels] : data->hessian_batches(state.global_step)) {
      batches.emplace_back(images.to(device), labels.to(device));
    }
    auto forward = [this](const at::Tensor& x) { return model->forward(x); };
    // Every rank estimates on the same batches, the fast estimator's probes
    // shared among the ranks; Hessian-vector products need BatchNorm's local
    // (twice differentiable) form.
    const bool distributed = group->world_size() > 1;
    if (distributed) {
      options.ranks = group;
      synchronize_ranks(false);
    } else {
      options.stop = [] { return StopSignalGuard::received() != 0; };
    }
    const auto estimate = hessian::estimate_deltas(*model, forward, batches, options);
    if (estimate.stopped) {
      progress.message(
          "delta_update",
          fmt::format(
              "delta update stopped by signal {} after {:.1f}s; it runs again when the run "
              "resumes",
              StopSignalGuard::received(),
              estimate.wall_s));
      return false;
    }
    hessian::apply_deltas(*model, estimate);
    if (distributed) {
      broadcast_model_state();
      synchronize_ranks(true);
    }
    state.last_delta_update = state.global_step;
    auto record = estimate.to_json();
    record["event"] = "delta_update";
    record["epoch"] = state.epoch + 1;  // the epoch in progress, 1-based
    record["global_step"] = state.global_step;
    metrics->append(record);
    for (const auto& q : estimate.quantizers) {
      if (q.kept_previous) {
        progress.message(
            "delta_kept",
            fmt::format(
                "delta of {} {}: kept {:.3g} ({})",
                q.layer,
                hessian::delta_target_key(q.target),
                q.delta,
                q.note));
      }
    }
    progress.message(
        "delta_update",
        fmt::format(
            "delta update ({} estimator, {} batches): {} quantizers in {:.1f}s",
            hessian::to_string(estimate.estimator),
            estimate.batches,
            estimate.quantizers.size(),
            estimate.wall_s));
    return true;
  }

  /// A batch's logits, its cross-entropy, and the quantizers' penalty (PACT;
  /// undefined for the other methods).
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> losses(
      const torch::Tensor& images, const torch::Tensor& labels) {
    auto logits = model->forward(images);
    auto data_loss = torch::nn::functional::cross_entropy(logits, labels);
    auto regularizer = has_regularizer ? nn::quantizer_regularizer(*model) : torch::Tensor();
    return {std::move(logits), std::move(data_loss), std::move(regularizer)};
  }

  /// `loss` plus the quantizers' penalty when there is one.
  static torch::Tensor with_penalty(const torch::Tensor& loss, const torch::Tensor& regularizer) {
    return regularizer.defined() ? loss + regularizer : loss;
  }

  /// The loss that is differentiated, and the logits (what a CUDA graph records).
  StepOutputs forward_loss(const torch::Tensor& images, const torch::Tensor& labels) {
    auto [logits, data_loss, regularizer] = losses(images, labels);
    return {with_penalty(data_loss, regularizer), logits};
  }

  /// One ordinary step: forward, backward (gradients averaged over the ranks), update.
  StepOutputs eager_step(
      const torch::Tensor& images, const torch::Tensor& labels, int64_t global_size) {
    optimizers.zero_grad();
    auto [logits, data_loss, regularizer] = losses(images, labels);
    const auto loss = with_penalty(data_loss, regularizer);
    if (group->world_size() > 1) {
      // Weighted so that the mean over the ranks, which the reducer takes, is
      // the loss of the whole batch.
      const auto weighted =
          data_loss * dist::local_loss_weight(images.size(0), global_size, group->world_size());
      with_penalty(weighted, regularizer).backward();
      reducer->average();
    } else {
      loss.backward();
    }
    optimizers.step();
    return {loss, logits};
  }

  /// One epoch from state.batch on; returns a result when stopped early.
  std::optional<TrainResult> train_epoch(MeanMeter& meter, double& images_per_s) {
    auto& loader = data->train();
    const int64_t batches = config.train_max_batches > 0
                                ? std::min(config.train_max_batches, loader.batches_per_epoch())
                                : loader.batches_per_epoch();
    loader.start_epoch(state.epoch, std::min(state.batch, batches));
    model->train();
    progress.begin_epoch(state.epoch, config.train_epochs, batches);
    // An update a stop signal ended early runs again before the next step.
    if (delta_update_due(config, state, /*at_epoch_start=*/false) && !update_deltas()) {
      return interrupted_in_epoch(meter);
    }
    const bool distributed = group->world_size() > 1;
    // A resumed epoch's sums (of all ranks) count once: on rank 0.
    RunningMeter running(group->rank() == 0 ? meter : MeanMeter{}, device, 5);
    // Loss and accuracy stay on the device; reading them is a host sync, done
    // every step on the CPU and every kGpuReadEvery steps on a GPU.
    const int64_t read_every = device.is_cuda() ? kGpuReadEvery : 1;
    const auto start = std::chrono::steady_clock::now();
    int64_t images_this_session = 0;
    MeanMeter logged = meter;  // the sums at the last train.log_steps record
    while (state.batch < batches) {
      auto batch = loader.next();
      TORCH_INTERNAL_ASSERT(batch.has_value(), "loader ended before batch ", state.batch);
      const auto images = batch->images.to(device);
      const auto labels = batch->labels.to(device);
      const auto eager = [&] { return eager_step(images, labels, batch->global_size); };
      const bool was_captured = graph && graph->captured();
      const StepOutputs out = graph ? graph->step(images, labels, eager) : eager();
      if (graph && !was_captured && graph->captured()) {
        progress.message(
            "cuda_graph",
            fmt::format(
                "training step captured as a CUDA graph at global step {}; later batches of {} "
                "images replay it",
                state.global_step + 1,
                images.size(0)));
      }
      nn::notify_optimizer_step(*model);
      running.add(out.loss, out.logits.detach(), labels, state.global_step);
      ++state.batch;
      ++state.global_step;
      images_this_session += batch->global_size;
      bool stop = StopSignalGuard::received() != 0;
      const bool log_now =
          config.train_log_steps > 0 && state.global_step % config.train_log_steps == 0;
      const bool read_now = log_now || state.batch % read_every == 0 || state.batch == batches;
      // Ranks decide together, at steps they agree on: a signal to any rank
      // stops all of them, and a non-finite loss on any rank fails all.
      if (distributed ? read_now : (stop || read_now)) {
        if (graph) {
          graph->check_quantizer_inputs();
        }
        int64_t bad_step = running.first_non_finite_step();
        meter = summed(running.read());
        if (distributed) {
          stop = any_rank(stop);
          bad_step = max_over_ranks(bad_step);
        }
        if (bad_step >= 0) {
          return diverged(fmt::format("the loss became non-finite at global step {}", bad_step));
        }
        progress.step(state.batch, meter.loss(), meter.top1_percent(), images_this_session);
        if (log_now) {
          log_steps(meter, logged);
          logged = meter;
        }
      } else if (distributed) {
        stop = false;  // decided at the next agreed step
      }
      if (on_step) {
        on_step(state.global_step);
      }
      if (delta_update_due(config, state, /*at_epoch_start=*/false)) {
        update_deltas();
      }
      if (stop || (!distributed && StopSignalGuard::received() != 0)) {
        return interrupted_in_epoch(distributed ? meter : running.read());
      }
    }
    if (!distributed) {
      meter = running.read();
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    images_per_s = elapsed > 0 ? static_cast<double>(images_this_session) / elapsed : 0.0;
    return std::nullopt;
  }

  /// The train.log_steps record of the steps between the sums `since` and `now`.
  void log_steps(const MeanMeter& now, const MeanMeter& since) {
    const auto seen = static_cast<double>(now.seen - since.seen);
    metrics->add(
        {{"event", "steps"},
         {"epoch", state.epoch + 1},
         {"global_step", state.global_step},
         {"train_loss", (now.loss_sum - since.loss_sum) / seen},
         {"train_top1", 100.0 * static_cast<double>(now.top1 - since.top1) / seen},
         {"train_images", now.seen - since.seen}});
  }

  /// Saves the epoch in progress after a stop signal, unless it diverged.
  TrainResult interrupted_in_epoch(const MeanMeter& meter) {
    if (const std::string bad = non_finite_state(); !bad.empty()) {
      return diverged(bad);
    }
    state.epoch_loss_sum = meter.loss_sum;
    state.epoch_correct = meter.top1;
    state.epoch_seen = meter.seen;
    commit(/*best=*/false);
    TrainResult r = result("interrupted");
    r.message = fmt::format(
        "stopped by signal {} at epoch {} batch {}; checkpoint {} written. Continue with: ewgs "
        "train --resume {}",
        StopSignalGuard::received(),
        state.epoch + 1,
        state.batch,
        dir.path("last.pt"),
        dir.dir());
    return r;
  }

  TrainResult failed(const std::string& message) {
    TrainResult r = result("failed");
    r.message = message;
    return r;
  }

  TrainResult result(const std::string& status) const {
    TrainResult r;
    r.status = status;
    r.epochs_done = state.epoch;
    r.final_top1 = state.last_test_top1;
    r.final_top5 = state.last_test_top5;
    r.best_top1 = state.best_top1;
    return r;
  }

  /// The epoch's record, with a test evaluation when one is due; a result
  /// instead when the evaluation or the model is not finite.
  std::variant<nlohmann::json, TrainResult> end_epoch(
      const MeanMeter& meter, double model_lr, double images_per_s) {
    nlohmann::json record{
        {"epoch", state.epoch + 1},
        {"train_loss", meter.loss()},
        {"train_top1", meter.top1_percent()},
        {"lr", model_lr},
        {"quant_lr", quant_schedule->at(state.epoch)},
        {"images_per_s", images_per_s},
        {"train_images", meter.seen},
        {"batches_per_epoch", data->train().batches_per_epoch()},
        {"global_step", state.global_step}};
    if (reducer) {
      record["ranks"] = group->world_size();
      record["gradient_allreduce_s"] = reducer->take_seconds();
    }
    if (!std::isfinite(meter.loss())) {
      return diverged("the mean training loss is " + number_text(meter.loss()));
    }
    if (const std::string bad = non_finite_state(); !bad.empty()) {
      return diverged(bad);
    }
    const bool last_epoch = state.epoch + 1 == config.train_epochs;
    if (last_epoch || (state.epoch + 1) % config.train_eval_every == 0) {
      const auto eval_start = std::chrono::steady_clock::now();
      const auto test = summed(evaluate(*model, data->test(), device));
      record["eval_time_s"] =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count();
      if (!std::isfinite(test.loss())) {
        return diverged("the test loss is " + number_text(test.loss()));
      }
      state.last_test_top1 = test.top1_percent();
      state.last_test_top5 = test.topk_percent();
      record["test_loss"] = test.loss();
      record["test_top1"] = state.last_test_top1;
      if (data->num_classes() > 5) {
        record["test_top5"] = state.last_test_top5;
      }
    }
    if (config.quant_spec().enabled()) {
      record["layers"] = quantizer_state(*model);
    }
    return record;
  }

  TrainResult run() {
    const auto start = std::chrono::steady_clock::now();
    TrainResult outcome = result("completed");
    if (const int signal = StopSignalGuard::received()) {
      outcome = result("interrupted");
      outcome.message =
          fmt::format("stopped by signal {} before the first step; nothing was trained", signal);
    }
    if (group->world_size() > 1 && outcome.status == "completed") {
      start_ranks();
    }
    while (outcome.status == "completed" && state.epoch < config.train_epochs) {
      const double model_lr = model_schedule->at(state.epoch);
      optimizers.set_learning_rates(model_lr, quant_schedule->at(state.epoch));
      const auto epoch_start = std::chrono::steady_clock::now();
      MeanMeter meter;
      meter.loss_sum = state.epoch_loss_sum;
      meter.top1 = state.epoch_correct;
      meter.seen = state.epoch_seen;
      if (delta_update_due(config, state, /*at_epoch_start=*/true) && !update_deltas()) {
        outcome = interrupted_in_epoch(meter);
        break;
      }
      double images_per_s = 0.0;
      if (auto stopped = train_epoch(meter, images_per_s)) {
        outcome = *stopped;
        break;
      }
      auto ended = end_epoch(meter, model_lr, images_per_s);
      if (auto* stopped = std::get_if<TrainResult>(&ended)) {
        outcome = *stopped;
        break;
      }
      auto& record = std::get<nlohmann::json>(ended);
      record["epoch_time_s"] =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
      const bool best = record.contains("test_top1") && state.last_test_top1 > state.best_top1;
      if (best) {
        state.best_top1 = state.last_test_top1;
        state.best_epoch = state.epoch + 1;
      }
      state.epoch += 1;
      state.batch = 0;
      state.epoch_loss_sum = 0;
      state.epoch_correct = 0;
      state.epoch_seen = 0;
      // The checkpoint carries the record: last.pt commits both.
      metrics->add(record);
      commit(best);
      metrics->publish();
      progress.end_epoch(record);
      if (StopSignalGuard::received() != 0) {
        outcome = result("interrupted");
        outcome.message = fmt::format(
            "stopped by signal {} after epoch {}; continue with: ewgs train --resume {}",
            StopSignalGuard::received(),
            state.epoch,
            dir.dir());
        break;
      }
    }
    outcome.epochs_done = state.epoch;
    outcome.final_top1 = state.last_test_top1;
    outcome.final_top5 = state.last_test_top5;
    outcome.best_top1 = state.best_top1;
    outcome.wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    write_summary(outcome);
    return outcome;
  }

  void write_summary(const TrainResult& outcome) {
    auto summary = outcome.to_json();
    summary["model"] = config.model_name;
    summary["dataset"] = config.data_dataset;
    summary["quantization"] = config.quant_spec().describe();
    summary["method"] = config.quant_method;
    summary["wbits"] = config.quant_wbits;
    summary["abits"] = config.quant_abits;
    summary["delta"] = config.quant_delta;
    summary["epochs"] = config.train_epochs;
    summary["ewgs_version"] = version();
    dir.write("summary.json", summary.dump(2) + "\n");
  }
};

Trainer::Trainer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Trainer::Trainer(TrainConfig config, std::string run_dir, TrainerOptions options) {
  config.validate();  // before any folder exists
  auto launch = dist::LaunchEnv::from_environment();
  auto dir = launch.rank == 0 ? RunDirectory::for_new_run(run_dir, options.on_write)
                              : RunDirectory::for_follower(run_dir);
  impl_ = std::make_unique<Impl>(std::move(config), std::move(launch), std::move(dir), options);
  auto& impl = *impl_;
  impl.progress.message("config", "resolved config:\n" + impl.config.to_toml());
  impl.dir.write(
      "config.toml", impl.config.to_toml());  // the folder is writable before anything is loaded
  impl.build();
  if (!impl.config.train_init_from.empty()) {
    impl.startup_stage("loading train.init_from", [&] {
      const auto report = initialize_from(*impl.model, impl.config);
      impl.progress.message(
          "init_from",
          fmt::format(
              "initialized from {}: {} entries loaded, {} quantizer entries keep their paper "
              "initialization",
              impl.config.train_init_from,
              report.loaded.size(),
              report.missing.size()));
    });
  }
  const auto summary = models::summarize(*impl.model);
  impl.progress.message(
      "model",
      fmt::format(
          "{} ({}): {} parameters, {} quantizer parameters, {} quantized layers",
          impl.config.model_name,
          impl.config.quant_spec().describe(),
          summary.model_parameters,
          summary.quantizer_parameters,
          summary.quantized_layers.size()));
  for (const auto& warning : impl.config.warnings()) {
    impl.progress.message("warning", "warning: " + warning);
  }
  impl.start_metrics("");
  impl.finish_startup();
}

std::unique_ptr<Trainer> Trainer::resume(
    const std::string& run_dir, const std::vector<std::string>& overrides, TrainerOptions options) {
  auto launch = dist::LaunchEnv::from_environment();
  // Every rank reads last.pt (a shared file system, as with PyTorch DDP); rank 0 owns the folder.
  auto dir = launch.rank == 0 ? RunDirectory::for_resume(run_dir, options.on_write)
                              : RunDirectory::for_follower(run_dir);
  CheckpointFile last(dir.path("last.pt"));
  const auto header = last.header();
  const std::string recovered = dir.recover(header.progress);
  auto config = TrainConfig::from_toml(header.config_toml, dir.path("last.pt"));
  const auto original = config;
  for (const auto& o : overrides) {
    config.apply_override(o);
  }
  // What the checkpoint's model and data order depend on must stay as it was.
  for (const char* prefix :
       {"model.", "quant.", "data.dataset", "data.root", "run.seed", "train.batch_size"}) {
    for (const auto& k : TrainConfig::schema().keys()) {
      const std::string before = k.value_text(&original);
      TORCH_CHECK(
          k.name.rfind(prefix, 0) != 0 || k.value_text(&config) == before,
          "cannot resume ",
          run_dir,
          " with ",
          k.name,
          " = ",
          k.value_text(&config),
          ": the run was started with ",
          before,
          " and its checkpoint holds that model and data order");
    }
  }
  config.validate();
  auto impl = std::make_unique<Impl>(std::move(config), std::move(launch), std::move(dir), options);
  if (!recovered.empty()) {
    impl->progress.message("recover", recovered);
  }
  impl->build();
  if (!header.class_names.empty()) {
    data::check_same_classes(
        header.class_names,
        "checkpoint " + impl->dir.path("last.pt"),
        impl->data->class_names(),
        "the data set");
  }
  impl->startup_stage("loading the checkpoint", [&] { last.restore(impl->parts()); });
  impl->state = header.progress;
  impl->committed = header.progress;
  impl->start_metrics(header.metrics);
  impl->progress.message(
      "resume",
      fmt::format(
          "resuming {} at epoch {} batch {} (global step {})",
          run_dir,
          impl->state.epoch + 1,
          impl->state.batch,
          impl->state.global_step));
  impl->dir.write("config.toml", impl->config.to_toml());
  impl->finish_startup();
  return std::unique_ptr<Trainer>(new Trainer(std::move(impl)));
}

Trainer::~Trainer() = default;

TrainResult Trainer::run() {
  return impl_->run();
}

const TrainConfig& Trainer::config() const {
  return impl_->config;
}

}  // namespace ewgs::train
