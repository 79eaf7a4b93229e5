// Both delta estimators against exact block traces of tiny quantized networks,
// the robustness rules, and that an estimate leaves the model untouched.
#include "ewgs/hessian/delta_estimator.h"

#include <torch/torch.h>

#include "ewgs/nn/qconv2d.h"
#include "ewgs/nn/qlinear.h"
#include "ewgs/nn/state_dict.h"
#include "hessian/tiny_quantized_net.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

TEST(DeltaEstimatorTest, FaithfulAtItsProbeCapMatchesExactTracesWithThePredictedError) {
  // The error of the estimate at a known probe count. The official stopping
  // rule itself (tolerance 1e-3) is tested on a converging positive trace in
  // hutchinson_test.cpp and value for value in official_golden_test.cpp.
  HessianFixture f;
  const auto exact = exact_deltas(f);
  hessian::EstimatorOptions options;
  options.estimator = hessian::Estimator::kFaithful;
  constexpr int64_t kProbes = 150;
  options.max_probes = kProbes;
  options.tolerance = 0;  // no relative-change stop: only the signed-mean stop remains
  options.seed = 9;
  const auto e = hessian::estimate_deltas(*f.net, f.forward, f.batches, options);
  ASSERT_EQ(e.quantizers.size(), 4u);
  EXPECT_EQ(
      e.quantizers[0].target,
      quant::QuantTarget::kActivation);  // activations first, as the official code
  int64_t at_cap = 0;
  for (const auto& q : e.quantizers) {
    const auto& want = exact.at(q.layer + "/" + hessian::delta_target_key(q.target));
    const std::string what = q.layer + " " + hessian::delta_target_key(q.target);
    EXPECT_DOUBLE_EQ(q.delta, std::max(0.0, q.delta_unclipped));
    EXPECT_LE(q.probes, 2 * kProbes) << what;
    if (q.probes < 2 * kProbes) {
      continue;  // a running mean went negative: the official loop stops there
    }
    ++at_cap;
    double variance = 0;
    for (double s : want.sample_std) {
      variance += s * s / static_cast<double>(kProbes);
    }
    const double predicted_se = std::sqrt(variance) / static_cast<double>(want.sample_std.size());
    EXPECT_NEAR(q.delta_unclipped, want.delta, 4 * predicted_se) << what;
    EXPECT_GT(q.delta_stderr, 0.7 * predicted_se) << what;
    EXPECT_LT(q.delta_stderr, 1.4 * predicted_se) << what;
  }
  EXPECT_GE(at_cap, 2);
}

TEST(DeltaEstimatorTest, FastMatchesExactTracesWithinTheErrorOfItsProbeCount) {
  // Targets it cannot meet make every quantizer take exactly kProbes probes
  // per batch; the tolerance then follows from the exact per-probe variance
  // and that count, not from the error the estimator reports.
  HessianFixture f;
  const auto exact = exact_deltas(f);
  hessian::EstimatorOptions options;
  constexpr int64_t kProbes = 64;
  options.max_probes = kProbes;
  options.min_probes = kProbes;
  options.target_rse = 0;
  options.target_abs_error = 0;
  options.settle_z = 1e300;
  options.seed = 3;
  const auto e = hessian::estimate_deltas(*f.net, f.forward, f.batches, options);
  ASSERT_EQ(e.quantizers.size(), 4u);
  for (const auto& q : e.quantizers) {
    const auto& want = exact.at(q.layer + "/" + hessian::delta_target_key(q.target));
    const std::string what = q.layer + " " + hessian::delta_target_key(q.target);
    ASSERT_EQ(q.probes, kProbes * static_cast<int64_t>(f.batches.size())) << what;
    double variance = 0;
    for (double s : want.sample_std) {
      variance += s * s / static_cast<double>(kProbes);
    }
    const double exact_se = std::sqrt(variance) / static_cast<double>(want.sample_std.size());
    EXPECT_NEAR(q.delta_unclipped, want.delta, 4 * exact_se) << what;
    EXPECT_LT(4 * exact_se, 0.5 * std::abs(want.delta))
        << what << ": the test could not tell a wrong trace";
    // The reported error never understates the exact one by more than chance.
    EXPECT_GT(q.delta_stderr, 0.6 * exact_se) << what;
  }
}

