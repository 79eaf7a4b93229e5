// The fast convolutions (kernels.h): binary and int8 kernels that read row windows
// and padded rows in place, depthwise and float kernels; the microkernels come per path.
#include <algorithm>
#include <cstring>

#include "ewgs/infer/error.h"
#include "kernels.h"
#include "microkernels.h"
#include "parallel.h"

namespace ewgs::infer {
namespace {

/// Bits [bit, bit + 64) of a little-endian bit string (8 readable bytes past it).
inline uint64_t load_bits(const uint8_t* bits, int64_t bit) {
  uint64_t lo = 0;
  std::memcpy(&lo, bits + bit / 8, 8);
  const int shift = static_cast<int>(bit % 8);
  if (shift == 0) {
    return lo;
  }
  return (lo >> shift) | (uint64_t{bits[bit / 8 + 8]} << (64 - shift));
}

/// Calls body(n, y) for every output row of every image, spread over `threads`.
template <typename Body>
void for_each_row(int64_t batch, int64_t out_h, int threads, Body&& body) {
  parallel_for(batch * out_h, threads, [&](int64_t r) { body(r / out_h, r % out_h); });
}

/// W1A1: acc = gain * popcount(a AND c) - zero * popcount(a). Each input row's
/// codes become a zero-padded bit string, in which every window row (kernel_w
/// taps of in_c channels) is a run of kernel_w * in_c bits; the microkernel reads
/// those runs in place when they start on bytes, else from words cut out first.
class BinaryConv final : public QConvKernel {
 public:
  BinaryConv(const ConvOp& conv, const ConvGeometry& g, KernelPath path)
      : g_(g),
        kernels_(path_kernels(path)),
        path_(path),
        gain_(static_cast<int32_t>(conv.weight_gain)),
        zero_(static_cast<int32_t>(conv.weight_zero)),
        run_bits_(g.kernel_w * g.in_c),
        wpr_((run_bits_ + 63) / 64),
        out_c_pad_((g.out_c + 7) / 8 * 8),
        row_bytes_(((g.in_w + 2 * g.pad_w) * g.in_c + 7) / 8 + 16) {
    weights_.assign(static_cast<size_t>(g.kernel_h * wpr_ * out_c_pad_), 0);
    for (int64_t o = 0; o < g.out_c; ++o) {
      for (int64_t k = 0; k < g.window(); ++k) {
        if (conv.codes[static_cast<size_t>(o * g.window() + k)] & 1) {
          const int64_t ky = k / run_bits_;
          const int64_t bit = k % run_bits_;
          weights_[static_cast<size_t>((ky * wpr_ + bit / 64) * out_c_pad_ + o)] |= uint64_t{1}
                                                                                    << (bit % 64);
        }
      }
    }
  }

  void run(int64_t batch, const uint8_t* codes, int32_t* acc, int threads) const override {
    const int64_t rows = batch * g_.in_h;
    bits_.assign(static_cast<size_t>(rows * row_bytes_), 0);
    const bool direct = g_.in_c % 8 == 0;
    // Windows start on bytes when channels fill whole bytes: read them in place.
    // Otherwise cut them out into words first.
    const int64_t step_bytes = direct ? g_.stride_w * g_.in_c / 8 : wpr_ * 8;
    const int64_t window_bytes = direct ? row_bytes_ : g_.out_w * wpr_ * 8 + 8;
    if (!direct) {
      windows_.assign(static_cast<size_t>(rows * window_bytes), 0);
    }
    zeros_.assign(static_cast<size_t>(window_bytes), 0);
    const uint64_t last_mask =
        run_bits_ % 64 == 0 ? ~uint64_t{0} : (uint64_t{1} << (run_bits_ % 64)) - 1;
    parallel_for(rows, threads, [&](int64_t r) {
      uint8_t* bits = bits_.data() + r * row_bytes_;
      kernels_.pack_bits(
          codes + r * g_.in_w * g_.in_c, g_.in_w * g_.in_c, g_.pad_w * g_.in_c, bits);
      if (!direct) {
        uint8_t* out = windows_.data() + r * window_bytes;
        for (int64_t x = 0; x < g_.out_w; ++x) {
          for (int64_t w = 0; w < wpr_; ++w) {
            const uint64_t word = load_bits(bits, x * g_.stride_w * g_.in_c + 64 * w);
            std::memcpy(out + (x * wpr_ + w) * 8, &word, 8);
          }
        }
      }
    });
    const uint8_t* source = direct ? bits_.data() : windows_.data();
    for_each_row(batch, g_.out_h, threads, [&](int64_t n, int64_t y) {
      const uint8_t* window_rows[kMaxKernel];
      for (int64_t ky = 0; ky < g_.kernel_h; ++ky) {
        const int64_t iy = y * g_.stride_h - g_.pad_h + ky;
        window_rows[ky] =
            iy < 0 || iy >= g_.in_h ? zeros_.data() : source + (n * g_.in_h + iy) * window_bytes;
      }
      const BinaryWindows in{window_rows, g_.kernel_h, wpr_, step_bytes, last_mask};
      kernels_.binary.row(
          in,
          g_.out_w,
          weights_.data(),
          g_.out_c,
          out_c_pad_,
          gain_,
          zero_,
          acc + (n * g_.out_h + y) * g_.out_w * g_.out_c);
    });
  }

