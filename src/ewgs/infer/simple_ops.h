// The engine's operations other than convolutions and quantizers: pooling, flatten,
// per-channel affine, residual add and the zero-pad shortcut, on NHWC buffers. Their
// results do not depend on the instruction set (maxima, and sums in a fixed order).
#pragma once

#include <cstdint>

#include "ewgs/infer/model.h"

namespace ewgs::infer::ops {

/// Window maxima, positions outside the input ignored (PyTorch's -inf padding).
void max_pool(
    const double* in,
    double* out,
    int64_t batch,
    const TensorInfo& i,
    const TensorInfo& o,
    int64_t kernel,
    int64_t stride,
    int64_t padding);
void max_pool(
    const uint8_t* in,
    uint8_t* out,
    int64_t batch,
    const TensorInfo& i,
    const TensorInfo& o,
    int64_t kernel,
    int64_t stride,
    int64_t padding);

/// PyTorch's adaptive windows: [floor(j in / out), ceil((j + 1) in / out)).
void adaptive_max_pool(
    const double* in, double* out, int64_t batch, const TensorInfo& i, const TensorInfo& o);
void adaptive_max_pool(
    const uint8_t* in, uint8_t* out, int64_t batch, const TensorInfo& i, const TensorInfo& o);

/// out[n][c] = (sum over pixels in order) / pixels.
void global_avg_pool(const double* in, double* out, int64_t batch, const TensorInfo& i);

/// (H, W, C) to channel-major (C H W).
void flatten(const double* in, double* out, int64_t batch, const TensorInfo& i);

/// out = activation(x * scale[c] + shift[c]), each operation rounded in turn.
void affine(
    const double* in,
    double* out,
    int64_t rows,
    int64_t channels,
    const double* scale,
    const double* shift,
    Activation activation);

/// out = activation(a + b).
void add(const double* a, const double* b, double* out, int64_t n, Activation activation);

/// out[y][x][pad + c] = in[2y][2x][c], zeros elsewhere.
void zero_pad_shortcut(
    const double* in,
    double* out,
    int64_t batch,
    const TensorInfo& i,
    const TensorInfo& o,
    int64_t pad);

}  // namespace ewgs::infer::ops
