// The faithful estimator against the official update_grad_scales, value for value:
// tests/golden/update_grad_scales.json comes from scripts/gen_hessian_golden.py,
// which runs the official code's logic (3 batches, Hutchinson's loop with the
// relative-tolerance stop at 1e-3, delta = mean over batches of Tr(H)/N / 3 std(g))
// on a small W2A2 network with the same Rademacher probes.
#include <torch/torch.h>

#include "ewgs/hessian/delta_estimator.h"
#include "ewgs/nn/qconv2d.h"
#include "ewgs/nn/state_dict.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

/// conv1 (W2A2) BN ReLU | conv2 (W2A2) BN ReLU | global average pool | fc (FP).
struct GoldenNetImpl : torch::nn::Module {
  static nn::QConv2d conv(int64_t in, int64_t out) {
    return nn::QConv2d(nn::QConv2dOptions(in, out, 3)
                           .padding(1)
                           .weight_quant("ewgs:bits=2")
                           .act_quant("ewgs:bits=2"));
  }
  GoldenNetImpl()
      : conv1(register_module("conv1", conv(3, 4))),
        bn1(register_module("bn1", torch::nn::BatchNorm2d(4))),
        conv2(register_module("conv2", conv(4, 4))),
        bn2(register_module("bn2", torch::nn::BatchNorm2d(4))),
        fc(register_module("fc", torch::nn::Linear(4, 3))) {}

  torch::Tensor forward(const torch::Tensor& x) {
    auto h = torch::relu(bn1->forward(conv1->forward(x)));
    h = torch::relu(bn2->forward(conv2->forward(h)));
    return fc->forward(torch::adaptive_avg_pool2d(h, {1, 1}).flatten(1));
  }

  nn::QConv2d conv1;
  torch::nn::BatchNorm2d bn1;
  nn::QConv2d conv2;
  torch::nn::BatchNorm2d bn2;
  torch::nn::Linear fc;
};
TORCH_MODULE(GoldenNet);

TEST(OfficialGoldenTest, FaithfulEstimatorReproducesUpdateGradScales) {
  const auto golden = load_golden("update_grad_scales.json");
  GoldenNet net;
  nn::NamedTensors state;
  for (const auto& [name, entry] : golden.at("state").items()) {
    state.emplace_back(name, tensor_from_json(entry));
  }
  const auto report = nn::load_state(*net, state, /*strict=*/false, "golden");
  for (const auto& name : report.missing) {
    const bool bookkeeping = name.find("quant_initialized") != std::string::npos ||
                             name.find(".delta") != std::string::npos ||
                             name.find("num_batches_tracked") != std::string::npos;
    EXPECT_TRUE(bookkeeping) << "the golden state lacks " << name;
  }
  for (auto* conv : {&net->conv1, &net->conv2}) {
    torch::NoGradGuard no_grad;
    (*conv)->named_buffers()["quant_initialized"].fill_(1);  // initialized as in the golden
  }
  std::vector<hessian::Batch> batches;
  for (const auto& b : golden.at("batches")) {
    batches.emplace_back(
        tensor_from_json(b.at("images")),
        torch::tensor(b.at("labels").get<std::vector<int64_t>>()));
  }
  hessian::EstimatorOptions options;
  options.estimator = hessian::Estimator::kFaithful;
  options.max_probes = golden.at("max_probes");
  options.tolerance = golden.at("tolerance");
  options.seed = golden.at("seed");
  const auto estimate = hessian::estimate_deltas(
      *net, [&](const torch::Tensor& x) { return net->forward(x); }, batches, options);
  const auto& expected = golden.at("quantizers");
  ASSERT_EQ(estimate.quantizers.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& q = estimate.quantizers[i];
    const auto& want = expected[i];
    const std::string what = q.layer + " " + hessian::delta_target_key(q.target);
    ASSERT_EQ(q.layer, want.at("layer").get<std::string>());
    ASSERT_EQ(hessian::delta_target_key(q.target), want.at("target").get<std::string>());
    // Same probes, same stopping decisions: the probe counts are exact.
    EXPECT_EQ(q.probes, want.at("probes").get<int64_t>()) << what;
    const double trace = want.at("trace_per_element");
    const double delta = want.at("delta");
    EXPECT_NEAR(q.trace_per_element, trace, 1e-5 * std::abs(trace)) << what;
    EXPECT_NEAR(q.delta_unclipped, want.at("delta_unclipped").get<double>(), 1e-5 * std::abs(delta))
        << what;
    EXPECT_NEAR(q.delta, delta, 1e-5 * std::abs(delta)) << what;
    EXPECT_GT(delta, 0.0) << what;  // a positive trace: the clip at 0 does not hide a difference
  }
}

}  // namespace
}  // namespace ewgs::test
