// Parity with an independent PyTorch implementation of the quantizer
// (scripts/gen_golden.py -> tests/golden/interval_quantizer.json).
#include "quant/quant_test_util.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

TEST(GoldenParityTest, QuantizerForwardAndGradientsMatchPyTorch) {
  const auto golden = load_golden("interval_quantizer.json");
  ASSERT_EQ(golden["cases"].size(), 64u);
  for (const auto& c : golden["cases"]) {
    const auto target =
        c["target"] == "weight" ? quant::QuantTarget::kWeight : quant::QuantTarget::kActivation;
    const double delta = c["delta"].get<double>();
    auto q = make_interval_quantizer(
        "ewgs",
        target,
        c["bits"].get<int64_t>(),
        c["l"].get<double>(),
        c["u"].get<double>(),
        delta);
    auto x = tensor_from_json(c["x"]).requires_grad_(true);
    const auto out = q->forward(x);
    out.backward(tensor_from_json(c["grad_out"]));
    const std::string what = c["target"].get<std::string>() +
                             " bits=" + std::to_string(c["bits"].get<int>()) +
                             " delta=" + std::to_string(delta);
    EXPECT_TRUE(all_equal(out, tensor_from_json(c["out"]))) << what;
    EXPECT_TRUE(all_close(x.grad(), tensor_from_json(c["grad_x"]), 1e-6, 1e-7)) << what;
    EXPECT_NEAR(q->lower.grad().item<double>(), c["grad_l"].get<double>(), 1e-5) << what;
    EXPECT_NEAR(q->upper.grad().item<double>(), c["grad_u"].get<double>(), 1e-5) << what;
  }
}

}  // namespace
}  // namespace ewgs::test
