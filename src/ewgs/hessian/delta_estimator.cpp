// EWGS delta from Hessian traces (include/ewgs/hessian/delta_estimator.h):
// delta = max(0, mean_batches((Tr(H)/N) / G)), Eq. 10, by a faithful port of the
// official loop or by probing each quantizer until its standard error is small.
#include "ewgs/hessian/delta_estimator.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include "ewgs/nn/quantized_layers.h"
#include "hutchinson.h"
#include "model_state_guard.h"
#include "probe_ranks.h"

namespace ewgs::hessian {
namespace {

/// A quantizer with a delta, and where it sits.
struct Target {
  std::string layer;
  quant::QuantTarget which;
  quant::QuantizerPtr quantizer;
};

/// Activation quantizers first, then weights, each in module order (the
/// official code's order).
std::vector<Target> delta_quantizers(torch::nn::Module& model) {
  std::vector<Target> acts;
  std::vector<Target> weights;
  for (const auto& item : nn::named_quantized_layers(model)) {
    if (item.layer->act_quant && item.layer->act_quant->has_delta()) {
      acts.push_back({item.name, quant::QuantTarget::kActivation, item.layer->act_quant});
    }
    if (item.layer->weight_quant && item.layer->weight_quant->has_delta()) {
      weights.push_back({item.name, quant::QuantTarget::kWeight, item.layer->weight_quant});
    }
  }
  acts.insert(acts.end(), weights.begin(), weights.end());
  return acts;
}

/// Turns capture and the twice-differentiable path of the targets on, and off again
/// on exit. Gradient quantizers take their differentiable path too, which leaves
/// gradients unquantized: the Hessian is that of the loss, whose value they do not
/// change, and their rounding would break the Hessian-vector products' second backward.
class CaptureGuard {
 public:
  CaptureGuard(torch::nn::Module& model, const std::vector<Target>& targets) {
    for (const auto& t : targets) {
      t.quantizer->set_capture(true);
      differentiable_.push_back(t.quantizer);
    }
    for (const auto& item : nn::named_quantized_layers(model)) {
      if (item.layer->grad_quant) {
        differentiable_.push_back(item.layer->grad_quant);
      }
    }
    for (const auto& q : differentiable_) {
      q->set_differentiable_backward(true);
    }
  }
  ~CaptureGuard() {
    for (const auto& q : differentiable_) {
      q->set_capture(false);
      q->set_differentiable_backward(false);
    }
  }

