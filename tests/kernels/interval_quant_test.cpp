// The fused interval-quantizer kernels against the composite ATen reference:
// bit-identical forward and input gradient, l/u gradients to float rounding.
#include "ewgs/kernels/interval_quant.h"

#include <torch/torch.h>

#include "ewgs/quant/fused_kernels.h"
#include "ewgs/quant/interval_quantizer.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using quant::QuantTarget;

struct Result {
  torch::Tensor out, grad_x, grad_l, grad_u;
};

/// Runs a quantizer of `method` through the fused or the composite path.
Result run(
    bool fused,
    const std::string& method,
    QuantTarget target,
    int64_t bits,
    double delta,
    const torch::Tensor& x_in,
    const torch::Tensor& g) {
  quant::set_fused_kernels(fused);
  auto q = std::make_shared<quant::IntervalQuantizerImpl>(
      quant::IntervalQuantizerOptions(method, target, bits)
          .delta(delta)
          .has_delta(method == "ewgs"));
  {
    torch::NoGradGuard no_grad;
    q->lower.fill_(target == QuantTarget::kWeight ? -0.7 : 0.05);
    q->upper.fill_(target == QuantTarget::kWeight ? 0.6 : 1.9);
  }
  auto x = x_in.clone().requires_grad_(true);
  const auto out = q->forward(x);
  out.backward(g);
  quant::set_fused_kernels(true);
  return {out.detach(), x.grad(), q->lower.grad(), q->upper.grad()};
}

class IntervalQuantKernelTest : public SeededTest {
 protected:
  void TearDown() override { quant::set_fused_kernels(true); }
};

TEST_F(IntervalQuantKernelTest, FusedMatchesCompositeForEveryBitWidthTargetAndDelta) {
  for (const std::string method : {"ste", "ewgs"}) {
    for (double delta : {0.0, 1e-3, 0.5}) {
      if (method == "ste" && delta != 0.0) {
        continue;
      }
      for (int64_t bits = 1; bits <= 8; ++bits) {
        for (auto target : {QuantTarget::kWeight, QuantTarget::kActivation}) {
          // Odd size (not a multiple of any vector width), values on both sides
          // of the interval and exactly on its ends.
          auto x = torch::randn({70001}) * 1.2;
          x[0] = target == QuantTarget::kWeight ? -0.7 : 0.05;
          x[1] = target == QuantTarget::kWeight ? 0.6 : 1.9;
          const auto g = torch::randn({70001});
          const auto a = run(true, method, target, bits, delta, x, g);
          const auto b = run(false, method, target, bits, delta, x, g);
          const std::string what = method + " bits " + std::to_string(bits) + " delta " +
                                   std::to_string(delta) + " " + quant::to_string(target);
          EXPECT_TRUE(all_equal(a.out, b.out)) << what;
          EXPECT_TRUE(all_equal(a.grad_x, b.grad_x)) << what;
          EXPECT_TRUE(all_close(a.grad_l, b.grad_l, 1e-4, 1e-5)) << what;
          EXPECT_TRUE(all_close(a.grad_u, b.grad_u, 1e-4, 1e-5)) << what;
        }
      }
    }
  }
}

TEST_F(IntervalQuantKernelTest, HandlesNonContiguousEmptyAndFourDimensionalInputs) {
  const auto base = torch::randn({64, 3, 5, 5});
  const auto x = base.permute({0, 2, 3, 1});  // non-contiguous view
  const auto g = torch::randn({64, 5, 5, 3});
  const auto a = run(true, "ewgs", QuantTarget::kActivation, 2, 0.1, x, g);
  const auto b = run(false, "ewgs", QuantTarget::kActivation, 2, 0.1, x, g);
  EXPECT_TRUE(all_equal(a.out, b.out));
  EXPECT_TRUE(all_equal(a.grad_x, b.grad_x));
  EXPECT_EQ(a.out.sizes(), x.sizes());
  const auto empty =
      run(true, "ste", QuantTarget::kWeight, 1, 0, torch::zeros({0}), torch::zeros({0}));
  EXPECT_EQ(empty.out.numel(), 0);
  EXPECT_EQ(empty.grad_l.item<float>(), 0.0f);
}

/// The fused forward's errors on `device`: NaN or Inf input, an interval that is not
/// l < u, each naming the quantizer.
void expect_forward_errors_name_the_quantizer(const torch::Device& device) {
  const auto l = torch::zeros({}, device);
  const auto u = torch::ones({}, device);
  EWGS_EXPECT_THROWS_WITH(
      kernels::interval_quant_forward(
          torch::tensor({0.5f, NAN}).to(device), l, u, 3, false, "ewgs activation quantizer"),
      "ewgs activation quantizer: input has non-finite values");
  EWGS_EXPECT_THROWS_WITH(
      kernels::interval_quant_forward(torch::tensor({-INFINITY}).to(device), l, u, 3, false, "q"),
      "non-finite");
  EWGS_EXPECT_THROWS_WITH(
      kernels::interval_quant_forward(
          torch::ones({2}, device), u, l, 3, true, "ste weight quantizer"),
      "ste weight quantizer: the interval needs l < u, got l=1 u=0");
  EWGS_EXPECT_THROWS_WITH(
      kernels::interval_quant_forward(
          torch::ones({2}, device), l, torch::full({}, NAN, device), 3, true, "q"),
      "q: the interval needs l < u, got l=0 u=nan");
  EWGS_EXPECT_THROWS_WITH(
      kernels::interval_quant_forward(
          torch::ones({2}, torch::TensorOptions(device).dtype(torch::kDouble)), l, u, 3, true, "q"),
      "must be float32");
}

