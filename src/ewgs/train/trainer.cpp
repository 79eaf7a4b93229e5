// The training loop (include/ewgs/train/trainer.h): per-epoch schedules, Hessian
// delta updates, evaluation, divergence checks, metrics and epoch commits; exact resume.
#include "ewgs/train/trainer.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <optional>
#include <variant>

#include "ewgs/core/strings.h"
#include "ewgs/core/threads.h"
#include "ewgs/core/version.h"
#include "ewgs/data/class_names.h"
#include "ewgs/hessian/delta_estimator.h"
#include "ewgs/models/model_summary.h"
#include "ewgs/models/registry.h"
#include "ewgs/nn/quantized_layers.h"
#include "ewgs/nn/state_dict.h"
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

struct Trainer::Impl {
  /// First member: signals are caught from the start of start-up on.
  StopSignalGuard signals;
  TrainConfig config;
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

  Impl(TrainConfig c, RunDirectory d, const TrainerOptions& options)
      : config(std::move(c)),
        dir(std::move(d)),
        progress(ProgressReporter::choose_mode(options.json), options.out ? *options.out : std::cout),
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
    set_cpu_threads(config.run_threads);
    if (config.run_device == "cuda") {
      TORCH_CHECK(torch::cuda::is_available(), "run.device = \"cuda\" but no CUDA device is available");
      device = torch::Device(torch::kCUDA);
    }
    torch::manual_seed(static_cast<uint64_t>(config.run_seed));
    startup_stage("loading data", [&] { data = std::make_unique<DataPipeline>(config, /*with_train=*/true); });
    startup_stage("building the model", [&] {
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
    });
    const auto milestones = LrSchedule::parse_milestones(config.optim_milestones, "optim.milestones");
    model_schedule = std::make_unique<LrSchedule>(
        config.optim_schedule, config.optim_lr, config.train_epochs, milestones, config.optim_gamma);
    quant_schedule = std::make_unique<LrSchedule>(
        config.optim_schedule, config.optim_quant_lr, config.train_epochs, milestones, config.optim_gamma);
  }

  CheckpointParts parts() { return {*model, optimizers.model.get(), optimizers.quant.get()}; }

  std::string checkpoint() {
    return checkpoint_bytes({"", config.to_toml(), state, data->class_names(), metrics->history()}, parts());
  }

  void start_metrics(std::string history) {
    metrics = std::make_unique<MetricsLog>(
        std::move(history), [this](const std::string& text) { dir.write("metrics.jsonl", text); });
  }

  /// Start-up ends: the run directory can hold its checkpoints, and stays.
  void finish_startup() {
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
    dir.commit(checkpoint(), best);
    committed = state;
  }

  /// "D/last.pt (epoch 2)" or "none (no epoch finished)": what a resume continues from.
  std::string last_good() const {
    if (!committed) {
      return "none (no epoch finished)";
    }
    return fmt::format(
        "{} (epoch {}{})", dir.path("last.pt"), committed->epoch,
        committed->batch > 0 ? fmt::format(", then {} batches of epoch {}", committed->batch, committed->epoch + 1) : "");
  }

  /// Why the state must not be saved: a non-finite model tensor, or "".
  std::string non_finite_state() const {
    const std::string bad = nn::first_non_finite(nn::module_state(*model));
    return bad.empty() ? "" : "model tensor '" + bad + "' is not finite";
  }

  TrainResult diverged(const std::string& what) {
    return failed(fmt::format(
        "training diverged in epoch {}: {}; stopped without saving. The last good checkpoint is {}", state.epoch + 1,
        what, last_good()));
  }

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
          return diverged(fmt::format("the loss became non-finite at global step {}", bad_step));
        }
        meter = running.read();
        progress.step(state.batch, meter.loss(), meter.top1_percent(), images_this_session);
      }
      if (on_step) {
        on_step(state.global_step);
      }
      if (delta_update_due(config, state, /*at_epoch_start=*/false)) {
        update_deltas();
      }
      if (stop || StopSignalGuard::received() != 0) {
        return interrupted_in_epoch(running.read());
      }
    }
    meter = running.read();
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    images_per_s = elapsed > 0 ? static_cast<double>(images_this_session) / elapsed : 0.0;
    return std::nullopt;
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
        "stopped by signal {} at epoch {} batch {}; checkpoint {} written. Continue with: ewgs train --resume {}",
        StopSignalGuard::received(), state.epoch + 1, state.batch, dir.path("last.pt"), dir.dir());
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
  std::variant<nlohmann::json, TrainResult> end_epoch(const MeanMeter& meter, double model_lr, double images_per_s) {
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
    if (!std::isfinite(meter.loss())) {
      return diverged("the mean training loss is " + number_text(meter.loss()));
    }
    if (const std::string bad = non_finite_state(); !bad.empty()) {
      return diverged(bad);
    }
    const bool last_epoch = state.epoch + 1 == config.train_epochs;
    if (last_epoch || (state.epoch + 1) % config.train_eval_every == 0) {
      const auto eval_start = std::chrono::steady_clock::now();
      const auto test = evaluate(*model, data->test(), device);
      record["eval_time_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count();
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
      outcome.message = fmt::format("stopped by signal {} before the first step; nothing was trained", signal);
    }
    while (outcome.status == "completed" && state.epoch < config.train_epochs) {
      const double model_lr = model_schedule->at(state.epoch);
      optimizers.set_learning_rates(model_lr, quant_schedule->at(state.epoch));
      if (delta_update_due(config, state, /*at_epoch_start=*/true)) {
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
      auto ended = end_epoch(meter, model_lr, images_per_s);
      if (auto* stopped = std::get_if<TrainResult>(&ended)) {
        outcome = *stopped;
        break;
      }
      auto& record = std::get<nlohmann::json>(ended);
      record["epoch_time_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
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
            "stopped by signal {} after epoch {}; continue with: ewgs train --resume {}", StopSignalGuard::received(),
            state.epoch, dir.dir());
        break;
      }
    }
    outcome.epochs_done = state.epoch;
    outcome.final_top1 = state.last_test_top1;
    outcome.final_top5 = state.last_test_top5;
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
    dir.write("summary.json", summary.dump(2) + "\n");
  }
};

