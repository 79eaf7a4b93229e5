// Reference convolutions (kernels.h): every output element summed tap by tap in
// plain loops. They define what the fast kernels must reproduce bit for bit.
#include <cmath>
#include <utility>

#include "../kernels.h"

namespace ewgs::infer::ref {
namespace {

/// Calls visit(tap index k, input offset) for the taps of output (n, y, x) in
/// group g that fall inside the image; k runs over (ky, kx, channel) in order.
template <typename Visit>
void for_each_tap(
    const ConvGeometry& g, int64_t n, int64_t y, int64_t x, int64_t group, Visit&& visit) {
  const int64_t group_c = g.in_c / g.groups;
  for (int64_t ky = 0; ky < g.kernel_h; ++ky) {
    const int64_t iy = y * g.stride_h - g.pad_h + ky;
    for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
      const int64_t ix = x * g.stride_w - g.pad_w + kx;
      if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) {
        continue;
      }
      const int64_t base = ((n * g.in_h + iy) * g.in_w + ix) * g.in_c + group * group_c;
      for (int64_t c = 0; c < group_c; ++c) {
        visit((ky * g.kernel_w + kx) * group_c + c, base + c);
      }
    }
  }
}

class ReferenceQConv final : public QConvKernel {
 public:
  ReferenceQConv(const ConvOp& conv, const ConvGeometry& geometry)
      : g_(geometry), weights_(integer_weights(conv)) {}

  void run(int64_t batch, const uint8_t* codes, int32_t* acc, int /*threads*/) const override {
    const int64_t per_group = g_.out_c / g_.groups;
    const int64_t window = g_.window();
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t y = 0; y < g_.out_h; ++y) {
        for (int64_t x = 0; x < g_.out_w; ++x) {
          int32_t* out = acc + ((n * g_.out_h + y) * g_.out_w + x) * g_.out_c;
          for (int64_t o = 0; o < g_.out_c; ++o) {
            const int8_t* w = weights_.data() + o * window;
            int64_t sum = 0;
            for_each_tap(g_, n, y, x, o / per_group, [&](int64_t k, int64_t at) {
              sum += int64_t{codes[at]} * w[k];
            });
            out[o] = static_cast<int32_t>(sum);
          }
        }
      }
    }
  }

  std::string name() const override { return "reference"; }

 private:
  ConvGeometry g_;
  std::vector<int8_t> weights_;
};

class ReferenceFloatConv final : public FloatConvKernel {
 public:
  ReferenceFloatConv(const ConvOp& conv, const ConvGeometry& geometry)
      : g_(geometry), bias_(conv.bias) {
    // PyTorch's [out][in/groups][kh][kw] to the window order [out][kh][kw][in/groups].
    const int64_t group_c = g_.in_c / g_.groups;
    weights_.resize(static_cast<size_t>(g_.out_c * g_.window()));
    for (int64_t o = 0; o < g_.out_c; ++o) {
      for (int64_t c = 0; c < group_c; ++c) {
        for (int64_t k = 0; k < g_.kernel_h * g_.kernel_w; ++k) {
          weights_[static_cast<size_t>(o * g_.window() + k * group_c + c)] =
              conv.weights[static_cast<size_t>((o * group_c + c) * g_.kernel_h * g_.kernel_w + k)];
        }
      }
    }
  }

  void run(int64_t batch, const double* x, double* acc, int /*threads*/) const override {
    const int64_t per_group = g_.out_c / g_.groups;
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t y = 0; y < g_.out_h; ++y) {
        for (int64_t xo = 0; xo < g_.out_w; ++xo) {
          double* out = acc + ((n * g_.out_h + y) * g_.out_w + xo) * g_.out_c;
          for (int64_t o = 0; o < g_.out_c; ++o) {
            const float* w = weights_.data() + o * g_.window();
            double sum = 0.0;
            for_each_tap(g_, n, y, xo, o / per_group, [&](int64_t k, int64_t at) {
              sum = std::fma(x[at], double{w[k]}, sum);
            });
            out[o] = bias_.empty() ? sum : sum + double{bias_[static_cast<size_t>(o)]};
          }
        }
      }
    }
  }

  std::string name() const override { return "reference"; }

 private:
  ConvGeometry g_;
  std::vector<float> weights_;
  std::vector<float> bias_;
};

}  // namespace

std::unique_ptr<QConvKernel> make_qconv(const ConvOp& conv, const ConvGeometry& geometry) {
  return std::make_unique<ReferenceQConv>(conv, geometry);
}

std::unique_ptr<FloatConvKernel> make_float_conv(const ConvOp& conv, const ConvGeometry& geometry) {
  return std::make_unique<ReferenceFloatConv>(conv, geometry);
}

}  // namespace ewgs::infer::ref