 private:
  std::vector<quant::QuantizerPtr> differentiable_;
};

/// Per quantizer, accumulated over batches.
struct Accumulator {
  double delta_sum = 0.0;      // sum_b (Tr_b/N)/G_b
  double delta_var_sum = 0.0;  // sum_b SE_b^2 of that term
  double trace_sum = 0.0;      // sum_b Tr_b/N
  double trace_var_sum = 0.0;
  double representative_sum = 0.0;
  int64_t probes = 0;
  double probe_seconds = 0.0;
  bool unusable = false;
  std::string note;
};

/// A trace estimate of one quantizer on one batch.
struct TraceEstimate {
  int64_t probes = 0;
  double mean = 0.0;
  double stderr_of_mean = 0.0;
};

/// The official loop; its standard error from the spread of its samples.
TraceEstimate probe_faithful(
    const at::Tensor& grad,
    const at::Tensor& x_q,
    at::Generator& generator,
    const EstimatorOptions& options) {
  RunningMean stats;
  for (double s :
       faithful_trace_samples(grad, x_q, generator, options.max_probes, options.tolerance)) {
    stats.add(s);
  }
  return {stats.count(), stats.mean(), stats.count() >= 2 ? stats.stderr_of_mean() : 0.0};
}

/// Probes until the standard error of this batch's term (the trace times
/// `scale`) meets the target widened by sqrt(batches), so the mean over the
/// batches meets it. With `split_rows` (x_q's rows are the batch's samples)
/// each probe also yields B per-sample probes, whose spread bounds the
/// probe's variance: the error is the larger of that bound and the spread
/// across probes, and 2 probes may suffice. Each round, every rank (up to
/// the probe cap) draws one probe and all ranks test the pooled statistics.
TraceEstimate probe_fast(
    const at::Tensor& grad,
    const at::Tensor& x_q,
    double scale,
    int64_t batches,
    bool split_rows,
    at::Generator& generator,
    ProbeRanks& ranks,
    const EstimatorOptions& options) {
  const double widen = std::sqrt(static_cast<double>(batches));
  const int64_t min_probes = split_rows ? 2 : options.min_probes;
  RunningMean stats;
  double row_variance_sum = 0.0;
  double se = std::numeric_limits<double>::infinity();
  while (stats.count() < options.max_probes) {
    const int64_t drawing = std::min(ranks.world_size(), options.max_probes - stats.count());
    std::optional<ProbeResult> mine;
    if (ranks.rank() < drawing) {
      const auto rows = hutchinson_sample_rows(grad, x_q, generator);
      mine = ProbeResult{rows.sum().item<double>(), split_rows ? variance_from_rows(rows) : 0.0};
    }
    for (const auto& probe : ranks.gather(mine, drawing, x_q.device())) {
      stats.add(probe.sample);
      row_variance_sum += probe.row_variance;
    }
    const auto n = static_cast<double>(stats.count());
    se = stats.count() >= 2 ? stats.stderr_of_mean() : 0.0;
    if (split_rows) {
      se = std::max(se, std::sqrt(row_variance_sum / n / n));
    }
    if (stats.count() >= min_probes &&
        meets_target(stats.mean() * scale, se * scale, options, widen)) {
      break;
    }
  }
  return {stats.count(), stats.mean(), se};
}

}  // namespace

bool meets_target(
    double delta, double delta_stderr, const EstimatorOptions& options, double widen) {
  return delta_stderr <=
             widen * std::max(options.target_rse * std::abs(delta), options.target_abs_error) ||
         delta + options.settle_z * delta_stderr < 0.0;
}

nlohmann::json QuantizerEstimate::to_json() const {
  nlohmann::json out{
      {"layer", layer},
      {"target", delta_target_key(target)},
      {"numel", numel},
      {"trace_per_element", trace_per_element},
      {"trace_stderr", trace_stderr},
      {"representative", representative},
      {"delta_unclipped", delta_unclipped},
      {"delta_stderr", delta_stderr},
      {"delta", delta},
      {"probes", probes},
      {"probe_seconds", probe_seconds},
      {"met_target", met_target},
      {"kept_previous", kept_previous}};
  if (!note.empty()) {
    out["note"] = note;
  }
  return out;
}

nlohmann::json DeltaEstimate::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& q : quantizers) {
    list.push_back(q.to_json());
  }
  return {
      {"estimator", to_string(estimator)},
      {"batches", batches},
      {"wall_s", wall_s},
      {"quantizers", list}};
}

