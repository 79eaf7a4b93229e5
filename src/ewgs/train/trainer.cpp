// The training loop (include/ewgs/train/trainer.h): per-epoch schedules, Hessian
// delta updates, evaluation, metrics and atomic checkpoints; exact resume.
#include "ewgs/train/trainer.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include "ewgs/core/threads.h"
#include "ewgs/core/version.h"
#include "ewgs/hessian/delta_estimator.h"
#include "ewgs/models/model_summary.h"
#include "ewgs/models/registry.h"
#include "ewgs/nn/quantized_layers.h"
#include "ewgs/train/checkpoint.h"
#include "ewgs/train/data_pipeline.h"
#include "ewgs/train/evaluate.h"
#include "ewgs/train/initialize_from.h"
#include "ewgs/train/lr_schedule.h"
#include "ewgs/train/metrics_log.h"
#include "ewgs/train/optimizers.h"
#include "ewgs/train/progress.h"
#include "ewgs/train/stop_signal.h"

namespace ewgs::train {
namespace fs = std::filesystem;

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

struct Trainer::Impl {
  TrainConfig config;
  std::string run_dir;
  ProgressReporter progress;
  std::function<void(int64_t)> on_step;
  torch::Device device{torch::kCPU};
  std::unique_ptr<DataPipeline> data;
  models::ClassifierPtr model;
  Optimizers optimizers;
  std::unique_ptr<LrSchedule> model_schedule;
  std::unique_ptr<LrSchedule> quant_schedule;
  TrainProgress state;
  std::unique_ptr<MetricsLog> metrics;
  /// Whether some quantizer adds a penalty to the loss (PACT).
  bool has_regularizer = false;
  double last_test_top1 = -1.0;
  double last_test_top5 = -1.0;

  Impl(TrainConfig c, std::string dir, const TrainerOptions& options)
      : config(std::move(c)),
        run_dir(std::move(dir)),
        progress(ProgressReporter::choose_mode(options.json), options.out ? *options.out : std::cout),
        on_step(options.on_step) {}

  std::string path(const char* name) const { return (fs::path(run_dir) / name).string(); }

  /// Builds data, model, optimizers and schedules from the config.
  void build() {
    config.validate();
    set_cpu_threads(config.run_threads);
    if (config.run_device == "cuda") {
      TORCH_CHECK(torch::cuda::is_available(), "run.device = \"cuda\" but no CUDA device is available");
      device = torch::Device(torch::kCUDA);
    }
    torch::manual_seed(static_cast<uint64_t>(config.run_seed));
    data = std::make_unique<DataPipeline>(config, /*with_train=*/true);
    models::ModelOptions model_options;
    model_options.num_classes = config.model_num_classes > 0 ? config.model_num_classes : data->num_classes();
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
    const auto milestones = LrSchedule::parse_milestones(config.optim_milestones, "optim.milestones");
    model_schedule = std::make_unique<LrSchedule>(
        config.optim_schedule, config.optim_lr, config.train_epochs, milestones, config.optim_gamma);
    quant_schedule = std::make_unique<LrSchedule>(
        config.optim_schedule, config.optim_quant_lr, config.train_epochs, milestones, config.optim_gamma);
  }

  CheckpointParts parts() { return {*model, optimizers.model.get(), optimizers.quant.get()}; }

  void save(const char* name) { save_checkpoint(path(name), config, state, parts()); }

  /// Updates every EWGS delta from the Hessian (paper Algorithm 1).
  void update_deltas() {
    const auto options = config.estimator_options(
        static_cast<uint64_t>(config.run_seed) * 1000003ULL + static_cast<uint64_t>(state.global_step));
    std::vector<hessian::Batch> batches;
    for (auto& [images, labels] : data->hessian_batches(state.global_step)) {
      batches.emplace_back(images.to(device), labels.to(device));
    }
    auto forward = [this](const at::Tensor& x) { return model->forward(x); };
    const auto estimate = hessian::estimate_deltas(*model, forward, batches, options);
    hessian::apply_deltas(*model, estimate);
    state.last_delta_update = state.global_step;
    auto record = estimate.to_json();
    record["event"] = "delta_update";
    record["epoch"] = state.epoch + 1; // the epoch in progress, 1-based
    record["global_step"] = state.global_step;
    metrics->append(record);
    for (const auto& q : estimate.quantizers) {
      if (q.kept_previous) {
        progress.message("delta_kept", fmt::format("delta of {} {}: kept {:.3g} ({})", q.layer, q.target, q.delta, q.note));
      }
    }
    progress.message(
        "delta_update",
        fmt::format(
            "delta update ({} estimator, {} batches): {} quantizers in {:.1f}s", estimate.estimator,
            estimate.batches, estimate.quantizers.size(), estimate.wall_s));
  }

