// The fast convolutions (kernels.h): im2col into blocks of rows, then a path's
// microkernel (microkernels.h); blocks are shared among threads with OpenMP.
#include <algorithm>
#include <cstring>

#include "ewgs/infer/error.h"
#include "im2col.h"
#include "kernels.h"
#include "microkernels.h"

namespace ewgs::infer {
namespace {

/// Output pixels per block: a block's windows stay in L1/L2 while every output
/// channel's weights stream past them.
constexpr int64_t kBlockRows = 64;

/// Calls body(n, begin, end) for every block of output pixels of every image,
/// spread over `threads` threads.
template <typename Body>
void for_each_block(int64_t batch, int64_t pixels, int threads, Body&& body) {
  const int64_t blocks_per_image = (pixels + kBlockRows - 1) / kBlockRows;
  const int64_t blocks = batch * blocks_per_image;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t n = b / blocks_per_image;
    const int64_t begin = (b % blocks_per_image) * kBlockRows;
    body(n, begin, std::min(pixels, begin + kBlockRows));
  }
}

/// W1A1: acc = gain * popcount(a AND c) - zero * popcount(a) over bit-packed windows.
class BinaryConv final : public QConvKernel {
 public:
  BinaryConv(const ConvOp& conv, const ConvGeometry& g, KernelPath path)
      : g_(g),
        micro_(binary_microkernel(path)),
        path_(path),
        gain_(static_cast<int32_t>(conv.weight_gain)),
        zero_(static_cast<int32_t>(conv.weight_zero)) {
    const int64_t tap_bytes = packed_pixel_bytes(g.in_c);
    words_ = (g.kernel_h * g.kernel_w * tap_bytes + 7) / 8;
    weights_.assign(static_cast<size_t>(g.out_c * words_), 0);
    // Weight bits in the windows' layout: tap (ky, kx), then channel bits.
    for (int64_t o = 0; o < g.out_c; ++o) {
      auto* row = reinterpret_cast<uint8_t*>(weights_.data() + o * words_);
      for (int64_t k = 0; k < g.window(); ++k) {
        const int64_t tap = k / g.in_c;
        const int64_t c = k % g.in_c;
        const uint8_t bit = conv.codes[static_cast<size_t>(o * g.window() + k)] & 1;
        row[tap * tap_bytes + c / 8] |= static_cast<uint8_t>(bit << (c % 8));
      }
    }
  }

  void run(int64_t batch, const uint8_t* codes, int32_t* acc, int threads) const override {
    const int64_t in_pixels = batch * g_.in_h * g_.in_w;
    std::vector<uint8_t> packed(static_cast<size_t>(in_pixels * packed_pixel_bytes(g_.in_c)));
    pack_pixel_bits(codes, in_pixels, g_.in_c, packed.data());
    for_each_block(batch, g_.out_pixels(), threads, [&](int64_t n, int64_t begin, int64_t end) {
      const int64_t count = end - begin;
      std::vector<uint64_t> rows(static_cast<size_t>(count * words_));
      std::vector<int32_t> row_bits(static_cast<size_t>(count));
      im2col_bits(g_, packed.data(), n, begin, end, words_, rows.data());
      int32_t* out = acc + (n * g_.out_pixels() + begin) * g_.out_c;
      micro_.dot(rows.data(), count, words_, weights_.data(), g_.out_c, out);
      micro_.row_popcount(rows.data(), count, words_, row_bits.data());
      for (int64_t r = 0; r < count; ++r) {
        for (int64_t o = 0; o < g_.out_c; ++o) {
          out[r * g_.out_c + o] = gain_ * out[r * g_.out_c + o] - zero_ * row_bits[static_cast<size_t>(r)];
        }
      }
    });
  }

  std::string name() const override { return std::string("binary-") + to_string(path_); }

 private:
  ConvGeometry g_;
  BinaryMicrokernel micro_;
  KernelPath path_;
  int32_t gain_;
  int32_t zero_;
  int64_t words_ = 0;
  std::vector<uint64_t> weights_;
};

/// 1-8-bit codes times 1-4-bit weights: int8 dot products over byte windows.
class Int8Conv final : public QConvKernel {
 public:
  Int8Conv(const ConvOp& conv, const ConvGeometry& g, const Int8Microkernel& micro, std::string name)
      : g_(g), micro_(micro), name_(std::move(name)) {
    k_pad_ = (g.window() + micro.k_align - 1) / micro.k_align * micro.k_align;
    const auto w = integer_weights(conv);
    prepared_ = micro.prepare(w.data(), g.out_c, g.window(), k_pad_);
  }