TEST(DeltaEstimatorTest, CudaEstimateMatchesTheCpuEstimate_CUDA) {
  // The Hessian path on a GPU: double backward through the quantizers'
  // differentiable backward, probes from the same CPU generator.
  hessian::EstimatorOptions options;
  options.max_probes = 16;
  options.min_probes = 16;
  options.target_rse = 0;
  options.target_abs_error = 0;
  options.settle_z = 1e300;
  options.seed = 5;
  HessianFixture cpu;
  const auto on_cpu = hessian::estimate_deltas(*cpu.net, cpu.forward, cpu.batches, options);
  HessianFixture gpu;
  gpu.net->to(torch::kCUDA);
  for (auto& [images, labels] : gpu.batches) {
    images = images.to(torch::kCUDA);
    labels = labels.to(torch::kCUDA);
  }
  const auto on_gpu = hessian::estimate_deltas(*gpu.net, gpu.forward, gpu.batches, options);
  ASSERT_EQ(on_gpu.quantizers.size(), on_cpu.quantizers.size());
  for (size_t i = 0; i < on_cpu.quantizers.size(); ++i) {
    const auto& a = on_cpu.quantizers[i];
    const auto& b = on_gpu.quantizers[i];
    EXPECT_EQ(a.probes, b.probes) << a.layer << " " << hessian::delta_target_key(a.target);
    EXPECT_NEAR(b.delta_unclipped, a.delta_unclipped, 1e-3 * std::abs(a.delta_unclipped) + 1e-7)
        << a.layer << " " << hessian::delta_target_key(a.target);
  }
}

TEST(DeltaEstimatorTest, FastStopsEachQuantizerAtItsTargetError) {
  HessianFixture f;
  hessian::EstimatorOptions options;
  options.target_rse = 0.1;
  options.target_abs_error = 0;
  options.max_probes = 2000;
  const auto e = hessian::estimate_deltas(*f.net, f.forward, f.batches, options);
  for (const auto& q : e.quantizers) {
    const bool precise = q.delta_stderr <= 0.1 * std::abs(q.delta_unclipped) * 1.0001;
    const bool settled_at_zero = q.delta_unclipped + options.settle_z * q.delta_stderr < 0;
    EXPECT_TRUE(precise || settled_at_zero)
        << q.layer << " " << hessian::delta_target_key(q.target);
    EXPECT_TRUE(q.met_target) << q.layer << " " << hessian::delta_target_key(q.target);
    EXPECT_LT(q.probes, 2 * 2000) << q.layer;
    EXPECT_GT(q.probe_seconds, 0.0);
  }
}

TEST(DeltaEstimatorTest, TargetIsARelativeOrAbsoluteErrorOrASettledZero) {
  hessian::EstimatorOptions options;  // 10 %, 1e-5, z = 3
  EXPECT_TRUE(hessian::meets_target(0.02, 0.002, options));
  EXPECT_FALSE(hessian::meets_target(0.02, 0.0021, options));
  EXPECT_TRUE(hessian::meets_target(-0.02, 0.002, options));  // relative to |delta|
  EXPECT_TRUE(hessian::meets_target(1e-6, 0.99e-5, options));
  EXPECT_FALSE(hessian::meets_target(1e-6, 1.01e-5, options));
  EXPECT_TRUE(hessian::meets_target(-0.031, 0.01, options));  // 3.1 standard errors below 0
  EXPECT_FALSE(hessian::meets_target(-0.029, 0.01, options));
  EXPECT_FALSE(hessian::meets_target(0.05, 0.01, options));
  EXPECT_TRUE(hessian::meets_target(0.05, 0.01, options, /*widen=*/2.0));
}

TEST(DeltaEstimatorTest, LeavesTheModelExactlyAsFound) {
  HessianFixture f;
  f.net->eval();
  for (auto& p : f.net->parameters()) {
    p.mutable_grad() = torch::full_like(p, 0.5);
  }
  std::vector<torch::Tensor> before;
  for (const auto& [name, t] : nn::module_state(*f.net)) {
    before.push_back(t.clone());
  }
  torch::manual_seed(77);
  const double expected_draw = torch::rand({1}).item<double>();
  torch::manual_seed(77);
  hessian::EstimatorOptions options;
  options.max_probes = 5;
  hessian::estimate_deltas(*f.net, f.forward, f.batches, options);
  EXPECT_FALSE(f.net->is_training());
  size_t i = 0;
  for (const auto& [name, t] : nn::module_state(*f.net)) {
    EXPECT_TRUE(all_equal(t, before[i++])) << name;
  }
  for (auto& p : f.net->parameters()) {
    EXPECT_TRUE(all_equal(p.grad(), torch::full_like(p, 0.5)));
  }
  EXPECT_EQ(torch::rand({1}).item<double>(), expected_draw);  // global RNG untouched
}

