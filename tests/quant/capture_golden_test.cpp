// The discrete values a quantizer hands to the Hessian estimator are Eq. 2's x_q in
// [0, 1], before Eq. 3 maps weights to [-1, 1] (tests/golden/hessian_capture.json,
// scripts/gen_hessian_golden.py). Captured after the map, delta_W would halve.
#include "quant/quant_test_util.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

TEST(CaptureGoldenTest, CapturedValuesAreThePreMapDiscreteValues) {
  const auto golden = load_golden("hessian_capture.json");
  for (const auto& c : golden.at("cases")) {
    const auto target =
        c.at("target") == "weight" ? quant::QuantTarget::kWeight : quant::QuantTarget::kActivation;
    const std::string what =
        c.at("target").get<std::string>() + " bits=" + std::to_string(c.at("bits").get<int>());
    auto q = make_interval_quantizer("ewgs", target, c.at("bits"), c.at("l"), c.at("u"));
    q->set_capture(true);
    const auto out = q->forward(tensor_from_json(c.at("x")));
    ASSERT_TRUE(q->captured().defined()) << what;
    EXPECT_TRUE(all_close(q->captured(), tensor_from_json(c.at("x_q")), 0, 1e-7)) << what;
    EXPECT_GE(q->captured().min().item<float>(), 0.0f) << what;
    EXPECT_TRUE(all_close(out, tensor_from_json(c.at("out")), 0, 1e-7)) << what;
  }
}

}  // namespace
}  // namespace ewgs::test
