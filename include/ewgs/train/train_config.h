// Every setting of a training run in one plain, copyable struct, described once by a
// schema of "section.key" names for the TOML config and --section.key=value overrides.
#pragma once

#include <string>

#include "ewgs/hessian/delta_estimator.h"
#include "ewgs/models/quant_spec.h"
#include "ewgs/train/config_schema.h"

namespace ewgs::train {

/// The resolved configuration of a run. Defaults train the small CNN on
/// Fashion-MNIST in full precision.
struct TrainConfig {
  // [run]
  std::string run_device = "cpu";
  int64_t run_threads = 0;
  int64_t run_seed = 1;
  bool run_cuda_graph = false;

  // [data]
  std::string data_dataset = "fashion-mnist";
  std::string data_root;
  std::string data_train_split = "train";
  std::string data_test_split = "test";
  bool data_augment = true;
  int64_t data_workers = 0;
  std::string data_device_resident = "auto";

  // [model]
  std::string model_name = "small_cnn";
  int64_t model_num_classes = 0;
  bool model_sync_bn = false;

  // [dist]
  std::string dist_backend = "auto";
  double dist_timeout_s = 300.0;

  // [quant]
  std::string quant_method = "off";
  int64_t quant_wbits = 32;
  int64_t quant_abits = 32;
  std::string quant_delta = "0";
  std::string quant_options;
  std::string quant_act_method;
  std::string quant_act_options;
  bool quant_all_layers = false;
  std::string quant_grad_method = "off";
  int64_t quant_gbits = 32;
  std::string quant_grad_options;

  // [train]
  int64_t train_epochs = 10;
  int64_t train_batch_size = 128;
  std::string train_init_from;
  std::string train_init_entry;
  int64_t train_eval_every = 1;
  int64_t train_max_batches = 0;
  int64_t train_log_steps = 0;

  // [optim]
  std::string optim_optimizer = "sgd";
  double optim_lr = 0.1;
  double optim_momentum = 0.9;
  double optim_weight_decay = 1e-4;
  bool optim_nesterov = false;
  std::string optim_schedule = "cosine";
  std::string optim_milestones;
  double optim_gamma = 0.1;
  double optim_quant_lr = 1e-5;

  // [hessian]
  std::string hessian_estimator = "fast";
  int64_t hessian_period = 10;
  std::string hessian_period_unit = "epochs";
  int64_t hessian_batches = 3;
  int64_t hessian_batch_size = 0;
  std::string hessian_representative = "3std";
  int64_t hessian_max_probes = 50;
  double hessian_tolerance = 1e-3;
  double hessian_target_rse = 0.1;
  double hessian_target_abs = 1e-5;
  int64_t hessian_min_probes = 6;
  double hessian_settle_z = 3.0;
  bool hessian_split_samples = true;

  /// Every key of the config file: name, type, description, constraints, and
  /// the member it sets. The defaults are those of a TrainConfig().
  static const ConfigSchema<TrainConfig>& schema();

  /// Applies a TOML file (and the `base` files it names) over this config.
  void apply_file(const std::string& path);
  /// Applies TOML text; `source` names it in errors.
  void apply_text(const std::string& text, const std::string& source);
  /// Applies one "section.key=value" override.
  void apply_override(const std::string& assignment);
  /// The value of key `key` as TOML text (error for unknown keys).
  std::string value_text(const std::string& key) const;

  /// Checks every field against its key (so a config filled in code gets the
  /// checks a config file gets), then relations between keys (e.g. a quantized
  /// method needs bits in 1..8); errors name the keys.
  void validate() const;

  /// The model's quantization from [quant] and [model].
  models::QuantSpec quant_spec() const;

  /// Valid but probably unintended settings, one sentence each (the trainer
  /// prints them before training).
  std::vector<std::string> warnings() const;

  /// quant.act_method, or quant.method when that is empty.
  std::string activation_method() const;
  /// Whether delta is set by the Hessian estimator (quant.delta = "hessian").
  bool hessian_delta() const { return quant_delta == "hessian"; }

  /// The Hessian estimator's options from [hessian]; `seed` seeds the probes.
  hessian::EstimatorOptions estimator_options(uint64_t seed) const;

  /// Resolved config as TOML text; parsing it back gives an equal config.
  std::string to_toml() const;
  /// A config parsed from TOML text written by to_toml().
  static TrainConfig from_toml(const std::string& text, const std::string& source);
};

}  // namespace ewgs::train
