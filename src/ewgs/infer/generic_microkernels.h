// The microkernels' loops in plain C++ (microkernels.h). Each kernel path's file
// includes this after choosing its target instructions, so the same loops compile to
// the baseline, AVX2 or AVX-512; hand-written vector loops replace the hot ones.
// Internal linkage: every including file gets its own copy.
#pragma once

#include <cstring>
#include <vector>

#include "microkernels.h"

namespace ewgs::infer {
namespace {

void binary_dot(const uint64_t* rows, int64_t count, int64_t words, const uint64_t* weights, int64_t out_c,
                int32_t* out) {
  for (int64_t r = 0; r < count; ++r) {
    const uint64_t* row = rows + r * words;
    for (int64_t o = 0; o < out_c; ++o) {
      const uint64_t* w = weights + o * words;
      int32_t sum = 0;
      for (int64_t i = 0; i < words; ++i) {
        sum += __builtin_popcountll(row[i] & w[i]);
      }
      out[r * out_c + o] = sum;
    }
  }
}

void binary_row_popcount(const uint64_t* rows, int64_t count, int64_t words, int32_t* out) {
  for (int64_t r = 0; r < count; ++r) {
    int32_t sum = 0;
    for (int64_t i = 0; i < words; ++i) {
      sum += __builtin_popcountll(rows[r * words + i]);
    }
    out[r] = sum;
  }
}

std::vector<int8_t> int8_prepare(const int8_t* weights, int64_t out_c, int64_t window, int64_t k_pad) {
  std::vector<int8_t> out(static_cast<size_t>(out_c * k_pad), 0);
  for (int64_t o = 0; o < out_c; ++o) {
    std::memcpy(out.data() + o * k_pad, weights + o * window, static_cast<size_t>(window));
  }
  return out;
}

void int8_dot(const uint8_t* rows, int64_t count, int64_t k_pad, const int8_t* prepared, int64_t out_c,
              int32_t* acc) {
  for (int64_t r = 0; r < count; ++r) {
    const uint8_t* row = rows + r * k_pad;
    for (int64_t o = 0; o < out_c; ++o) {
      const int8_t* w = prepared + o * k_pad;
      int32_t sum = 0;
      for (int64_t k = 0; k < k_pad; ++k) {
        sum += int32_t{row[k]} * int32_t{w[k]};
      }
      acc[r * out_c + o] = sum;
    }
  }
}

void depthwise_row(const uint8_t* const* tap_rows, int64_t taps, int64_t width, int64_t channels,
                   const int16_t* weights, int32_t* acc) {
  for (int64_t x = 0; x < width; ++x) {
    int32_t* out = acc + x * channels;
    for (int64_t c = 0; c < channels; ++c) {
      out[c] = 0;
    }
    for (int64_t t = 0; t < taps; ++t) {
      const uint8_t* in = tap_rows[x * taps + t];
      const int16_t* w = weights + t * channels;
      for (int64_t c = 0; c < channels; ++c) {
        out[c] += int32_t{in[c]} * int32_t{w[c]};
      }
    }
  }
}

void float_dot(const double* rows, int64_t count, int64_t window, const double* weights, int64_t out_c,
               double* acc) {
  for (int64_t r = 0; r < count; ++r) {
    double* out = acc + r * out_c;
    for (int64_t o = 0; o < out_c; ++o) {
      out[o] = 0.0;
    }
    for (int64_t k = 0; k < window; ++k) {
      const double x = rows[r * window + k];
      const double* w = weights + k * out_c;
      for (int64_t o = 0; o < out_c; ++o) {
        const double product = x * w[o];
        out[o] = out[o] + product;
      }
    }
  }
}

} // namespace
} // namespace ewgs::infer
