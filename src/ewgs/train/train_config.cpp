// The run configuration and its schema (include/ewgs/train/train_config.h).
#include "ewgs/train/train_config.h"

#include <c10/util/Exception.h>

#include "ewgs/core/strings.h"
#include "ewgs/data/open_dataset.h"
#include "ewgs/quant/registry.h"
#include "ewgs/train/captured_step.h"

namespace ewgs::train {

const ConfigSchema<TrainConfig>& TrainConfig::schema() {
  static const ConfigSchema<TrainConfig> schema = [] {
    ConfigSchema<TrainConfig> s;
    s.add("run.device", &TrainConfig::run_device, "where to train").one_of({"cpu", "cuda"});
    s.add("run.threads", &TrainConfig::run_threads, "CPU threads; 0 uses all cores").at_least(0);
    s.add(
        "run.seed", &TrainConfig::run_seed, "seed of initialization, data order and augmentation");
    s.add(
        "run.cuda_graph",
        &TrainConfig::run_cuda_graph,
        "capture the training step once as a CUDA graph and replay it (one process on a GPU; "
        "quant.method off, ste or ewgs)");

    s.add("data.dataset", &TrainConfig::data_dataset, "data set").one_of(data::dataset_kinds());
    s.add(
         "data.root",
         &TrainConfig::data_root,
         "data folder or archive (may start with ${EWGS_DATA_DIR}); empty: the data set's "
         "default location")
        .expands_data_dir();
    s.add("data.train_split", &TrainConfig::data_train_split, "split to train on");
    s.add("data.test_split", &TrainConfig::data_test_split, "split to evaluate on");
    s.add(
        "data.augment",
        &TrainConfig::data_augment,
        "training augmentation of the data set's recipe");
    s.add("data.workers", &TrainConfig::data_workers, "loader threads; 0: as many as CPU threads")
        .at_least(0);
    s.add(
         "data.device_resident",
         &TrainConfig::data_device_resident,
         "keep the data set on the run's device and augment there; auto: on for cuda when possible")
        .one_of({"auto", "on", "off"});

    s.add("model.name", &TrainConfig::model_name, "model (ewgs info lists them)");
    s.add("model.num_classes", &TrainConfig::model_num_classes, "classes; 0: from the data set")
        .at_least(0);
    s.add(
        "model.sync_bn",
        &TrainConfig::model_sync_bn,
        "BatchNorm statistics over the batches of all ranks of a multi-process run (as one "
        "process)");

    s.add(
         "dist.backend",
         &TrainConfig::dist_backend,
         "collectives of a multi-process run: auto (nccl on cuda, else gloo)")
        .one_of({"auto", "gloo", "nccl"});
    s.add(
         "dist.timeout_s",
         &TrainConfig::dist_timeout_s,
         "seconds a rank waits for the others (rendezvous, every collective) before failing")
        .between(1, 86400);

    s.add(
        "quant.method",
        &TrainConfig::quant_method,
        "quantizer / gradient estimator; off: full precision");
    s.add(
        "quant.wbits", &TrainConfig::quant_wbits, "weight bits of quantized layers (1-8, 32: off)");
    s.add(
        "quant.abits",
        &TrainConfig::quant_abits,
        "activation bits of quantized layers (1-8, 32: off)");
    s.add(
        "quant.delta",
        &TrainConfig::quant_delta,
        "EWGS delta: a number >= 0 (fixed) or \"hessian\"");
    s.add(
        "quant.options",
        &TrainConfig::quant_options,
        "extra quantizer spec keys, e.g. \"key=value,...\"");
    s.add(
        "quant.act_method",
        &TrainConfig::quant_act_method,
        "activation quantizer when it differs from quant.method (e.g. pact with dorefa weights)");
    s.add(
        "quant.act_options",
        &TrainConfig::quant_act_options,
        "spec keys of quant.act_method, \"key=value,...\" (quant.options and delta go to weights)");
    s.add(
        "quant.all_layers",
        &TrainConfig::quant_all_layers,
        "also quantize the first conv and the classifier");
    s.add(
        "quant.grad_method",
        &TrainConfig::quant_grad_method,
        "quantizer of gradients at layer outputs; off: none");
    s.add(
        "quant.gbits", &TrainConfig::quant_gbits, "gradient bits (fixed-point training; 32: off)");
    s.add(
        "quant.grad_options",
        &TrainConfig::quant_grad_options,
        "extra gradient quantizer spec keys, \"key=value,...\"");

    s.add("train.epochs", &TrainConfig::train_epochs, "epochs").at_least(1);
    s.add(
         "train.batch_size",
         &TrainConfig::train_batch_size,
         "mini-batch size (of all ranks together)")
        .at_least(1);
    s.add(
         "train.init_from",
         &TrainConfig::train_init_from,
         "checkpoint or .pth to start from (paper: the FP model; may start with ${EWGS_DATA_DIR})")
        .expands_data_dir();
    s.add(
        "train.init_entry",
        &TrainConfig::train_init_entry,
        "key of the state dict inside a .pth dict (e.g. model)");
    s.add(
         "train.eval_every",
         &TrainConfig::train_eval_every,
         "evaluate every N epochs (and after the last)")
        .at_least(1);
    s.add(
         "train.max_batches",
         &TrainConfig::train_max_batches,
         "stop each epoch after N batches; 0: all")
        .at_least(0);
    s.add(
         "train.log_steps",
         &TrainConfig::train_log_steps,
         "also record the training loss of every N steps in metrics.jsonl; 0: per epoch only")
        .at_least(0);

    s.add("optim.optimizer", &TrainConfig::optim_optimizer, "optimizer of model parameters")
        .one_of({"sgd", "adam"});
    s.add("optim.lr", &TrainConfig::optim_lr, "learning rate of model parameters").at_least(0);
    s.add("optim.momentum", &TrainConfig::optim_momentum, "SGD momentum").between(0, 1);
    s.add(
         "optim.weight_decay",
         &TrainConfig::optim_weight_decay,
         "L2 weight decay of model parameters")
        .at_least(0);
    s.add("optim.nesterov", &TrainConfig::optim_nesterov, "Nesterov momentum (SGD)");
    s.add(
         "optim.schedule",
         &TrainConfig::optim_schedule,
         "learning-rate schedule, stepped per epoch")
        .one_of({"cosine", "step", "constant"});
    s.add(
        "optim.milestones",
        &TrainConfig::optim_milestones,
        "step schedule: epochs where lr *= gamma, \"80,120\"");
    s.add("optim.gamma", &TrainConfig::optim_gamma, "step schedule factor").between(0, 1);
    s.add(
         "optim.quant_lr",
         &TrainConfig::optim_quant_lr,
         "Adam learning rate of quantizer parameters")
        .at_least(0);

    s.add("hessian.estimator", &TrainConfig::hessian_estimator, "trace estimator for delta")
        .one_of({"fast", "faithful"});
    s.add("hessian.period", &TrainConfig::hessian_period, "update delta every N periods")
        .at_least(1);
    s.add("hessian.period_unit", &TrainConfig::hessian_period_unit, "unit of the period")
        .one_of({"epochs", "iterations"});
    s.add("hessian.batches", &TrainConfig::hessian_batches, "training batches per update")
        .at_least(1);
    s.add(
         "hessian.batch_size",
         &TrainConfig::hessian_batch_size,
         "batch size of those batches; 0: train.batch_size")
        .at_least(0);
    s.add(
         "hessian.representative",
         &TrainConfig::hessian_representative,
         "gradient representative G of Eq. 10")
        .one_of({"3std", "max", "mean"});
    s.add(
         "hessian.max_probes",
         &TrainConfig::hessian_max_probes,
         "most Hutchinson probes per quantizer")
        .at_least(2);
    s.add(
         "hessian.tolerance",
         &TrainConfig::hessian_tolerance,
         "faithful: relative-change stop test")
        .at_least(0);
    s.add(
         "hessian.target_rse",
         &TrainConfig::hessian_target_rse,
         "fast: relative standard error to reach")
        .at_least(0);
    s.add(
         "hessian.target_abs",
         &TrainConfig::hessian_target_abs,
         "fast: or absolute standard error to reach")
        .at_least(0);
    s.add(
         "hessian.min_probes",
         &TrainConfig::hessian_min_probes,
         "fast: probes before a stop test applies")
        .at_least(2);
    s.add(
        "hessian.split_samples",
        &TrainConfig::hessian_split_samples,
        "fast: bound an activation probe's error by its samples");
    s.add(
         "hessian.settle_z",
         &TrainConfig::hessian_settle_z,
         "fast: stop when this many standard errors below 0")
        .at_least(0);
    return s;
  }();
  return schema;
}

void TrainConfig::apply_file(const std::string& path) {
  schema().apply_file(*this, path);
}

void TrainConfig::apply_text(const std::string& text, const std::string& source) {
  schema().apply_text(*this, text, source);
}

void TrainConfig::apply_override(const std::string& assignment) {
  schema().apply_override(*this, assignment);
}

std::string TrainConfig::to_toml() const {
  return schema().to_toml(*this);
}

std::string TrainConfig::value_text(const std::string& key) const {
  return schema().value_text(*this, key);
}

void TrainConfig::validate() const {
  schema().check_values(*this, "config");
  if (const auto blockers = cuda_graph_blockers(*this); !blockers.empty()) {
    TORCH_CHECK(false, "run.cuda_graph = true cannot be used: ", join(blockers, "; "));
  }
  if (quant_grad_method != "off") {
    quant::check_bits(quant_gbits, "quant.gbits");
    quant::make_quantizer(quant_spec().grad, quant::QuantTarget::kGradient);
  }
  if (quant_method == "off") {
    return;
  }
  for (const auto& [key, method] :
       {std::pair<const char*, std::string>{"quant.method", quant_method},
        {"quant.act_method", activation_method()}}) {
    TORCH_CHECK(
        quant::quantizer_registry().contains(method),
        key,
        ": unknown method '",
        method,
        "'",
        did_you_mean(method, quant::quantizer_registry().names()),
        "; choose off or one of ",
        join(quant::quantizer_registry().names(), ", "));
  }
  TORCH_CHECK(
      quant_act_options.empty() || !quant_act_method.empty(),
      "quant.act_options is set but quant.act_method is not; activation keys go in quant.options "
      "when both quantizers use quant.method");
  for (const auto& [key, bits] :
       {std::pair<const char*, int64_t>{"quant.wbits", quant_wbits},
        {"quant.abits", quant_abits}}) {
    quant::check_bits(bits, key);
  }
  TORCH_CHECK(
      quant_wbits != quant::kBitsOff || quant_abits != quant::kBitsOff,
      "quant.method is '",
      quant_method,
      "' but quant.wbits and quant.abits are both 32 (off); set a bit-width or quant.method = "
      "\"off\"");
  if (!hessian_delta()) {
    char* end = nullptr;
    const double delta = std::strtod(quant_delta.c_str(), &end);
    TORCH_CHECK(
        !quant_delta.empty() && end == quant_delta.c_str() + quant_delta.size() &&
            std::isfinite(delta) && delta >= 0.0,
        "quant.delta must be a finite number >= 0 or \"hessian\", got '",
        quant_delta,
        "'");
  }
  // Building the quantizers once checks method keys and bits with the registry.
  const auto spec = quant_spec();
  for (const auto& q :
       {quant::make_quantizer(spec.weight, quant::QuantTarget::kWeight),
        quant::make_quantizer(spec.act, quant::QuantTarget::kActivation)}) {
    const std::string obstacle = q && hessian_delta() ? q->hessian_delta_obstacle() : "";
    TORCH_CHECK(
        obstacle.empty(),
        "quant.delta = \"hessian\" cannot set the delta of the ",
        q->describe(),
        " (",
        q->spec(),
        "): ",
        obstacle);
  }
}

models::QuantSpec TrainConfig::quant_spec() const {
  models::QuantSpec spec;
  spec.quantize_first_last = quant_all_layers;
  if (quant_grad_method != "off" && quant_gbits != quant::kBitsOff) {
    spec.grad = quant_grad_method + ":bits=" + std::to_string(quant_gbits) +
                (quant_grad_options.empty() ? "" : "," + quant_grad_options);
  }
  if (quant_method == "off") {
    return spec;
  }
  std::string extra = quant_options.empty() ? "" : "," + quant_options;
  // A Hessian-driven delta starts at the method's default, 0 (paper Sec. 4.1);
  // a fixed one is passed on, and methods without a delta reject it.
  if (!hessian_delta() && quant_delta != "0") {
    extra += ",delta=" + quant_delta;
  }
  auto make = [](const std::string& method, int64_t bits, const std::string& keys) {
    return bits == quant::kBitsOff ? std::string("off")
                                   : method + ":bits=" + std::to_string(bits) + keys;
  };
  spec.weight = make(quant_method, quant_wbits, extra);
  spec.act = quant_act_method.empty()
                 ? make(quant_method, quant_abits, extra)
                 : make(
                       quant_act_method,
                       quant_abits,
                       quant_act_options.empty() ? "" : "," + quant_act_options);
  return spec;
}

std::vector<std::string> TrainConfig::warnings() const {
  std::vector<std::string> out;
  // Updates happen at the start of epochs period, 2 period, ...: none before the end.
  if (hessian_delta() && hessian_period_unit == "epochs" && hessian_period >= train_epochs) {
    out.push_back(
        "quant.delta = \"hessian\" but hessian.period = " + std::to_string(hessian_period) +
        " epochs >= train.epochs = " + std::to_string(train_epochs) +
        ": delta is never updated and stays 0 (the STE) for the whole run; lower hessian.period");
  }
  return out;
}

std::string TrainConfig::activation_method() const {
  return quant_act_method.empty() ? quant_method : quant_act_method;
}

hessian::EstimatorOptions TrainConfig::estimator_options(uint64_t seed) const {
  hessian::EstimatorOptions options;
  options.estimator = hessian::parse_estimator(hessian_estimator);
  options.representative = hessian::parse_representative(hessian_representative);
  options.max_probes = hessian_max_probes;
  options.tolerance = hessian_tolerance;
  options.target_rse = hessian_target_rse;
  options.target_abs_error = hessian_target_abs;
  options.min_probes = hessian_min_probes;
  options.settle_z = hessian_settle_z;
  options.split_samples = hessian_split_samples;
  options.seed = seed;
  return options;
}

TrainConfig TrainConfig::from_toml(const std::string& text, const std::string& source) {
  TrainConfig config;
  config.apply_text(text, source);
  return config;
}

}  // namespace ewgs::train
