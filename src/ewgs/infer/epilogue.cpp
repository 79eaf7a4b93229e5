// Convolution epilogues (epilogue.h): direct double evaluation and its exact integer
// threshold form, derived by searching the same double function over integer sums.
#include "epilogue.h"

#include <algorithm>
#include <cstdlib>

#include "ewgs/infer/error.h"
#include "parallel.h"

namespace ewgs::infer {

PreparedEpilogue::PreparedEpilogue(
    const ConvOp& conv,
    const ConvGeometry& g,
    bool thresholds,
    const ElementwiseKernels& elementwise)
    : e_(conv.epilogue), elementwise_(elementwise), pixels_(g.out_pixels()), channels_(g.out_c) {
  if (!e_.border_scale.empty()) {
    // The integer weights of taps inside the image, summed per output pixel.
    border_.assign(static_cast<size_t>(pixels_ * channels_), 0.0);
    const int64_t group_c = g.in_c / g.groups;
    for (int64_t p = 0; p < pixels_; ++p) {
      const int64_t y = p / g.out_w;
      const int64_t x = p % g.out_w;
      for (int64_t o = 0; o < channels_; ++o) {
        int64_t sum = 0;
        for (int64_t ky = 0; ky < g.kernel_h; ++ky) {
          const int64_t iy = y * g.stride_h - g.pad_h + ky;
          for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
            const int64_t ix = x * g.stride_w - g.pad_w + kx;
            if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) {
              continue;
            }
            for (int64_t c = 0; c < group_c; ++c) {
              sum += conv.weight_int(o, (ky * g.kernel_w + kx) * group_c + c);
            }
          }
        }
        border_[static_cast<size_t>(p * channels_ + o)] =
            e_.border_scale[static_cast<size_t>(o)] * static_cast<double>(sum);
      }
    }
  }
  if (thresholds && conv.quantized() && e_.quantizer && e_.residual < 0 && border_.empty()) {
    prepare_thresholds(conv);
  }
}

double PreparedEpilogue::value(int64_t c, int64_t pixel, double acc, double residual) const {
  double y = acc * e_.scale[static_cast<size_t>(c)];
  y = y + e_.shift[static_cast<size_t>(c)];
  if (!border_.empty()) {
    y = y + border_[static_cast<size_t>(pixel * channels_ + c)];
  }
  if (e_.residual >= 0) {
    y = y + residual;
  }
  return apply_activation(e_.activation, y);
}

void PreparedEpilogue::fuse_quantizer(const ActQuantizer& q) {
  EWGS_INFER_CHECK(
      !e_.quantizer, "epilogue: only an epilogue with float output can take a quantizer");
  e_.quantizer = q;
}

void PreparedEpilogue::prepare_thresholds(const ConvOp& conv) {
  const auto& q = *e_.quantizer;
  // |acc| <= window * max code * max |w|; codes of up to 8 bits.
  int64_t max_weight = 0;
  for (int64_t o = 0; o < conv.out_channels; ++o) {
    for (int64_t k = 0; k < conv.window(); ++k) {
      max_weight = std::max(max_weight, std::abs(conv.weight_int(o, k)));
    }
  }
  const int64_t bound = conv.window() * 255 * max_weight;
  EWGS_INFER_CHECK(
      bound < (int64_t{1} << 30),
      "conv ",
      conv.window(),
      "-tap windows: sums could overflow int32");
  const int64_t levels = q.levels;
  thresholds_.assign(static_cast<size_t>((levels - 1) * channels_), 0);
  sign_.assign(static_cast<size_t>(channels_), 1);
  for (int64_t c = 0; c < channels_; ++c) {
    const auto code = [&](int64_t acc) {
      return q.code(value(c, 0, static_cast<double>(acc), 0.0));
    };
    const bool increasing = code(-bound) <= code(bound);
    const int64_t s = increasing ? 1 : -1;
    sign_[static_cast<size_t>(c)] = static_cast<int32_t>(s);
    for (int64_t k = 1; k < levels; ++k) {
      // Smallest u = s * acc in [-bound, bound + 1] with code(s * u) >= k (bound + 1: none).
      int64_t lo = -bound;
      int64_t hi = bound + 1;
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (code(s * mid) >= k) {
          hi = mid;
        } else {
          lo = mid + 1;
        }
      }
      thresholds_[static_cast<size_t>((k - 1) * channels_ + c)] = static_cast<int32_t>(lo);
    }
  }
}

namespace {

/// Rows per task of the elementwise loops.
constexpr int64_t kChunk = 256;

/// Calls body(begin, end) over chunks of the rows of every image (a chunk never
/// spans two images), spread over `threads`.
template <typename Body>
void for_each_chunk(int64_t batch, int64_t pixels, int threads, Body&& body) {
  const int64_t per_image = (pixels + kChunk - 1) / kChunk;
  parallel_for(batch * per_image, threads, [&](int64_t i) {
    const int64_t first = (i % per_image) * kChunk;
    const int64_t image = i / per_image;
    body(image * pixels + first, image * pixels + std::min(pixels, first + kChunk));
  });
}

}  // namespace

template <typename Acc, typename Rows>
void PreparedEpilogue::apply_direct(
    int64_t batch,
    const Acc* acc,
    const double* residual,
    double* out_floats,
    uint8_t* out_codes,
    int threads,
    Rows rows) const {
  for_each_chunk(batch, pixels_, threads, [&](int64_t begin, int64_t end) {
    EpilogueRow e;
    e.scale = e_.scale.data();
    e.shift = e_.shift.data();
    e.border = border_.empty() ? nullptr : border_.data() + (begin % pixels_) * channels_;
    e.residual = residual ? residual + begin * channels_ : nullptr;
    e.activation = e_.activation;
    e.quantizer = e_.quantizer ? &*e_.quantizer : nullptr;
    const int64_t at = begin * channels_;
    rows(
        acc + at,
        end - begin,
        channels_,
        e,
        out_floats ? out_floats + at : nullptr,
        out_codes ? out_codes + at : nullptr);
  });
}

void PreparedEpilogue::apply(
    int64_t batch,
    const int32_t* acc,
    const double* residual,
    double* out_floats,
    uint8_t* out_codes,
    int threads) const {
  if (!uses_thresholds()) {
    apply_direct(batch, acc, residual, out_floats, out_codes, threads, elementwise_.epilogue_int);
    return;
  }
  const int64_t steps = e_.quantizer->levels - 1;
  for_each_chunk(batch, pixels_, threads, [&](int64_t begin, int64_t end) {
    elementwise_.thresholds(
        acc + begin * channels_,
        end - begin,
        channels_,
        sign_.data(),
        thresholds_.data(),
        steps,
        out_codes + begin * channels_);
  });
}

void PreparedEpilogue::apply(
    int64_t batch,
    const double* acc,
    const double* residual,
    double* out_floats,
    uint8_t* out_codes,
    int threads) const {
  apply_direct(batch, acc, residual, out_floats, out_codes, threads, elementwise_.epilogue_double);
}

}  // namespace ewgs::infer
