// The contract every registered quantizer keeps (docs/ADDING_A_QUANTIZER.md), checked
// over the whole registry, so a new method that breaks it fails here: its spec() rebuilds
// an equal quantizer, and a method with a delta survives a Hessian delta update.
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "ewgs/hessian/delta_estimator.h"
#include "ewgs/nn/qconv2d.h"
#include "ewgs/nn/qlinear.h"
#include "ewgs/quant/registry.h"
#include "hessian/tiny_quantized_net.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using quant::QuantTarget;

/// Spec options beyond bits that change what a method is (and whether it has a delta).
const std::map<std::string, std::vector<std::string>> kVariantOptions = {
    {"ewgs", {"", ",delta=0.003"}},
    {"dorefa", {"", ",estimator=ewgs,delta=0.002"}},
};

struct Case {
  std::string spec;
  QuantTarget target;
};

/// Every spec of every registered method, at 1, 2 and 4 bits, for weights, activations
/// and gradients, that the method accepts; methods refuse what they do not support.
std::vector<Case> accepted_cases() {
  std::vector<Case> cases;
  for (const auto& method : quant::quantizer_registry().names()) {
    const auto variants =
        kVariantOptions.count(method) ? kVariantOptions.at(method) : std::vector<std::string>{""};
    for (const auto target :
         {QuantTarget::kWeight, QuantTarget::kActivation, QuantTarget::kGradient}) {
      for (const int bits : {1, 2, 4}) {
        for (const auto& options : variants) {
          const auto spec = method + ":bits=" + std::to_string(bits) + options;
          try {
            quant::make_quantizer(spec, target);
            cases.push_back({spec, target});
          } catch (const c10::Error&) {
          }
        }
      }
    }
  }
  return cases;
}

/// Non-negative activations for an activation quantizer; weights or gradients otherwise.
torch::Tensor input_for(QuantTarget target) {
  const auto x = torch::randn({4, 3, 5, 5});
  return target == QuantTarget::kActivation ? x.relu() : x * 0.2;
}

TEST(QuantizerConformanceTest, EveryRegisteredMethodHasAcceptedSpecs) {
  const auto cases = accepted_cases();
  for (const auto& method : quant::quantizer_registry().names()) {
    bool found = false;
    for (const auto& c : cases) {
      found = found || c.spec.rfind(method + ":", 0) == 0;
    }
    EXPECT_TRUE(found) << method << " accepts none of the specs tried; extend accepted_cases()";
  }
}

TEST(QuantizerConformanceTest, SpecRebuildsAnEqualQuantizer) {
  for (const auto& c : accepted_cases()) {
    SCOPED_TRACE(c.spec + " for " + quant::to_string(c.target));
    torch::manual_seed(0);
    auto original = quant::make_quantizer(c.spec, c.target);
    auto rebuilt = quant::make_quantizer(original->spec(), c.target);
    EXPECT_EQ(rebuilt->spec(), original->spec());
    EXPECT_EQ(rebuilt->method(), original->method());
    EXPECT_EQ(rebuilt->bits(), original->bits());
    EXPECT_EQ(rebuilt->has_delta(), original->has_delta());
    if (original->has_delta()) {
      EXPECT_EQ(rebuilt->delta(), original->delta());
    }
    // The same initialization and the same input give the same values and gradients.
    const auto x = input_for(c.target);
    original->initialize(x);
    rebuilt->initialize(x);
    original->train();
    rebuilt->train();
    const auto xa = x.clone().requires_grad_(true);
    const auto xb = x.clone().requires_grad_(true);
    const auto ya = original->forward(xa);
    const auto yb = rebuilt->forward(xb);
    EXPECT_TRUE(all_equal(ya, yb));
    const auto upstream = torch::randn_like(ya);
    ya.backward(upstream);
    yb.backward(upstream);
    EXPECT_TRUE(all_equal(xa.grad(), xb.grad()));
  }
}

/// conv (quantized by the case's spec) -> BN -> ReLU -> pool -> linear -> logits.
struct SmallNetImpl : torch::nn::Module {
  SmallNetImpl(const std::string& weight_spec, const std::string& act_spec)
      : conv(register_module(
            "conv",
            nn::QConv2d(nn::QConv2dOptions(2, 3, 3)
                            .padding(1)
                            .weight_quant(weight_spec)
                            .act_quant(act_spec)))),
        bn(register_module("bn", torch::nn::BatchNorm2d(3))),
        fc(register_module("fc", torch::nn::Linear(12, 4))) {}

  torch::Tensor forward(const torch::Tensor& x) {
    return fc->forward(
        torch::adaptive_avg_pool2d(torch::relu(bn->forward(conv->forward(x))), {2, 2}).flatten(1));
  }

  nn::QConv2d conv;
  torch::nn::BatchNorm2d bn;
  torch::nn::Linear fc;
};
TORCH_MODULE(SmallNet);

TEST(QuantizerConformanceTest, MethodsWithADeltaSurviveAHessianUpdate) {
  int updated = 0;
  for (const auto& c : accepted_cases()) {
    if (!quant::make_quantizer(c.spec, c.target)->has_delta()) {
      continue;
    }
    SCOPED_TRACE(c.spec + " for " + quant::to_string(c.target));
    torch::manual_seed(1);
    const bool weight = c.target == QuantTarget::kWeight;
    SmallNet net(weight ? c.spec : "off", weight ? "off" : c.spec);
    const auto& q = weight ? net->conv->weight_quant : net->conv->act_quant;
    ASSERT_TRUE(q);
    if (!q->hessian_delta_obstacle().empty()) {
      continue;  // refused at start-up with this reason (tested with the trainer's config checks)
    }
    const auto batches = two_tiny_batches();
    net->train();
    net->forward(batches[0].first);  // paper initialization
    hessian::EstimatorOptions options;
    options.max_probes = 12;
    options.seed = 3;
    for (const auto estimator : {hessian::Estimator::kFast, hessian::Estimator::kFaithful}) {
      SCOPED_TRACE(hessian::to_string(estimator));
      options.estimator = estimator;
      const auto estimate = hessian::estimate_deltas(
          *net, [&net](const torch::Tensor& x) { return net->forward(x); }, batches, options);
      ASSERT_EQ(estimate.quantizers.size(), 1U);
      const auto& e = estimate.quantizers[0];
      EXPECT_EQ(e.layer, "conv");
      EXPECT_TRUE(std::isfinite(e.delta_unclipped));
      EXPECT_GE(e.delta, 0.0);
      EXPECT_GT(e.probes, 0);
      hessian::apply_deltas(*net, estimate);
      if (!e.kept_previous) {
        EXPECT_FLOAT_EQ(q->delta(), e.delta);
      }
    }
    // Training goes on with the new delta.
    const auto loss =
        torch::nn::functional::cross_entropy(net->forward(batches[1].first), batches[1].second);
    loss.backward();
    EXPECT_TRUE(torch::isfinite(net->conv->weight.grad()).all().item<bool>());
    ++updated;
  }
  // ewgs and dorefa with the EWGS estimator, for weights and activations, at 1, 2 and 4 bits.
  EXPECT_GE(updated, 12);
}

}  // namespace
}  // namespace ewgs::test