  bool delta_update_due(bool at_epoch_start) const {
    if (!config.hessian_delta() || state.last_delta_update == state.global_step) {
      return false;
    }
    if (config.hessian_period_unit == "epochs") {
      // The official schedule: epochs 10, 20, ... (never epoch 0).
      return at_epoch_start && state.batch == 0 && state.epoch > 0 && state.epoch % config.hessian_period == 0;
    }
    return !at_epoch_start && state.global_step > 0 && state.global_step % config.hessian_period == 0;
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
    RunningMeter running(meter, device, 5);
    // Loss and accuracy stay on the device; reading them is a host sync, done
    // every step on the CPU and every kGpuReadEvery steps on a GPU.
    const int64_t read_every = device.is_cuda() ? kGpuReadEvery : 1;
    const auto start = std::chrono::steady_clock::now();
    int64_t images_this_session = 0;
    while (state.batch < batches) {
      auto batch = loader.next();
      TORCH_INTERNAL_ASSERT(batch.has_value(), "loader ended before batch ", state.batch);
      const auto images = batch->images.to(device);
      const auto labels = batch->labels.to(device);
      optimizers.zero_grad();
      const auto logits = model->forward(images);
      auto loss = torch::nn::functional::cross_entropy(logits, labels);
      if (has_regularizer) {
        loss = loss + nn::quantizer_regularizer(*model);
      }
      loss.backward();
      optimizers.step();
      nn::notify_optimizer_step(*model);
      running.add(loss, logits.detach(), labels, state.global_step);
      ++state.batch;
      ++state.global_step;
      images_this_session += images.size(0);
      const bool stop = StopSignalGuard::received() != 0;
      if (stop || state.batch % read_every == 0 || state.batch == batches) {
        const int64_t bad_step = running.first_non_finite_step();
        if (bad_step >= 0) {
          return failed(fmt::format(
              "loss became non-finite at global step {} (epoch {}); stopped without saving. The last good "
              "checkpoint is {}",
              bad_step, state.epoch + 1, fs::exists(path("last.pt")) ? path("last.pt") : "none (no epoch finished)"));
        }
        meter = running.read();
        progress.step(state.batch, meter.loss(), meter.top1_percent(), images_this_session);
      }
      if (on_step) {
        on_step(state.global_step);
      }
      if (delta_update_due(/*at_epoch_start=*/false)) {
        update_deltas();
      }
      if (stop || StopSignalGuard::received() != 0) {
        meter = running.read();
        store_meter(meter);
        save("last.pt");
        TrainResult r = result("interrupted");
        r.message = fmt::format(
            "stopped by signal {} at epoch {} batch {}; checkpoint {} written. Continue with: ewgs train --resume {}",
            StopSignalGuard::received(), state.epoch + 1, state.batch, path("last.pt"), run_dir);
        return r;
      }
    }
    meter = running.read();
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    images_per_s = elapsed > 0 ? static_cast<double>(images_this_session) / elapsed : 0.0;
    return std::nullopt;
  }

  void store_meter(const MeanMeter& meter) {
    state.epoch_loss_sum = meter.loss_sum;
    state.epoch_correct = meter.top1;
    state.epoch_seen = meter.seen;
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
    r.final_top1 = last_test_top1;
    r.final_top5 = last_test_top5;
    r.best_top1 = state.best_top1;
    return r;
  }

