// Integer thresholds of an epilogue give the same codes as evaluating it in double,
// for every integer sum in range, over scales of both signs, every activation, both
// roundings and threshold quantizers.
#include <gtest/gtest.h>

#include <random>

#include "../../src/ewgs/infer/epilogue.h"
#include "../../src/ewgs/infer/microkernels.h"

namespace ewgs::infer {
namespace {

/// A 1x1 conv of `window` input channels, 3 output channels, 1x1 image.
ConvOp conv_with(
    const ActQuantizer& q, Activation act, std::vector<double> scale, std::vector<double> shift) {
  ConvOp conv;
  conv.in_channels = 6;
  conv.out_channels = 3;
  conv.weight_bits = 2;
  conv.weight_gain = 2;
  conv.weight_zero = 3;
  conv.codes.assign(static_cast<size_t>(conv.out_channels * conv.window()), 3);  // w = 3
  conv.epilogue.scale = std::move(scale);
  conv.epilogue.shift = std::move(shift);
  conv.epilogue.activation = act;
  conv.epilogue.quantizer = q;
  return conv;
}

ConvGeometry unit_geometry(const ConvOp& conv) {
  ConvGeometry g;
  g.in_c = conv.in_channels;
  g.out_c = conv.out_channels;
  return g;
}

void expect_thresholds_match(const ConvOp& conv, const char* what) {
  const auto g = unit_geometry(conv);
  const auto& elementwise = path_kernels(KernelPath::kPortable).elementwise;
  const PreparedEpilogue fast(conv, g, /*thresholds=*/true, elementwise);
  const PreparedEpilogue direct(conv, g, /*thresholds=*/false, elementwise);
  ASSERT_TRUE(fast.uses_thresholds()) << what;
  ASSERT_FALSE(direct.uses_thresholds()) << what;
  // |acc| <= 6 * 255 * 3; every integer sum for every channel.
  const int32_t bound = 6 * 255 * 3;
  std::vector<int32_t> acc;
  for (int32_t a = -bound; a <= bound; ++a) {
    for (int c = 0; c < 3; ++c) {
      acc.push_back(a);
    }
  }
  const int64_t rows = static_cast<int64_t>(acc.size()) / 3;
  std::vector<uint8_t> got(acc.size()), expected(acc.size());
  fast.apply(rows, acc.data(), nullptr, nullptr, got.data(), 1);
  direct.apply(rows, acc.data(), nullptr, nullptr, expected.data(), 1);
  for (size_t i = 0; i < acc.size(); ++i) {
    ASSERT_EQ(int{got[i]}, int{expected[i]}) << what << ": sum " << acc[i] << " channel " << i % 3;
  }
}

TEST(InferEpilogueTest, ThresholdsGiveTheDirectCodesForEverySum) {
  ActQuantizer q;
  q.bits = 2;
  q.levels = 4;
  q.scale = 0.37;
  q.shift = 1.1;
  // Positive, negative and zero scales; shifts that put ties on integers.
  const std::vector<double> scale = {0.0123, -0.0071, 0.0};
  const std::vector<double> shift = {-0.4, 2.25, 0.3};
  for (const auto act :
       {Activation::kNone, Activation::kRelu, Activation::kRelu6, Activation::kHardTanh}) {
    for (const auto rounding : {Rounding::kHalfEven, Rounding::kHalfDown}) {
      q.rounding = rounding;
      expect_thresholds_match(conv_with(q, act, scale, shift), to_string(act));
    }
  }
  // Sums landing exactly on a rounding tie: t = acc * 0.5 + 0.0 with steps of 1.
  q.scale = 1.0;
  q.shift = 0.0;
  q.levels = 16;
  q.bits = 4;
  expect_thresholds_match(
      conv_with(q, Activation::kNone, {0.5, -0.5, 0.25}, {0.0, 8.0, 0.125}), "ties");
}

TEST(InferEpilogueTest, ThresholdQuantizersAgreeWithDirectEvaluation) {
  ActQuantizer q;
  q.kind = ActQuantizer::Kind::kThresholds;
  q.bits = 2;
  q.levels = 3;
  q.thresholds = {-0.5, 0.5};
  q.inclusive = {true, false};
  expect_thresholds_match(
      conv_with(q, Activation::kHardTanh, {0.01, -0.002, 0.5}, {0.0, -0.1, 0.0}), "ternary");
  q.bits = 1;
  q.levels = 2;
  q.thresholds = {0.0};
  q.inclusive = {true};
  expect_thresholds_match(
      conv_with(q, Activation::kNone, {0.01, -0.01, 1.0}, {0.0, 0.5, -3.0}), "sign");
}

TEST(InferEpilogueTest, DirectEvaluationFollowsTheDocumentedFormula) {
  ActQuantizer q;
  q.bits = 2;
  q.levels = 4;
  q.scale = 2.0;
  q.shift = 0.25;
  auto conv = conv_with(q, Activation::kRelu, {0.5, -0.5, 1.0}, {0.25, 0.0, -1.0});
  const PreparedEpilogue e(
      conv, unit_geometry(conv), false, path_kernels(KernelPath::kPortable).elementwise);
  // Channel 0, acc 1: y = relu(0.5 + 0.25) = 0.75; t = 1.5 + 0.25 = 1.75 -> code 2.
  EXPECT_DOUBLE_EQ(e.value(0, 0, 1.0, 0.0), 0.75);
  EXPECT_EQ(q.code(0.75), 2);
  // Half-even: t = 2.5 -> 2; half-down: 2.5 -> 2 too, 1.5 -> 2 vs 1.
  EXPECT_EQ(q.code(1.125), 2);
  q.rounding = Rounding::kHalfDown;
  EXPECT_EQ(q.code(0.625), 1);  // t = 1.5
  q.rounding = Rounding::kHalfEven;
  EXPECT_EQ(q.code(0.625), 2);
  // Clamped to [0, levels - 1].
  EXPECT_EQ(q.code(-10.0), 0);
  EXPECT_EQ(q.code(10.0), 3);
}

/// The spec of one epilogue element (model.h): each operation rounded in turn.
double spec_value(const EpilogueRow& e, int64_t c, double acc) {
  double y = acc * e.scale[c];
  y = y + e.shift[c];
  if (e.border) {
    y = y + e.border[c];
  }
  if (e.residual) {
    y = y + e.residual[c];
  }
  return apply_activation(e.activation, y);
}

TEST(InferEpilogueTest, VectorLoopsOfEveryPathFollowTheSpecElementByElement) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> sums(-3000, 3000);
  std::uniform_real_distribution<double> real(-2.0, 2.0);
  // 37: vector loops with tails (or their generic fallback); 16: whole vectors only.
  for (const int64_t channels : {int64_t{37}, int64_t{16}}) {
    std::vector<double> scale(channels), shift(channels), border(channels), residual(channels);
    std::vector<int32_t> acc(channels);
    std::vector<double> acc_double(channels);
    for (const auto path : available_kernel_paths()) {
      const auto& k = path_kernels(path).elementwise;
      for (int trial = 0; trial < 400; ++trial) {
        for (int64_t c = 0; c < channels; ++c) {
          scale[c] = trial % 3 == 0 ? 0.5 : real(rng) * 0.01;  // 0.5: sums land on rounding ties
          shift[c] = trial % 3 == 0 ? 0.0 : real(rng);
          border[c] = trial % 3 == 0 ? 0.5 * (sums(rng) % 3) : real(rng);  // halves keep the ties
          residual[c] = trial % 3 == 0 ? 0.5 * (sums(rng) % 3) : real(rng);
          acc[c] = trial % 3 == 0 ? sums(rng) % 5 : sums(rng);  // small sums: many exact ties
          acc_double[c] = real(rng) * 100.0;
        }
        ActQuantizer q;
        q.bits = trial % 5 == 1 ? 1 : 3;  // 1 bit: the vector paths' comparison form
        q.levels = trial % 5 == 1 ? 2 : 8;
        q.scale = trial % 3 == 0 ? 1.0 : 1.7;
        q.shift = trial % 3 == 0 ? 0.0 : 2.1;
        q.rounding = trial % 2 == 0 ? Rounding::kHalfEven : Rounding::kHalfDown;
        if (trial % 7 == 0) {
          q.bits = 3;
          q.levels = 8;
          q.kind = ActQuantizer::Kind::kThresholds;
          q.thresholds = {-1.0, -0.5, 0.0, 0.0, 0.25, 0.5, 1.0};
          q.inclusive = {true, false, true, false, true, true, false};
        }
        EpilogueRow e;
        e.scale = scale.data();
        e.shift = shift.data();
        e.border = trial % 2 == 0 ? border.data() : nullptr;
        e.residual = trial % 4 < 2 ? residual.data() : nullptr;
        e.activation = static_cast<Activation>(trial % 4);
        std::vector<double> out(channels);
        std::vector<uint8_t> codes(channels);
        k.epilogue_int(acc.data(), 1, channels, e, out.data(), codes.data());
        for (int64_t c = 0; c < channels; ++c) {
          ASSERT_EQ(out[c], spec_value(e, c, acc[c])) << to_string(path) << " trial " << trial;
        }
        k.epilogue_double(acc_double.data(), 1, channels, e, out.data(), codes.data());
        for (int64_t c = 0; c < channels; ++c) {
          ASSERT_EQ(out[c], spec_value(e, c, acc_double[c]))
              << to_string(path) << " trial " << trial;
        }
        e.quantizer = &q;
        k.epilogue_int(acc.data(), 1, channels, e, nullptr, codes.data());
        for (int64_t c = 0; c < channels; ++c) {
          ASSERT_EQ(codes[c], q.code(spec_value(e, c, acc[c])))
              << to_string(path) << " trial " << trial;
        }
        // Floats and their codes at once (a fused quantize operation).
        std::vector<uint8_t> fused(channels);
        k.epilogue_double(acc_double.data(), 1, channels, e, out.data(), fused.data());
        for (int64_t c = 0; c < channels; ++c) {
          ASSERT_EQ(out[c], spec_value(e, c, acc_double[c]))
              << to_string(path) << " trial " << trial;
          ASSERT_EQ(fused[c], q.code(out[c])) << to_string(path) << " trial " << trial;
        }
        k.quantize(out.data(), channels, q, codes.data());
        for (int64_t c = 0; c < channels; ++c) {
          ASSERT_EQ(codes[c], q.code(out[c])) << to_string(path) << " trial " << trial;
        }
      }
    }
  }
}

}  // namespace
}  // namespace ewgs::infer