Trainer::Trainer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Trainer::Trainer(TrainConfig config, std::string run_dir, TrainerOptions options) {
  config.validate(); // before any folder exists
  impl_ = std::make_unique<Impl>(std::move(config), RunDirectory::for_new_run(run_dir, options.on_write), options);
  auto& impl = *impl_;
  impl.progress.message("config", "resolved config:\n" + impl.config.to_toml());
  impl.dir.write("config.toml", impl.config.to_toml()); // the folder is writable before anything is loaded
  impl.build();
  if (!impl.config.train_init_from.empty()) {
    impl.startup_stage("loading train.init_from", [&] {
      const auto report = initialize_from(*impl.model, impl.config);
      impl.progress.message(
          "init_from",
          fmt::format(
              "initialized from {}: {} entries loaded, {} quantizer entries keep their paper initialization",
              impl.config.train_init_from, report.loaded.size(), report.missing.size()));
    });
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
  impl.start_metrics("");
  impl.finish_startup();
}

std::unique_ptr<Trainer> Trainer::resume(
    const std::string& run_dir,
    const std::vector<std::string>& overrides,
    TrainerOptions options) {
  auto dir = RunDirectory::for_resume(run_dir, options.on_write);
  CheckpointFile last(dir.path("last.pt"));
  const auto header = last.header();
  const std::string recovered = dir.recover(header.progress);
  auto config = TrainConfig::from_toml(header.config_toml, dir.path("last.pt"));
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
  config.validate();
  auto impl = std::make_unique<Impl>(std::move(config), std::move(dir), options);
  if (!recovered.empty()) {
    impl->progress.message("recover", recovered);
  }
  impl->build();
  if (!header.class_names.empty()) {
    data::check_same_classes(
        header.class_names, "checkpoint " + impl->dir.path("last.pt"), impl->data->class_names(), "the data set");
  }
  impl->startup_stage("loading the checkpoint", [&] { last.restore(impl->parts()); });
  impl->state = header.progress;
  impl->committed = header.progress;
  impl->start_metrics(header.metrics);
  impl->progress.message(
      "resume",
      fmt::format(
          "resuming {} at epoch {} batch {} (global step {})", run_dir, impl->state.epoch + 1, impl->state.batch,
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

} // namespace ewgs::train