  void run(int64_t batch, const uint8_t* codes, int32_t* acc, int threads) const override {
    for_each_block(batch, g_.out_pixels(), threads, [&](int64_t n, int64_t begin, int64_t end) {
      std::vector<uint8_t> rows(static_cast<size_t>((end - begin) * k_pad_));
      im2col(g_, codes, n, begin, end, k_pad_, rows.data());
      micro_.dot(rows.data(), end - begin, k_pad_, prepared_.data(), g_.out_c,
                 acc + (n * g_.out_pixels() + begin) * g_.out_c);
    });
  }

  std::string name() const override { return name_; }

 private:
  ConvGeometry g_;
  Int8Microkernel micro_;
  std::string name_;
  int64_t k_pad_ = 0;
  std::vector<int8_t> prepared_;
};

/// groups == channels: each output channel sums its own channel's taps.
class DepthwiseConv final : public QConvKernel {
 public:
  DepthwiseConv(const ConvOp& conv, const ConvGeometry& g, KernelPath path)
      : g_(g), micro_(depthwise_microkernel(path)), path_(path), zeros_(static_cast<size_t>(g.in_c), 0) {
    const int64_t taps = g.kernel_h * g.kernel_w;
    const auto w = integer_weights(conv);
    weights_.resize(static_cast<size_t>(taps * g.out_c));
    for (int64_t c = 0; c < g.out_c; ++c) {
      for (int64_t t = 0; t < taps; ++t) {
        weights_[static_cast<size_t>(t * g.out_c + c)] = w[static_cast<size_t>(c * taps + t)];
      }
    }
  }

  void run(int64_t batch, const uint8_t* codes, int32_t* acc, int threads) const override {
    const int64_t taps = g_.kernel_h * g_.kernel_w;
    const int64_t rows = batch * g_.out_h;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && rows > 1)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t n = r / g_.out_h;
      const int64_t y = r % g_.out_h;
      std::vector<const uint8_t*> tap_rows(static_cast<size_t>(g_.out_w * taps));
      for (int64_t x = 0; x < g_.out_w; ++x) {
        for (int64_t ky = 0; ky < g_.kernel_h; ++ky) {
          const int64_t iy = y * g_.stride_h - g_.pad_h + ky;
          for (int64_t kx = 0; kx < g_.kernel_w; ++kx) {
            const int64_t ix = x * g_.stride_w - g_.pad_w + kx;
            const bool inside = iy >= 0 && iy < g_.in_h && ix >= 0 && ix < g_.in_w;
            tap_rows[static_cast<size_t>(x * taps + ky * g_.kernel_w + kx)] =
                inside ? codes + ((n * g_.in_h + iy) * g_.in_w + ix) * g_.in_c : zeros_.data();
          }
        }
      }
      micro_.row(tap_rows.data(), taps, g_.out_w, g_.in_c, weights_.data(), acc + r * g_.out_w * g_.out_c);
    }
  }

  std::string name() const override { return std::string("depthwise-") + to_string(path_); }

 private:
  ConvGeometry g_;
  DepthwiseMicrokernel micro_;
  KernelPath path_;
  std::vector<int16_t> weights_;
  std::vector<uint8_t> zeros_;
};

/// Full-precision layers in double: im2col rows times [window][out] weights.
class FastFloatConv final : public FloatConvKernel {
 public:
  FastFloatConv(const ConvOp& conv, const ConvGeometry& g, KernelPath path)
      : g_(g), micro_(float_microkernel(path)), path_(path), bias_(conv.bias) {
    const int64_t group_c = g.in_c;
    const int64_t taps = g.kernel_h * g.kernel_w;
    weights_.resize(static_cast<size_t>(g.window() * g.out_c));
    for (int64_t o = 0; o < g.out_c; ++o) {
      for (int64_t c = 0; c < group_c; ++c) {
        for (int64_t t = 0; t < taps; ++t) {
          weights_[static_cast<size_t>((t * group_c + c) * g.out_c + o)] =
              conv.weights[static_cast<size_t>((o * group_c + c) * taps + t)];
        }
      }
    }
  }

  void run(int64_t batch, const double* x, double* acc, int threads) const override {
    for_each_block(batch, g_.out_pixels(), threads, [&](int64_t n, int64_t begin, int64_t end) {
      std::vector<double> rows(static_cast<size_t>((end - begin) * g_.window()));
      im2col(g_, x, n, begin, end, g_.window(), rows.data());
      double* out = acc + (n * g_.out_pixels() + begin) * g_.out_c;
      micro_.dot(rows.data(), end - begin, g_.window(), weights_.data(), g_.out_c, out);
      if (!bias_.empty()) {
        for (int64_t r = 0; r < end - begin; ++r) {
          for (int64_t o = 0; o < g_.out_c; ++o) {
            out[r * g_.out_c + o] = out[r * g_.out_c + o] + double{bias_[static_cast<size_t>(o)]};
          }
        }
      }
    });
  }

