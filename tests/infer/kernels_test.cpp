// Every fast convolution kernel on every kernel path this CPU has, compared bit for
// bit with the reference kernel over odd shapes, strides, padding and thread counts.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "../../src/ewgs/infer/kernels.h"
#include "ewgs/infer/kernel_path.h"

namespace ewgs::infer {
namespace {

struct Case {
  int64_t in_c, out_c, size, kernel, stride, pad, groups;
  int act_bits, weight_bits;
};

std::string describe(const Case& c) {
  return "in_c=" + std::to_string(c.in_c) + " out_c=" + std::to_string(c.out_c) +
         " size=" + std::to_string(c.size) + " k=" + std::to_string(c.kernel) +
         " s=" + std::to_string(c.stride) + " p=" + std::to_string(c.pad) +
         " g=" + std::to_string(c.groups) + " W" + std::to_string(c.weight_bits) + "A" +
         std::to_string(c.act_bits);
}

/// A random quantized conv of shape `c` with the weight grids the exporter writes.
ConvOp random_conv(const Case& c, std::mt19937& rng) {
  ConvOp conv;
  conv.in_channels = c.in_c;
  conv.out_channels = c.out_c;
  conv.kernel_h = conv.kernel_w = c.kernel;
  conv.stride_h = conv.stride_w = c.stride;
  conv.pad_h = conv.pad_w = c.pad;
  conv.groups = c.groups;
  conv.weight_bits = c.weight_bits;
  const int64_t levels = int64_t{1} << c.weight_bits;
  // Interval grid 2 code - (2^b - 1), or LSQ's code - 2^(b-1) for odd cases.
  conv.weight_gain = (c.in_c % 2 == 0 || c.weight_bits == 1) ? 2 : 1;
  conv.weight_zero = conv.weight_gain == 2 ? levels - 1 : levels / 2;
  std::uniform_int_distribution<int> code(0, static_cast<int>(levels - 1));
  conv.codes.resize(static_cast<size_t>(c.out_c * conv.window()));
  for (auto& v : conv.codes) {
    v = static_cast<uint8_t>(code(rng));
  }
  std::uniform_real_distribution<float> w(-1.0f, 1.0f);
  conv.weights.resize(conv.codes.size());
  for (auto& v : conv.weights) {
    v = w(rng);
  }
  conv.bias.resize(static_cast<size_t>(c.out_c));
  for (auto& v : conv.bias) {
    v = w(rng);
  }
  return conv;
}

ConvGeometry geometry_of(const Case& c) {
  ConvGeometry g;
  g.in_h = g.in_w = c.size;
  g.in_c = c.in_c;
  g.out_h = g.out_w = (c.size + 2 * c.pad - c.kernel) / c.stride + 1;
  g.out_c = c.out_c;
  g.kernel_h = g.kernel_w = c.kernel;
  g.stride_h = g.stride_w = c.stride;
  g.pad_h = g.pad_w = c.pad;
  g.groups = c.groups;
  return g;
}

std::vector<Case> cases() {
  std::vector<Case> out;
  // Odd counts, and the models' multiples of 8 (whose binary windows start on bytes).
  const int64_t channels[] = {1, 3, 16, 63, 64, 65, 130};
  const struct {
    int64_t kernel, stride, pad;
  } windows[] = {{3, 1, 1}, {3, 2, 1}, {1, 1, 0}, {1, 2, 0}, {7, 2, 3}};
  const struct { int w, a; } bits[] = {{1, 1}, {2, 2}, {4, 4}, {1, 2}, {2, 1}, {3, 4}, {4, 8}};
  for (const auto in_c : channels) {
    for (const auto& win : windows) {
      for (const auto& b : bits) {
        const int64_t out_c = in_c == 130 ? 17 : in_c + 2;
        const int64_t size = win.kernel == 7 ? 9 : 7;
        out.push_back({in_c, out_c, size, win.kernel, win.stride, win.pad, 1, b.a, b.w});
      }
      // Depthwise: groups == channels.
      out.push_back({in_c, in_c, 6, win.kernel, win.stride, win.pad, in_c, 4, 4});
      out.push_back({in_c, in_c, 5, win.kernel, win.stride, win.pad, in_c, 1, 2});
    }
  }
  return out;
}

TEST(InferKernelsTest, QuantizedConvolutionsEqualTheReferenceOnEveryPath) {
  std::mt19937 rng(7);
  int checked = 0;
  for (const auto& c : cases()) {
    const auto conv = random_conv(c, rng);
    const auto g = geometry_of(c);
    for (const int64_t batch : {1, 2}) {
      std::uniform_int_distribution<int> code(0, (1 << c.act_bits) - 1);
      std::vector<uint8_t> codes(static_cast<size_t>(batch * g.in_h * g.in_w * g.in_c));
      for (auto& v : codes) {
        v = static_cast<uint8_t>(code(rng));
      }
      const auto sums = static_cast<size_t>(batch * g.out_pixels() * g.out_c);
      std::vector<int32_t> expected(sums, -1);
      ref::make_qconv(conv, g)->run(batch, codes.data(), expected.data(), 1);
      for (const auto path : available_kernel_paths()) {
        const auto kernel = make_qconv_kernel(conv, g, c.act_bits, path);
        for (const int threads : {1, 2}) {
          std::vector<int32_t> got(sums, 12345);
          kernel->run(batch, codes.data(), got.data(), threads);
          ASSERT_EQ(got, expected)
              << describe(c) << " batch=" << batch << " path=" << to_string(path)
              << " kernel=" << kernel->name() << " threads=" << threads;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 1000);
}

TEST(InferKernelsTest, FloatConvolutionsEqualTheReferenceOnEveryPath) {
  std::mt19937 rng(11);
  std::normal_distribution<double> value(0.0, 1.0);
  for (const auto& c : cases()) {
    if (c.act_bits != 1 || c.weight_bits != 1 || c.groups != 1) {
      continue;
    }
    const auto conv = random_conv(c, rng);
    const auto g = geometry_of(c);
    const int64_t batch = 2;
    std::vector<double> x(static_cast<size_t>(batch * g.in_h * g.in_w * g.in_c));
    for (auto& v : x) {
      v = value(rng);
    }
    const auto sums = static_cast<size_t>(batch * g.out_pixels() * g.out_c);
    std::vector<double> expected(sums);
    ref::make_float_conv(conv, g)->run(batch, x.data(), expected.data(), 1);
    for (const auto path : available_kernel_paths()) {
      const auto kernel = make_float_conv_kernel(conv, g, path);
      for (const int threads : {1, 2}) {
        std::vector<double> got(sums, -7.0);
        kernel->run(batch, x.data(), got.data(), threads);
        // Equal doubles, not merely close: the same products summed in the same order.
        ASSERT_EQ(got, expected) << describe(c) << " path=" << to_string(path)
                                 << " threads=" << threads;
      }
    }
  }
}

TEST(InferKernelsTest, ReferenceConvolutionMatchesAHandComputedSum) {
  // 1 input channel 3x3 image, one 3x3 filter, padding 1: the centre output sees
  // every pixel, the corner output only 4.
  ConvOp conv;
  conv.in_channels = conv.out_channels = 1;
  conv.kernel_h = conv.kernel_w = 3;
  conv.pad_h = conv.pad_w = 1;
  conv.weight_bits = 2;
  conv.weight_gain = 2;
  conv.weight_zero = 3;  // w = 2 c - 3 in {-3, -1, 1, 3}
  conv.codes = {0, 1, 2, 3, 0, 1, 2, 3, 0};
  ConvGeometry g;
  g.in_h = g.in_w = g.out_h = g.out_w = 3;
  g.kernel_h = g.kernel_w = 3;
  g.pad_h = g.pad_w = 1;
  const std::vector<uint8_t> codes = {1, 2, 3, 0, 1, 2, 3, 0, 1};
  std::vector<int32_t> acc(9);
  ref::make_qconv(conv, g)->run(1, codes.data(), acc.data(), 1);
  // Centre: sum of codes[i] * (2 w_code[i] - 3).
  int32_t centre = 0;
  for (int i = 0; i < 9; ++i) {
    centre += codes[static_cast<size_t>(i)] * (2 * conv.codes[static_cast<size_t>(i)] - 3);
  }
  EXPECT_EQ(acc[4], centre);
  // Top-left output: taps (1,1),(1,2),(2,1),(2,2) of the filter on pixels 0,1,3,4.
  EXPECT_EQ(acc[0], 1 * (2 * 0 - 3) + 2 * (2 * 1 - 3) + 0 * (2 * 3 - 3) + 1 * (2 * 0 - 3));
}

}  // namespace
}  // namespace ewgs::infer
