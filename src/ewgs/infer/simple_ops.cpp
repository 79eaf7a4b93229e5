// Pooling and the other simple operations (simple_ops.h): plain loops over channels,
// compiled for AVX-512, AVX2 and the baseline and picked at load time.
#include "simple_ops.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace ewgs::infer::ops {
namespace {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define EWGS_INFER_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define EWGS_INFER_CLONES
#endif
// Helpers are inlined into each clone, so they compile for its instructions too.
#define EWGS_INFER_INLINE inline __attribute__((always_inline))

template <typename T>
EWGS_INFER_INLINE void max_into(T* dst, const T* src, int64_t channels) {
  for (int64_t c = 0; c < channels; ++c) {
    dst[c] = std::max(dst[c], src[c]);
  }
}

template <typename T>
EWGS_INFER_INLINE void max_pool_impl(
    const T* in,
    T* out,
    int64_t batch,
    const TensorInfo& i,
    const TensorInfo& o,
    int64_t kernel,
    int64_t stride,
    int64_t padding) {
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t y = 0; y < o.height; ++y) {
      for (int64_t x = 0; x < o.width; ++x) {
        T* dst = out + ((n * o.height + y) * o.width + x) * o.channels;
        std::fill(dst, dst + o.channels, std::numeric_limits<T>::lowest());
        for (int64_t iy = std::max<int64_t>(0, y * stride - padding);
             iy < std::min<int64_t>(i.height, y * stride - padding + kernel);
             ++iy) {
          for (int64_t ix = std::max<int64_t>(0, x * stride - padding);
               ix < std::min<int64_t>(i.width, x * stride - padding + kernel);
               ++ix) {
            max_into(dst, in + ((n * i.height + iy) * i.width + ix) * i.channels, o.channels);
          }
        }
      }
    }
  }
}

template <typename T>
void adaptive_max_pool_impl(
    const T* in, T* out, int64_t batch, const TensorInfo& i, const TensorInfo& o) {
  const auto start = [](int64_t j, int64_t in_size, int64_t out_size) {
    return j * in_size / out_size;
  };
  const auto end = [](int64_t j, int64_t in_size, int64_t out_size) {
    return ((j + 1) * in_size + out_size - 1) / out_size;
  };
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t y = 0; y < o.height; ++y) {
      for (int64_t x = 0; x < o.width; ++x) {
        T* dst = out + ((n * o.height + y) * o.width + x) * o.channels;
        std::fill(dst, dst + o.channels, std::numeric_limits<T>::lowest());
        for (int64_t iy = start(y, i.height, o.height); iy < end(y, i.height, o.height); ++iy) {
          for (int64_t ix = start(x, i.width, o.width); ix < end(x, i.width, o.width); ++ix) {
            max_into(dst, in + ((n * i.height + iy) * i.width + ix) * i.channels, o.channels);
          }
        }
      }
    }
  }
}

}  // namespace

EWGS_INFER_CLONES void max_pool(
    const double* in,
    double* out,
    int64_t batch,
    const TensorInfo& i,
    const TensorInfo& o,
    int64_t kernel,
    int64_t stride,
    int64_t padding) {
  max_pool_impl(in, out, batch, i, o, kernel, stride, padding);
}

EWGS_INFER_CLONES void max_pool(
    const uint8_t* in,
    uint8_t* out,
    int64_t batch,
    const TensorInfo& i,
    const TensorInfo& o,
    int64_t kernel,
    int64_t stride,
    int64_t padding) {
  max_pool_impl(in, out, batch, i, o, kernel, stride, padding);
}

void adaptive_max_pool(
    const double* in, double* out, int64_t batch, const TensorInfo& i, const TensorInfo& o) {
  adaptive_max_pool_impl(in, out, batch, i, o);
}

void adaptive_max_pool(
    const uint8_t* in, uint8_t* out, int64_t batch, const TensorInfo& i, const TensorInfo& o) {
  adaptive_max_pool_impl(in, out, batch, i, o);
}

EWGS_INFER_CLONES void global_avg_pool(
    const double* in, double* out, int64_t batch, const TensorInfo& i) {
  const int64_t hw = i.height * i.width;
  const int64_t c = i.channels;
  for (int64_t n = 0; n < batch; ++n) {
    double* sum = out + n * c;
    std::fill(sum, sum + c, 0.0);
    for (int64_t p = 0; p < hw; ++p) {
      const double* x = in + (n * hw + p) * c;
      for (int64_t ch = 0; ch < c; ++ch) {
        sum[ch] = sum[ch] + x[ch];
      }
    }
    for (int64_t ch = 0; ch < c; ++ch) {
      sum[ch] = sum[ch] / static_cast<double>(hw);
    }
  }
}

void flatten(const double* in, double* out, int64_t batch, const TensorInfo& i) {
  const int64_t hw = i.height * i.width;
  const int64_t c = i.channels;
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t p = 0; p < hw; ++p) {
      for (int64_t ch = 0; ch < c; ++ch) {
        out[n * hw * c + ch * hw + p] = in[(n * hw + p) * c + ch];
      }
    }
  }
}

EWGS_INFER_CLONES void affine(
    const double* in,
    double* out,
    int64_t rows,
    int64_t channels,
    const double* scale,
    const double* shift,
    Activation activation) {
  for (int64_t r = 0; r < rows; ++r) {
    const double* x = in + r * channels;
    double* y = out + r * channels;
    for (int64_t c = 0; c < channels; ++c) {
      const double v = x[c] * scale[c];
      y[c] = apply_activation(activation, v + shift[c]);
    }
  }
}

EWGS_INFER_CLONES void add(
    const double* a, const double* b, double* out, int64_t n, Activation activation) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = apply_activation(activation, a[i] + b[i]);
  }
}

void zero_pad_shortcut(
    const double* in,
    double* out,
    int64_t batch,
    const TensorInfo& i,
    const TensorInfo& o,
    int64_t pad) {
  std::fill(out, out + batch * o.elements(), 0.0);
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t y = 0; y < o.height; ++y) {
      for (int64_t x = 0; x < o.width; ++x) {
        const double* src = in + ((n * i.height + 2 * y) * i.width + 2 * x) * i.channels;
        std::memcpy(
            out + ((n * o.height + y) * o.width + x) * o.channels + pad,
            src,
            static_cast<size_t>(i.channels) * sizeof(double));
      }
    }
  }
}

}  // namespace ewgs::infer::ops