TEST_F(IntervalQuantKernelTest, ReportsNonFiniteInputAndEmptyIntervalNamingTheQuantizer) {
  expect_forward_errors_name_the_quantizer(torch::kCPU);
}

TEST_F(IntervalQuantKernelTest, CudaReportsNonFiniteInputAndEmptyIntervalNamingTheQuantizer_CUDA) {
  expect_forward_errors_name_the_quantizer(torch::kCUDA);
}

TEST_F(IntervalQuantKernelTest, DoubleInputsUseTheCompositePath) {
  const auto x = torch::randn({100}, torch::kDouble);
  const auto g = torch::randn({100}, torch::kDouble);
  const auto a = run(true, "ewgs", QuantTarget::kWeight, 3, 0.2, x, g);
  const auto b = run(false, "ewgs", QuantTarget::kWeight, 3, 0.2, x, g);
  EXPECT_TRUE(all_equal(a.out, b.out));
  EXPECT_EQ(a.out.scalar_type(), torch::kDouble);
}

TEST(DeferredQuantizerCheckTest, ChecksAreTakenOnceInFilingOrder) {
  kernels::take_deferred_quantizer_checks();
  kernels::defer_quantizer_check(torch::zeros({1}, torch::kInt), "conv1 weight quantizer");
  kernels::defer_quantizer_check(torch::ones({1}, torch::kInt), "conv2 act quantizer");
  const auto checks = kernels::take_deferred_quantizer_checks();
  ASSERT_EQ(checks.size(), 2U);
  EXPECT_EQ(checks[0].what, "conv1 weight quantizer");
  EXPECT_EQ(checks[1].what, "conv2 act quantizer");
  EXPECT_EQ(checks[1].flag.item<int>(), 1);
  EXPECT_TRUE(kernels::take_deferred_quantizer_checks().empty());
}

TEST(DeferredQuantizerCheckTest, EachFlagBitNamesItsError) {
  EXPECT_EQ(kernels::quantizer_check_failure(0, "q"), "");
  EXPECT_EQ(
      kernels::quantizer_check_failure(kernels::kInputNotFinite, "conv2 act quantizer"),
      "conv2 act quantizer: input has non-finite values (NaN or Inf)");
  EXPECT_EQ(
      kernels::quantizer_check_failure(kernels::kIntervalNotOrdered, "q"),
      "q: the interval needs l < u");
  EXPECT_EQ(
      kernels::quantizer_check_failure(
          kernels::kInputNotFinite | kernels::kIntervalNotOrdered, "q"),
      "q: the interval needs l < u");
}

TEST_F(IntervalQuantKernelTest, CudaMatchesCpu_CUDA) {
  for (int64_t bits : {1, 2, 4, 8}) {
    for (auto target : {QuantTarget::kWeight, QuantTarget::kActivation}) {
      const auto x = torch::randn({100003}) * 1.5;
      const auto g = torch::randn({100003});
      const auto cpu = run(true, "ewgs", target, bits, 0.05, x, g);
      quant::set_fused_kernels(true);
      auto q = std::make_shared<quant::IntervalQuantizerImpl>(
          quant::IntervalQuantizerOptions("ewgs", target, bits).delta(0.05));
      {
        torch::NoGradGuard no_grad;
        q->lower.fill_(target == QuantTarget::kWeight ? -0.7 : 0.05);
        q->upper.fill_(target == QuantTarget::kWeight ? 0.6 : 1.9);
      }
      q->to(torch::kCUDA);
      auto xc = x.to(torch::kCUDA).requires_grad_(true);
      const auto out = q->forward(xc);
      out.backward(g.to(torch::kCUDA));
      // Rounding ties may flip under a different division; allow a handful.
      EXPECT_LE((out.cpu() != cpu.out).sum().item<int64_t>(), 4);
      EXPECT_TRUE(all_close(xc.grad().cpu(), cpu.grad_x, 1e-5, 1e-6));
      EXPECT_TRUE(all_close(q->lower.grad().cpu(), cpu.grad_l, 1e-3, 1e-3));
      EXPECT_TRUE(all_close(q->upper.grad().cpu(), cpu.grad_u, 1e-3, 1e-3));
    }
  }
}

}  // namespace
}  // namespace ewgs::test