  TrainResult run() {
    StopSignalGuard signals;
    StopSignalGuard::reset();
    const auto start = std::chrono::steady_clock::now();
    TrainResult outcome = result("completed");
    while (state.epoch < config.train_epochs) {
      const double model_lr = model_schedule->at(state.epoch);
      optimizers.set_learning_rates(model_lr, quant_schedule->at(state.epoch));
      if (delta_update_due(/*at_epoch_start=*/true)) {
        update_deltas();
      }
      const auto epoch_start = std::chrono::steady_clock::now();
      MeanMeter meter;
      meter.loss_sum = state.epoch_loss_sum;
      meter.top1 = state.epoch_correct;
      meter.seen = state.epoch_seen;
      double images_per_s = 0.0;
      if (auto stopped = train_epoch(meter, images_per_s)) {
        outcome = *stopped;
        break;
      }
      nlohmann::json record{
          {"epoch", state.epoch + 1},
          {"train_loss", meter.loss()},
          {"train_top1", meter.top1_percent()},
          {"lr", model_lr},
          {"quant_lr", quant_schedule->at(state.epoch)},
          {"images_per_s", images_per_s},
          {"global_step", state.global_step}};
      const bool last_epoch = state.epoch + 1 == config.train_epochs;
      if (last_epoch || (state.epoch + 1) % config.train_eval_every == 0) {
        const auto test = evaluate(*model, data->test(), device);
        last_test_top1 = test.top1_percent();
        last_test_top5 = test.topk_percent();
        record["test_loss"] = test.loss();
        record["test_top1"] = last_test_top1;
        if (data->num_classes() > 5) {
          record["test_top5"] = last_test_top5;
        }
      }
      record["epoch_time_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
      if (config.quant_spec().enabled()) {
        record["layers"] = quantizer_state(*model);
      }
      const bool best = last_test_top1 > state.best_top1 && record.contains("test_top1");
      if (best) {
        state.best_top1 = last_test_top1;
        state.best_epoch = state.epoch + 1;
      }
      state.epoch += 1;
      state.batch = 0;
      state.epoch_loss_sum = 0;
      state.epoch_correct = 0;
      state.epoch_seen = 0;
      save("last.pt");
      if (best) {
        save("best.pt");
      }
      metrics->append(record);
      progress.end_epoch(record);
      if (StopSignalGuard::received() != 0) {
        outcome = result("interrupted");
        outcome.message = fmt::format(
            "stopped by signal {} after epoch {}; continue with: ewgs train --resume {}", StopSignalGuard::received(),
            state.epoch, run_dir);
        break;
      }
    }
    outcome.epochs_done = state.epoch;
    outcome.final_top1 = last_test_top1;
    outcome.final_top5 = last_test_top5;
    outcome.best_top1 = state.best_top1;
    outcome.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
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
    std::ofstream(path("summary.json")) << summary.dump(2) << "\n";
  }
};

Trainer::Trainer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Trainer::Trainer(TrainConfig config, std::string run_dir, TrainerOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(run_dir), options)) {
  auto& impl = *impl_;
  TORCH_CHECK(
      !fs::exists(impl.path("last.pt")),
      "run directory ",
      impl.run_dir,
      " already holds a run; continue it with --resume ",
      impl.run_dir,
      " or choose another --run-dir");
  fs::create_directories(impl.run_dir);
  impl.build();
  impl.progress.message("config", "resolved config:\n" + impl.config.to_toml());
  std::ofstream(impl.path("config.toml")) << impl.config.to_toml();
  if (!impl.config.train_init_from.empty()) {
    const auto report = initialize_from(*impl.model, impl.config);
    impl.progress.message(
        "init_from",
        fmt::format(
            "initialized from {}: {} entries loaded, {} quantizer entries keep their paper initialization",
            impl.config.train_init_from, report.loaded.size(), report.missing.size()));
  }
  const auto summary = models::summarize(*impl.model);
  impl.progress.message(
      "model",
      fmt::format(
          "{} ({}): {} parameters, {} quantizer parameters, {} quantized layers", impl.config.model_name,
          impl.config.quant_spec().describe(), summary.model_parameters, summary.quantizer_parameters,
          summary.quantized_layers.size()));
  for (const auto& warning : impl.config.warnings()) {
    impl.progress.message("warning", "warning: " + warning);
  }
  impl.metrics = std::make_unique<MetricsLog>(impl.path("metrics.jsonl"), /*keep_before_epoch=*/0);
}

std::unique_ptr<Trainer> Trainer::resume(
    const std::string& run_dir,
    const std::vector<std::string>& overrides,
    TrainerOptions options) {
  const std::string last = (fs::path(run_dir) / "last.pt").string();
  TORCH_CHECK(fs::exists(last), "cannot resume ", run_dir, ": it has no last.pt checkpoint");
  const auto header = read_checkpoint_header(last);
  auto config = TrainConfig::from_toml(header.config_toml, last);
  const auto original = config;
  for (const auto& o : overrides) {
    config.schema().apply_override(o);
  }
  // What the checkpoint's model and data order depend on must stay as it was.
  for (const char* prefix : {"model.", "quant.", "data.dataset", "data.root", "run.seed", "train.batch_size"}) {
    for (const auto& k : config.schema().keys()) {
      const std::string before = original.schema().value_text(k.name);
      TORCH_CHECK(
          k.name.rfind(prefix, 0) != 0 || k.value_text() == before,
          "cannot resume ",
          run_dir,
          " with ",
          k.name,
          " = ",
          k.value_text(),
          ": the run was started with ",
          before,
          " and its checkpoint holds that model and data order");
    }
  }
  auto impl = std::make_unique<Impl>(std::move(config), run_dir, options);
  impl->build();
  const auto loaded = load_checkpoint(last, impl->parts());
  impl->state = loaded.progress;
  impl->metrics = std::make_unique<MetricsLog>(impl->path("metrics.jsonl"), impl->state.epoch + 1);
  impl->progress.message(
      "resume",
      fmt::format(
          "resuming {} at epoch {} batch {} (global step {})", run_dir, impl->state.epoch + 1, impl->state.batch,
          impl->state.global_step));
  std::ofstream(impl->path("config.toml")) << impl->config.to_toml();
  return std::unique_ptr<Trainer>(new Trainer(std::move(impl)));
}

Trainer::~Trainer() = default;

TrainResult Trainer::run() {
  return impl_->run();
}

const TrainConfig& Trainer::config() const {
  return impl_->config;
}

} // namespace ewgs::train