  std::string name() const override { return std::string("float-") + to_string(path_); }

 private:
  ConvGeometry g_;
  FloatMicrokernel micro_;
  KernelPath path_;
  std::vector<double> weights_;
  std::vector<float> bias_;
};

} // namespace

ConvGeometry ConvGeometry::of(const ConvOp& conv, const TensorInfo& in, const TensorInfo& out) {
  ConvGeometry g;
  g.in_h = in.height;
  g.in_w = in.width;
  g.in_c = in.channels;
  g.out_h = out.height;
  g.out_w = out.width;
  g.out_c = out.channels;
  g.kernel_h = conv.kernel_h;
  g.kernel_w = conv.kernel_w;
  g.stride_h = conv.stride_h;
  g.stride_w = conv.stride_w;
  g.pad_h = conv.pad_h;
  g.pad_w = conv.pad_w;
  g.groups = conv.groups;
  return g;
}

std::vector<int8_t> integer_weights(const ConvOp& conv) {
  std::vector<int8_t> out(conv.codes.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t w = conv.weight_gain * conv.codes[i] - conv.weight_zero;
    EWGS_INFER_CHECK(w >= -127 && w <= 127, "conv weights: integer weight ", w, " does not fit in int8");
    out[i] = static_cast<int8_t>(w);
  }
  return out;
}

std::unique_ptr<QConvKernel> make_qconv_kernel(
    const ConvOp& conv, const ConvGeometry& geometry, int act_bits, KernelPath path) {
  if (path == KernelPath::kReference) {
    return ref::make_qconv(conv, geometry);
  }
  if (geometry.groups == 1 && act_bits == 1 && conv.weight_bits == 1) {
    return std::make_unique<BinaryConv>(conv, geometry, path);
  }
  if (geometry.groups == 1) {
    const auto& micro = int8_microkernel(path);
    const bool vnni = path == KernelPath::kAvx512 && cpu_has_avx512_vnni();
    return std::make_unique<Int8Conv>(conv, geometry, micro,
                                      std::string("int8-") + (vnni ? "vnni" : to_string(path)));
  }
  if (geometry.groups == geometry.in_c && geometry.groups == geometry.out_c) {
    return std::make_unique<DepthwiseConv>(conv, geometry, path);
  }
  return ref::make_qconv(conv, geometry);
}

std::unique_ptr<FloatConvKernel> make_float_conv_kernel(
    const ConvOp& conv, const ConvGeometry& geometry, KernelPath path) {
  if (path == KernelPath::kReference || geometry.groups != 1) {
    return ref::make_float_conv(conv, geometry);
  }
  return std::make_unique<FastFloatConv>(conv, geometry, path);
}

const BinaryMicrokernel& binary_microkernel(KernelPath path) {
#if EWGS_INFER_X86
  switch (path) {
    case KernelPath::kAvx512:
      return avx512::kBinary;
    case KernelPath::kAvx2:
      return avx2::kBinary;
    default:
      break;
  }
#endif
  return portable::kBinary;
}

const Int8Microkernel& int8_microkernel(KernelPath path) {
#if EWGS_INFER_X86
  switch (path) {
    case KernelPath::kAvx512:
      return cpu_has_avx512_vnni() ? avx512::kInt8Vnni : avx512::kInt8;
    case KernelPath::kAvx2:
      return avx2::kInt8;
    default:
      break;
  }
#endif
  return portable::kInt8;
}

const DepthwiseMicrokernel& depthwise_microkernel(KernelPath path) {
#if EWGS_INFER_X86
  switch (path) {
    case KernelPath::kAvx512:
      return avx512::kDepthwise;
    case KernelPath::kAvx2:
      return avx2::kDepthwise;
    default:
      break;
  }
#endif
  return portable::kDepthwise;
}

const FloatMicrokernel& float_microkernel(KernelPath path) {
#if EWGS_INFER_X86
  switch (path) {
    case KernelPath::kAvx512:
      return avx512::kFloat;
    case KernelPath::kAvx2:
      return avx2::kFloat;
    default:
      break;
  }
#endif
  return portable::kFloat;
}

} // namespace ewgs::infer