  std::string name() const override { return std::string("binary-") + to_string(path_); }

 private:
  ConvGeometry g_;
  PathKernels kernels_;
  KernelPath path_;
  int32_t gain_;
  int32_t zero_;
  int64_t run_bits_;
  int64_t wpr_;
  int64_t out_c_pad_;
  int64_t row_bytes_;
  std::vector<uint64_t> weights_;
  /// Scratch reused across runs (an engine runs one batch at a time).
  mutable std::vector<uint8_t> bits_;
  mutable std::vector<uint8_t> windows_;
  mutable std::vector<uint8_t> zeros_;
};

/// 1-8-bit codes times 1-4-bit weights: int8 dot products straight from a
/// zero-padded copy of the input, whose rows hold each window's kernel_w taps
/// contiguously.
class Int8Conv final : public QConvKernel {
 public:
  Int8Conv(const ConvOp& conv, const ConvGeometry& g, KernelPath path)
      : g_(g),
        micro_(path_kernels(path).int8),
        name_(std::string("int8-") + path_kernels(path).int8_name),
        seg_len_((g.kernel_w * g.in_c + 3) / 4 * 4),
        padded_w_(g.in_w + 2 * g.pad_w),
        padded_h_(g.in_h + 2 * g.pad_h) {
    const auto w = integer_weights(conv);
    const int64_t real = g.kernel_w * g.in_c;
    std::vector<int8_t> segmented(static_cast<size_t>(g.out_c * g.kernel_h * seg_len_), 0);
    for (int64_t o = 0; o < g.out_c; ++o) {
      for (int64_t ky = 0; ky < g.kernel_h; ++ky) {
        std::memcpy(
            segmented.data() + (o * g.kernel_h + ky) * seg_len_,
            w.data() + (o * g.kernel_h + ky) * real,
            static_cast<size_t>(real));
      }
    }
    prepared_ = micro_.prepare(segmented.data(), g.out_c, g.kernel_h, seg_len_);
  }

  void run(int64_t batch, const uint8_t* codes, int32_t* acc, int threads) const override {
    const int64_t row_bytes = padded_w_ * g_.in_c;
    // Segments may read up to 3 bytes past the last pixel (times zero weights).
    auto& padded = padded_;
    padded.assign(static_cast<size_t>(batch * padded_h_ * row_bytes + 4), 0);
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t y = 0; y < g_.in_h; ++y) {
        std::memcpy(
            padded.data() + ((n * padded_h_ + y + g_.pad_h) * padded_w_ + g_.pad_w) * g_.in_c,
            codes + (n * g_.in_h + y) * g_.in_w * g_.in_c,
            static_cast<size_t>(g_.in_w * g_.in_c));
      }
    }
    for_each_row(batch, g_.out_h, threads, [&](int64_t n, int64_t y) {
      const uint8_t* segs[kMaxKernel];
      for (int64_t ky = 0; ky < g_.kernel_h; ++ky) {
        segs[ky] = padded.data() + (n * padded_h_ + y * g_.stride_h + ky) * row_bytes;
      }
      micro_.row(
          segs,
          g_.kernel_h,
          seg_len_,
          g_.stride_w * g_.in_c,
          g_.out_w,
          prepared_.data(),
          g_.out_c,
          acc + (n * g_.out_h + y) * g_.out_w * g_.out_c);
    });
  }

  std::string name() const override { return name_; }

 private:
  ConvGeometry g_;
  Int8Microkernel micro_;
  std::string name_;
  int64_t seg_len_;
  int64_t padded_w_;
  int64_t padded_h_;
  std::vector<int8_t> prepared_;
  /// Scratch reused across runs (an engine runs one batch at a time).
  mutable std::vector<uint8_t> padded_;
};