TEST(DeltaEstimatorTest, GradientQuantizersLeaveTheHessianUnchanged) {
  // The Hessian is that of the loss; LBT's stochastic rounding of gradients would
  // otherwise enter both backwards of every Hessian-vector product.
  HessianFixture plain;
  HessianFixture with_lbt("lbt:bits=4");
  hessian::EstimatorOptions options;
  options.estimator = hessian::Estimator::kFaithful;
  options.max_probes = 6;
  const auto a = hessian::estimate_deltas(*plain.net, plain.forward, plain.batches, options);
  const auto b =
      hessian::estimate_deltas(*with_lbt.net, with_lbt.forward, with_lbt.batches, options);
  ASSERT_EQ(a.quantizers.size(), 4u);
  ASSERT_EQ(b.quantizers.size(), a.quantizers.size());
  for (size_t i = 0; i < a.quantizers.size(); ++i) {
    EXPECT_EQ(b.quantizers[i].trace_per_element, a.quantizers[i].trace_per_element) << i;
    EXPECT_EQ(b.quantizers[i].delta, a.quantizers[i].delta) << i;
  }
}

TEST(DeltaEstimatorTest, ApplySetsEveryEstimatedDelta) {
  HessianFixture f;
  hessian::EstimatorOptions options;
  options.max_probes = 6;
  const auto e = hessian::estimate_deltas(*f.net, f.forward, f.batches, options);
  hessian::apply_deltas(*f.net, e);
  for (const auto& q : e.quantizers) {
    ASSERT_FALSE(q.kept_previous);
    auto layer = q.layer == "conv" ? static_cast<nn::QuantizedLayer*>(f.net->conv.get())
                                   : static_cast<nn::QuantizedLayer*>(f.net->fc.get());
    auto quantizer =
        q.target == quant::QuantTarget::kActivation ? layer->act_quant : layer->weight_quant;
    EXPECT_FLOAT_EQ(quantizer->delta(), q.delta)
        << q.layer << " " << hessian::delta_target_key(q.target);
  }
}

TEST(DeltaEstimatorTest, ZeroGradientsKeepThePreviousDelta) {
  HessianFixture f;
  f.net->conv->weight_quant->set_delta(0.123);
  {
    torch::NoGradGuard no_grad;
    f.net->fc->output_scale.zero_();  // the loss no longer depends on any x_q
  }
  hessian::EstimatorOptions options;
  options.max_probes = 6;
  const auto e = hessian::estimate_deltas(*f.net, f.forward, f.batches, options);
  hessian::apply_deltas(*f.net, e);
  ASSERT_EQ(e.quantizers.size(), 4u);
  for (const auto& q : e.quantizers) {
    EXPECT_TRUE(q.kept_previous) << q.layer << " " << hessian::delta_target_key(q.target);
    EXPECT_NE(q.note.find("zero or non-finite gradient"), std::string::npos) << q.note;
    EXPECT_TRUE(std::isfinite(q.delta));
  }
  EXPECT_FLOAT_EQ(f.net->conv->weight_quant->delta(), 0.123f);
  EXPECT_EQ(f.net->fc->act_quant->delta(), 0.0);
}

TEST(DeltaEstimatorTest, RejectsBadOptions) {
  HessianFixture f;
  EWGS_EXPECT_THROWS_WITH(hessian::parse_estimator("exact"), "must be fast or faithful");
  EXPECT_EQ(hessian::parse_estimator("faithful"), hessian::Estimator::kFaithful);
  EXPECT_STREQ(hessian::to_string(hessian::parse_estimator("fast")), "fast");
  EXPECT_STREQ(hessian::delta_target_key(quant::QuantTarget::kActivation), "act");
  EWGS_EXPECT_THROWS_WITH(
      hessian::delta_target_key(quant::QuantTarget::kGradient),
      "gradient quantizers have no delta");
  EWGS_EXPECT_THROWS_WITH(
      hessian::estimate_deltas(*f.net, f.forward, {}, hessian::EstimatorOptions{}),
      "at least one batch");
  EWGS_EXPECT_THROWS_WITH(hessian::parse_representative("std"), "3std, max or mean");
}

TEST(DeltaEstimatorTest, RepresentativesFollowTheirDefinitions) {
  const auto g = torch::tensor({1.0, -3.0, 2.0, 0.0});
  // mean 0, unbiased variance 14 / 3
  EXPECT_NEAR(
      hessian::representative_value(g, hessian::Representative::kThreeStd),
      3 * std::sqrt(14.0 / 3.0),
      1e-6);
  EXPECT_DOUBLE_EQ(hessian::representative_value(g, hessian::Representative::kMaxAbs), 3.0);
  EXPECT_DOUBLE_EQ(hessian::representative_value(g, hessian::Representative::kMeanAbs), 1.5);
}

}  // namespace
}  // namespace ewgs::test
