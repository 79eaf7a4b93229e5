// Per-sample transforms on uint8 images (include/ewgs/data/transforms.h): every step
// is folded into one map from output pixel to source pixel(s) per axis, so a sample
// is read once and written once.
#include "ewgs/data/transforms.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "ewgs/core/strings.h"

namespace ewgs::data {
namespace {

/// How one axis of the output maps to the source image.
struct Axis {
  int64_t src_lo = 0;  // source window (RandomResizedCrop box, or the whole image)
  int64_t src_len = 0;
  int64_t resized = 0;   // window length after resizing
  int64_t base = 0;      // output index 0 in resized coordinates (before flip)
  int64_t valid_lo = 0;  // resized coordinates that hold pixels; the rest is zero
  int64_t valid_hi = 0;
  int64_t out = 0;  // output length
  bool flip = false;
};

/// torchvision's int(round(x)): round half to even.
int64_t round_half_even(double x) {
  return static_cast<int64_t>(std::nearbyint(x));
}

/// Offset of a centred window of `window` in a frame of `frame` (negative: padding).
int64_t center_offset(int64_t frame, int64_t window) {
  if (frame >= window) {
    return round_half_even(static_cast<double>(frame - window) / 2.0);
  }
  return -((window - frame) / 2);
}

/// Source indices (times `stride`; -1 for zero fill) and weights of one axis.
struct AxisPlan {
  std::vector<int64_t> i0;
  std::vector<int64_t> i1;
  std::vector<float> w;
  bool interpolate = false;
};

void plan_axis(const Axis& a, int64_t stride, AxisPlan& plan) {
  plan.i0.resize(static_cast<size_t>(a.out));
  plan.i1.resize(static_cast<size_t>(a.out));
  plan.w.resize(static_cast<size_t>(a.out));
  plan.interpolate = a.resized != a.src_len;
  const double scale = static_cast<double>(a.src_len) / static_cast<double>(a.resized);
  for (int64_t o = 0; o < a.out; ++o) {
    const int64_t r = a.base + (a.flip ? a.out - 1 - o : o);
    const auto k = static_cast<size_t>(o);
    if (r < a.valid_lo || r >= a.valid_hi) {
      plan.i0[k] = -1;
      plan.i1[k] = -1;
      plan.w[k] = 0.0f;
    } else if (!plan.interpolate) {
      plan.i0[k] = (a.src_lo + r) * stride;
      plan.i1[k] = plan.i0[k];
      plan.w[k] = 0.0f;
    } else {
      double f = (static_cast<double>(r) + 0.5) * scale - 0.5;
      f = std::clamp(f, 0.0, static_cast<double>(a.src_len - 1));
      const auto lo = static_cast<int64_t>(f);
      const int64_t hi = std::min(lo + 1, a.src_len - 1);
      plan.i0[k] = (a.src_lo + lo) * stride;
      plan.i1[k] = (a.src_lo + hi) * stride;
      plan.w[k] = static_cast<float>(f - static_cast<double>(lo));
    }
  }
}

}  // namespace

Transform::Transform(TransformOptions options) : options_(std::move(options)) {
  const TransformOptions& o = options_;
  TORCH_CHECK(
      o.random_resized_crop >= 0 && o.resize >= 0 && o.center_crop >= 0 && o.crop >= 0 &&
          o.crop_padding >= 0,
      "TransformOptions: sizes must be >= 0, got random_resized_crop=",
      o.random_resized_crop,
      " resize=",
      o.resize,
      " center_crop=",
      o.center_crop,
      " crop=",
      o.crop,
      " crop_padding=",
      o.crop_padding);
  TORCH_CHECK(
      o.random_resized_crop == 0 || o.resize == 0,
      "TransformOptions: random_resized_crop (",
      o.random_resized_crop,
      ") and resize (",
      o.resize,
      ") exclude each other");
  TORCH_CHECK(
      o.scale_min > 0 && o.scale_min <= o.scale_max,
      "TransformOptions: need 0 < scale_min <= scale_max, got scale_min=",
      o.scale_min,
      " scale_max=",
      o.scale_max);
  TORCH_CHECK(
      o.ratio_min > 0 && o.ratio_min <= o.ratio_max,
      "TransformOptions: need 0 < ratio_min <= ratio_max, got ratio_min=",
      o.ratio_min,
      " ratio_max=",
      o.ratio_max);
  TORCH_CHECK(
      o.mean.size() == o.std.size(),
      "TransformOptions: mean has ",
      o.mean.size(),
      " values but std has ",
      o.std.size());
  for (const double s : o.std) {
    TORCH_CHECK(s > 0, "TransformOptions: std values must be > 0, got ", s);
  }
  lut_channels_ = std::max<int64_t>(1, static_cast<int64_t>(o.mean.size()));
  lut_.resize(static_cast<size_t>(lut_channels_ * 256));
  for (int64_t c = 0; c < lut_channels_; ++c) {
    const double mean = o.mean.empty() ? 0.0 : o.mean[static_cast<size_t>(c)];
    const double std = o.std.empty() ? 1.0 : o.std[static_cast<size_t>(c)];
    for (int v = 0; v < 256; ++v) {
      lut_[static_cast<size_t>(c * 256 + v)] = static_cast<float>((v / 255.0 - mean) / std);
    }
  }
}

std::pair<int64_t, int64_t> Transform::output_size(int64_t height, int64_t width) const {
  const Sizes z = sizes(height, width);
  return {z.out_h, z.out_w};
}

Transform::Sizes Transform::sizes(int64_t height, int64_t width) const {
  const TransformOptions& o = options_;
  TORCH_CHECK(height > 0 && width > 0, "transform: empty image ", height, "x", width);
  Sizes z;
  z.resized_h = height;
  z.resized_w = width;
  if (o.random_resized_crop > 0) {
    z.resized_h = z.resized_w = o.random_resized_crop;
  } else if (o.resize > 0) {
    // torchvision: the shorter side becomes `resize`, the longer one scales, truncated.
    const int64_t short_side = std::min(height, width);
    const int64_t long_side = std::max(height, width);
    const auto new_long = static_cast<int64_t>(
        static_cast<double>(o.resize * long_side) / static_cast<double>(short_side));
    z.resized_h = height <= width ? o.resize : new_long;
    z.resized_w = height <= width ? new_long : o.resize;
  }
  z.frame_h = o.center_crop > 0 ? o.center_crop : z.resized_h;
  z.frame_w = o.center_crop > 0 ? o.center_crop : z.resized_w;
  z.out_h = z.frame_h;
  z.out_w = z.frame_w;
  if (random_crop()) {
    z.out_h = o.crop > 0 ? o.crop : z.frame_h;
    z.out_w = o.crop > 0 ? o.crop : z.frame_w;
    TORCH_CHECK(
        z.out_h <= z.frame_h + 2 * o.crop_padding && z.out_w <= z.frame_w + 2 * o.crop_padding,
        "transform: crop ",
        z.out_h,
        "x",
        z.out_w,
        " is larger than the ",
        z.frame_h,
        "x",
        z.frame_w,
        " image padded by ",
        o.crop_padding);
  }
  return z;
}

bool Transform::fixed_output_size() const {
  return options_.random_resized_crop > 0 || options_.center_crop > 0 || options_.crop > 0;
}

void Transform::check_channels(int64_t channels) const {
  TORCH_CHECK(
      lut_channels_ == 1 || lut_channels_ == channels,
      "transform: mean/std have ",
      lut_channels_,
      " values but the images have ",
      channels,
      " channels");
}

Placement Transform::centered(int64_t height, int64_t width) const {
  Placement p;
  p.box_h = height;
  p.box_w = width;
  if (random_crop()) {
    const Sizes z = sizes(height, width);
    p.crop_y = (z.frame_h + 2 * options_.crop_padding - z.out_h) / 2;
    p.crop_x = (z.frame_w + 2 * options_.crop_padding - z.out_w) / 2;
  }
  return p;
}

Placement Transform::draw(int64_t height, int64_t width, CounterRng rng) const {
  const TransformOptions& o = options_;
  Placement p;
  p.box_h = height;
  p.box_w = width;
  if (o.random_resized_crop > 0) {
    const double area = static_cast<double>(height) * static_cast<double>(width);
    const double log_lo = std::log(o.ratio_min);
    const double log_hi = std::log(o.ratio_max);
    bool found = false;
    for (int attempt = 0; attempt < 10 && !found; ++attempt) {
      const double target = area * rng.uniform(o.scale_min, o.scale_max);
      const double aspect = std::exp(rng.uniform(log_lo, log_hi));
      const int64_t w = round_half_even(std::sqrt(target * aspect));
      const int64_t h = round_half_even(std::sqrt(target / aspect));
      if (w > 0 && w <= width && h > 0 && h <= height) {
        p.box_y = rng.below(height - h + 1);
        p.box_x = rng.below(width - w + 1);
        p.box_h = h;
        p.box_w = w;
        found = true;
      }
    }
    if (!found) {
      const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
      if (in_ratio < o.ratio_min) {
        p.box_w = width;
        p.box_h = round_half_even(static_cast<double>(width) / o.ratio_min);
      } else if (in_ratio > o.ratio_max) {
        p.box_h = height;
        p.box_w = round_half_even(static_cast<double>(height) * o.ratio_max);
      }
      p.box_h = std::clamp<int64_t>(p.box_h, 1, height);
      p.box_w = std::clamp<int64_t>(p.box_w, 1, width);
      p.box_y = (height - p.box_h) / 2;
      p.box_x = (width - p.box_w) / 2;
    }
  }
  if (random_crop()) {
    const Sizes z = sizes(height, width);
    p.crop_y = rng.below(z.frame_h + 2 * o.crop_padding - z.out_h + 1);
    p.crop_x = rng.below(z.frame_w + 2 * o.crop_padding - z.out_w + 1);
  }
  if (o.flip) {
    p.flip = rng.uniform() < 0.5;
  }
  return p;
}

void Transform::apply(const ImageView& image, const Placement& placement, float* out) const {
  const TransformOptions& o = options_;
  check_channels(image.channels);
  const Sizes z = sizes(image.height, image.width);
  Axis ay{0, image.height, z.resized_h};
  Axis ax{0, image.width, z.resized_w};
  if (o.random_resized_crop > 0) {
    TORCH_CHECK(
        placement.box_y >= 0 && placement.box_h > 0 &&
            placement.box_y + placement.box_h <= image.height && placement.box_x >= 0 &&
            placement.box_w > 0 && placement.box_x + placement.box_w <= image.width,
        "transform: crop box (y=",
        placement.box_y,
        ", x=",
        placement.box_x,
        ", h=",
        placement.box_h,
        ", w=",
        placement.box_w,
        ") is outside the ",
        image.height,
        "x",
        image.width,
        " image");
    ay.src_lo = placement.box_y;
    ay.src_len = placement.box_h;
    ax.src_lo = placement.box_x;
    ax.src_len = placement.box_w;
  }
  for (Axis* a : {&ay, &ax}) {
    a->valid_lo = 0;
    a->valid_hi = a->resized;
    a->out = a->resized;
    if (o.center_crop > 0) {
      const int64_t top = center_offset(a->resized, o.center_crop);
      a->base = top;
      a->valid_lo = std::max<int64_t>(0, top);
      a->valid_hi = std::min(a->resized, top + o.center_crop);
      a->out = o.center_crop;
    }
  }
  if (random_crop()) {
    TORCH_CHECK(
        placement.crop_y >= 0 && placement.crop_y <= z.frame_h + 2 * o.crop_padding - z.out_h &&
            placement.crop_x >= 0 && placement.crop_x <= z.frame_w + 2 * o.crop_padding - z.out_w,
        "transform: crop corner (",
        placement.crop_y,
        ", ",
        placement.crop_x,
        ") is outside the ",
        z.frame_h,
        "x",
        z.frame_w,
        " image padded by ",
        o.crop_padding);
    ay.base += placement.crop_y - o.crop_padding;
    ax.base += placement.crop_x - o.crop_padding;
    ay.out = z.out_h;
    ax.out = z.out_w;
  }
  ax.flip = placement.flip;

  thread_local AxisPlan rows;
  thread_local AxisPlan cols;
  plan_axis(ay, image.row_stride, rows);
  plan_axis(ax, image.col_stride, cols);
  const int64_t oh = ay.out;
  const int64_t ow = ax.out;
  const bool interpolate = rows.interpolate || cols.interpolate;
  for (int64_t c = 0; c < image.channels; ++c) {
    const float* lut = lut_.data() + (lut_channels_ == 1 ? 0 : c * 256);
    const float fill = lut[0];
    const uint8_t* src = image.data + c * image.channel_stride;
    for (int64_t y = 0; y < oh; ++y) {
      float* dst = out + (c * oh + y) * ow;
      const int64_t r0 = rows.i0[static_cast<size_t>(y)];
      if (r0 < 0) {
        std::fill(dst, dst + ow, fill);
        continue;
      }
      const uint8_t* row0 = src + r0;
      if (!interpolate) {
        for (int64_t x = 0; x < ow; ++x) {
          const int64_t c0 = cols.i0[static_cast<size_t>(x)];
          dst[x] = c0 < 0 ? fill : lut[row0[c0]];
        }
        continue;
      }
      const uint8_t* row1 = src + rows.i1[static_cast<size_t>(y)];
      const float wy = rows.w[static_cast<size_t>(y)];
      for (int64_t x = 0; x < ow; ++x) {
        const auto k = static_cast<size_t>(x);
        const int64_t c0 = cols.i0[k];
        if (c0 < 0) {
          dst[x] = fill;
          continue;
        }
        const int64_t c1 = cols.i1[k];
        const float wx = cols.w[k];
        const float top = row0[c0] + wx * static_cast<float>(row0[c1] - row0[c0]);
        const float bottom = row1[c0] + wx * static_cast<float>(row1[c1] - row1[c0]);
        const float v = top + wy * (bottom - top);
        dst[x] = lut[std::clamp(static_cast<int>(v + 0.5f), 0, 255)];
      }
    }
  }
}

at::Tensor normalize_images(
    const at::Tensor& images, const std::vector<double>& mean, const std::vector<double>& std) {
  TORCH_CHECK(
      images.scalar_type() == at::kByte && images.dim() == 4,
      "normalize_images: images must be uint8 (N,C,H,W), got ",
      images.scalar_type(),
      " ",
      images.sizes());
  TORCH_CHECK(
      mean.size() == std.size(),
      "normalize_images: mean has ",
      mean.size(),
      " values but std has ",
      std.size());
  const int64_t channels = images.size(1);
  TORCH_CHECK(
      mean.size() <= 1 || static_cast<int64_t>(mean.size()) == channels,
      "normalize_images: mean/std have ",
      mean.size(),
      " values but the images have ",
      channels,
      " channels");
  at::Tensor out = images.to(at::kFloat).div_(255.0);
  if (mean.empty()) {
    return out;
  }
  const auto shape = std::vector<int64_t>{1, static_cast<int64_t>(mean.size()), 1, 1};
  const auto as_tensor = [&](const std::vector<double>& values) {
    return at::tensor(values, at::TensorOptions().dtype(at::kDouble))
        .to(images.device(), at::kFloat)
        .view(shape);
  };
  return out.sub_(as_tensor(mean)).div_(as_tensor(std));
}

}  // namespace ewgs::data