/// groups == channels: each output channel sums its own channel's taps.
class DepthwiseConv final : public QConvKernel {
 public:
  DepthwiseConv(const ConvOp& conv, const ConvGeometry& g, KernelPath path)
      : g_(g),
        micro_(path_kernels(path).depthwise),
        path_(path),
        zeros_(static_cast<size_t>(g.in_c), 0) {
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
    for_each_row(batch, g_.out_h, threads, [&](int64_t n, int64_t y) {
      const int64_t r = n * g_.out_h + y;
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
      micro_.row(
          tap_rows.data(), taps, g_.out_w, g_.in_c, weights_.data(), acc + r * g_.out_w * g_.out_c);
    });
  }

  std::string name() const override { return std::string("depthwise-") + to_string(path_); }

 private:
  ConvGeometry g_;
  DepthwiseMicrokernel micro_;
  KernelPath path_;
  std::vector<int16_t> weights_;
  std::vector<uint8_t> zeros_;
};

/// Full-precision layers in double, read in place from a zero-padded copy of the
/// input like the int8 kernel: each window is kernel_h runs of kernel_w * in_c values.
class FastFloatConv final : public FloatConvKernel {
 public:
  FastFloatConv(const ConvOp& conv, const ConvGeometry& g, KernelPath path)
      : g_(g),
        micro_(path_kernels(path).real),
        path_(path),
        bias_(conv.bias),
        padded_w_(g.in_w + 2 * g.pad_w),
        padded_h_(g.in_h + 2 * g.pad_h) {
    // PyTorch's [out][in][kh][kw] to [(ky, kx, c)][out].
    const int64_t taps = g.kernel_h * g.kernel_w;
    weights_.resize(static_cast<size_t>(g.window() * g.out_c));
    for (int64_t o = 0; o < g.out_c; ++o) {
      for (int64_t c = 0; c < g.in_c; ++c) {
        for (int64_t t = 0; t < taps; ++t) {
          weights_[static_cast<size_t>((t * g.in_c + c) * g.out_c + o)] =
              conv.weights[static_cast<size_t>((o * g.in_c + c) * taps + t)];
        }
      }
    }
  }

  void run(int64_t batch, const double* x, double* acc, int threads) const override {
    const int64_t row_values = padded_w_ * g_.in_c;
    padded_.assign(static_cast<size_t>(batch * padded_h_ * row_values), 0.0);
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t y = 0; y < g_.in_h; ++y) {
        std::memcpy(
            padded_.data() + ((n * padded_h_ + y + g_.pad_h) * padded_w_ + g_.pad_w) * g_.in_c,
            x + (n * g_.in_h + y) * g_.in_w * g_.in_c,
            static_cast<size_t>(g_.in_w * g_.in_c) * sizeof(double));
      }
    }
    for_each_row(batch, g_.out_h, threads, [&](int64_t n, int64_t y) {
      const double* segs[kMaxKernel];
      for (int64_t ky = 0; ky < g_.kernel_h; ++ky) {
        segs[ky] = padded_.data() + (n * padded_h_ + y * g_.stride_h + ky) * row_values;
      }
      double* out = acc + (n * g_.out_h + y) * g_.out_w * g_.out_c;
      micro_.row(
          segs,
          g_.kernel_h,
          g_.kernel_w * g_.in_c,
          g_.stride_w * g_.in_c,
          g_.out_w,
          weights_.data(),
          g_.out_c,
          out);
      if (!bias_.empty()) {
        for (int64_t i = 0; i < g_.out_w; ++i) {
          for (int64_t o = 0; o < g_.out_c; ++o) {
            out[i * g_.out_c + o] = out[i * g_.out_c + o] + double{bias_[static_cast<size_t>(o)]};
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
  int64_t padded_w_;
  int64_t padded_h_;
  /// Scratch reused across runs (an engine runs one batch at a time).
  mutable std::vector<double> padded_;
};

}  // namespace

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
    EWGS_INFER_CHECK(
        w >= -127 && w <= 127, "conv weights: integer weight ", w, " does not fit in int8");
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
    return std::make_unique<Int8Conv>(conv, geometry, path);
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

const PathKernels& path_kernels(KernelPath path) {
#if EWGS_INFER_X86
  switch (path) {
    case KernelPath::kAvx512:
      return cpu_has_avx512_vnni() ? avx512::kKernelsVnni : avx512::kKernels;
    case KernelPath::kAvx2:
      return avx2::kKernels;
    default:
      break;
  }
#endif
  return portable::kKernels;
}

}  // namespace ewgs::infer
