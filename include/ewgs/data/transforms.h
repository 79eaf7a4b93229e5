// Per-sample augmentation and normalization on uint8 images with plain loops (no
// per-sample tensor ops): random crop with zero padding, horizontal flip,
// RandomResizedCrop, Resize + CenterCrop, mean/std normalization. Each data set's
// presets are in the data-set table (dataset_kinds.h).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ewgs/data/dataset.h"
#include "ewgs/data/sample_rng.h"

namespace ewgs::data {

/// A transform pipeline, applied in this order (each step optional):
///   1. random_resized_crop: a random box (area fraction in [scale_min, scale_max],
///      aspect ratio w/h log-uniform in [ratio_min, ratio_max], torchvision's
///      10-try algorithm) resized to random_resized_crop^2; or
///      resize: scale so the shorter side is `resize` (the longer one truncated
///      like torchvision);
///   2. center_crop: the central center_crop^2 window (zero fill if larger);
///   3. random crop: pad by crop_padding zeros on every side, then take a
///      random `crop`^2 window (crop 0: the current size), when crop_padding > 0
///      or crop > 0;
///   4. flip: mirror left-right with probability 1/2;
///   5. to float: (v / 255 - mean[c]) / std[c] (mean empty: v / 255).
/// Resizing is bilinear (half-pixel centers, no antialiasing) rounded to uint8,
/// as on an 8-bit image; zero padding is the pixel value 0 before normalization.
struct TransformOptions {
  int64_t random_resized_crop = 0;
  double scale_min = 0.08;
  double scale_max = 1.0;
  double ratio_min = 3.0 / 4.0;
  double ratio_max = 4.0 / 3.0;
  int64_t resize = 0;
  int64_t center_crop = 0;
  int64_t crop = 0;
  int64_t crop_padding = 0;
  bool flip = false;
  /// One value per channel, or one for all; empty: no normalization.
  std::vector<double> mean;
  std::vector<double> std;
};

/// The random choices for one sample, in source / frame pixels.
struct Placement {
  /// RandomResizedCrop box in the source image (the whole image when unused).
  int64_t box_y = 0;
  int64_t box_x = 0;
  int64_t box_h = 0;
  int64_t box_w = 0;
  /// Top-left corner of the random crop in the zero-padded frame, in
  /// [0, frame + 2 * crop_padding - crop]; crop_padding means "no shift".
  int64_t crop_y = 0;
  int64_t crop_x = 0;
  bool flip = false;
};

/// A validated TransformOptions, ready to apply to many samples from many threads.
///
/// Example:
///   Transform t(train_transform("cifar10"));
///   auto [h, w] = t.output_size(32, 32);  // (32, 32)
///   t.apply(sample.image, t.draw(32, 32, CounterRng::for_sample(seed, epoch, i)), out);
class Transform {
 public:
  explicit Transform(TransformOptions options);

  const TransformOptions& options() const { return options_; }

  /// Output (height, width) for an input of `height` x `width`.
  std::pair<int64_t, int64_t> output_size(int64_t height, int64_t width) const;
  /// Whether output_size does not depend on the input size.
  bool fixed_output_size() const;
  /// Errors unless mean/std have 1 or `channels` entries.
  void check_channels(int64_t channels) const;

  /// Draws the random choices for an input of `height` x `width`, always in the
  /// same order (box, crop, flip), so a sample's result depends only on the RNG key.
  Placement draw(int64_t height, int64_t width, CounterRng rng) const;
  /// The choices without randomness: whole-image box, centred crop, no flip.
  Placement centered(int64_t height, int64_t width) const;

  /// The normalized value of every pixel value: entry c * 256 + v for channel
  /// c (one block of 256 when one mean/std serves all channels).
  const std::vector<float>& normalization_table() const { return lut_; }

  /// Writes the transformed `image` as float (C, H', W') contiguous to `out`.
  void apply(const ImageView& image, const Placement& placement, float* out) const;

 private:
  /// Image sizes after step 1 (resized), step 2 (frame) and step 3 (out).
  struct Sizes {
    int64_t resized_h = 0;
    int64_t resized_w = 0;
    int64_t frame_h = 0;
    int64_t frame_w = 0;
    int64_t out_h = 0;
    int64_t out_w = 0;
  };
  Sizes sizes(int64_t height, int64_t width) const;
  bool random_crop() const { return options_.crop > 0 || options_.crop_padding > 0; }

  TransformOptions options_;
  /// lut_[c * 256 + v]: the normalized value of pixel value v in channel c.
  std::vector<float> lut_;
  int64_t lut_channels_ = 1;
};

/// uint8 images (N,C,H,W) as float (v / 255 - mean) / std, on the images' device:
/// for pipelines that keep a whole small data set on the GPU.
at::Tensor normalize_images(
    const at::Tensor& images, const std::vector<double>& mean, const std::vector<double>& std);

}  // namespace ewgs::data