DeltaEstimate estimate_deltas(
    torch::nn::Module& model,
    const ForwardFn& forward,
    const std::vector<Batch>& batches,
    const EstimatorOptions& options) {
  TORCH_CHECK(!batches.empty(), "hessian estimate needs at least one batch");
  TORCH_CHECK(options.max_probes >= 2, "hessian max_probes must be >= 2, got ", options.max_probes);
  TORCH_CHECK(
      !(options.stop && options.ranks),
      "EstimatorOptions::stop cannot be used with ranks: they must finish the estimate together");
  const auto start = std::chrono::steady_clock::now();
  auto targets = delta_quantizers(model);
  DeltaEstimate result;
  result.estimator = options.estimator;
  result.batches = static_cast<int64_t>(batches.size());
  if (targets.empty()) {
    return result;
  }
  std::vector<Accumulator> acc(targets.size());
  std::vector<int64_t> numel(targets.size(), 0);
  // The faithful loop runs whole on every rank, with the same probes.
  ProbeRanks ranks(options.ranks);
  const bool fast = options.estimator == Estimator::kFast;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(
      fast ? ranks.probe_seed(options.seed) : options.seed);
  {
    ModelStateGuard state_guard(model);
    CaptureGuard capture_guard(model, targets);
    model.train();
    for (size_t batch_index = 0; batch_index < batches.size() && !result.stopped; ++batch_index) {
      const auto& [images, labels] = batches[batch_index];
      const auto loss = torch::nn::functional::cross_entropy(forward(images), labels);
      std::vector<at::Tensor> x_q;
      for (const auto& t : targets) {
        TORCH_CHECK(
            t.quantizer->captured().defined(),
            t.layer,
            ": ",
            t.quantizer->spec(),
            " exposes no discrete values x_q for the Hessian; give it a fixed delta instead");
        x_q.push_back(t.quantizer->captured());
      }
      const auto grads =
          torch::autograd::grad({loss}, x_q, {}, /*retain_graph=*/true, /*create_graph=*/true);
      for (size_t i = 0; i < targets.size(); ++i) {
        auto& a = acc[i];
        numel[i] = x_q[i].numel();
        double g = representative_value(grads[i], options.representative);
        if (fast) {
          g = ranks.rank_zero_value(g, x_q[i].device());
        }
        a.representative_sum += g;
        if (!(std::isfinite(g) && g > 1e-30)) {
          a.unusable = true;
          a.note =
              "gradient representative is " + std::to_string(g) + " (zero or non-finite gradient)";
          continue;
        }
        const double per_element = 1.0 / static_cast<double>(numel[i]);
        const auto probe_start = std::chrono::steady_clock::now();
        const bool split_rows =
            options.split_samples && targets[i].which == quant::QuantTarget::kActivation &&
            x_q[i].dim() > 0 && x_q[i].size(0) == images.size(0) && images.size(0) > 1;
        const auto stats = fast ? probe_fast(
                                      grads[i],
                                      x_q[i],
                                      per_element / g,
                                      result.batches,
                                      split_rows,
                                      generator,
                                      ranks,
                                      options)
                                : probe_faithful(grads[i], x_q[i], generator, options);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - probe_start).count();
        a.probe_seconds += seconds;
        a.probes += stats.probes;
        if (options.progress) {
          options.progress(fmt::format(
              "{} batch {}/{}: {} {} {} probes, {:.2f} s",
              to_string(options.estimator),
              batch_index + 1,
              batches.size(),
              targets[i].layer,
              delta_target_key(targets[i].which),
              stats.probes,
              seconds));
        }
        const double se = stats.stderr_of_mean;
        a.trace_sum += stats.mean * per_element;
        a.trace_var_sum += std::pow(se * per_element, 2);
        a.delta_sum += stats.mean * per_element / g;
        a.delta_var_sum += std::pow(se * per_element / g, 2);
        if (options.stop && options.stop()) {
          result.stopped = true;
          break;
        }
      }
    }
  }
  if (result.stopped) {
    result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  }
  const double b = static_cast<double>(result.batches);
  for (size_t i = 0; i < targets.size(); ++i) {
    const auto& a = acc[i];
    QuantizerEstimate q;
    q.layer = targets[i].layer;
    q.target = targets[i].which;
    q.numel = numel[i];
    q.probes = a.probes;
    q.probe_seconds = a.probe_seconds;
    q.representative = a.representative_sum / b;
    q.trace_per_element = a.trace_sum / b;
    q.trace_stderr = std::sqrt(a.trace_var_sum) / b;
    q.delta_unclipped = a.delta_sum / b;
    q.delta_stderr = std::sqrt(a.delta_var_sum) / b;
    q.delta = std::max(0.0, q.delta_unclipped);
    q.met_target = meets_target(q.delta_unclipped, q.delta_stderr, options);
    q.kept_previous =
        a.unusable || !std::isfinite(q.delta_unclipped) || !std::isfinite(q.delta_stderr);
    if (q.kept_previous) {
      q.note = a.unusable ? a.note : "non-finite estimate";
      q.delta = targets[i].quantizer->delta();
    }
    result.quantizers.push_back(q);
  }
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

void apply_deltas(torch::nn::Module& model, const DeltaEstimate& estimate) {
  const auto targets = delta_quantizers(model);
  for (const auto& q : estimate.quantizers) {
    if (q.kept_previous) {
      continue;
    }
    bool found = false;
    for (const auto& t : targets) {
      if (t.layer == q.layer && t.which == q.target) {
        t.quantizer->set_delta(q.delta);
        found = true;
      }
    }
    TORCH_CHECK(
        found,
        "delta estimate names ",
        q.layer,
        " ",
        delta_target_key(q.target),
        ", which the model lacks");
  }
}

}  // namespace ewgs::hessian
