// The interface every data set implements: a numbered list of labelled uint8 images
// that loader workers read concurrently, without copies for in-memory sets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ewgs::data {

/// A read-only strided view of one uint8 image with `channels` x `height` x `width`
/// pixels; pixel (c, y, x) is `data[c * channel_stride + y * row_stride + x * col_stride]`.
///
/// In-memory sets hand out CHW views into their tensor; decoded files are HWC
/// (interleaved RGB) in the sample's own buffer. Transforms accept either.
struct ImageView {
  const uint8_t* data = nullptr;
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  int64_t channel_stride = 0;
  int64_t row_stride = 0;
  int64_t col_stride = 0;

  /// A view of planar (C,H,W) contiguous pixels.
  static ImageView chw(const uint8_t* data, int64_t channels, int64_t height, int64_t width);
  /// A view of interleaved (H,W,C) contiguous pixels.
  static ImageView hwc(const uint8_t* data, int64_t channels, int64_t height, int64_t width);

  uint8_t at(int64_t c, int64_t y, int64_t x) const {
    return data[c * channel_stride + y * row_stride + x * col_stride];
  }
};

/// One labelled sample. `image` may point into `buffer` (decoded files) or into
/// the data set's own memory (in-memory sets), so a Sample can be moved but not
/// copied. Reusing one Sample for many reads reuses its buffer.
struct Sample {
  Sample() = default;
  Sample(Sample&&) = default;
  Sample& operator=(Sample&&) = default;
  Sample(const Sample&) = delete;
  Sample& operator=(const Sample&) = delete;

  ImageView image;
  int64_t label = -1;
  /// Pixel storage for sets that decode on demand; untouched by in-memory sets.
  std::vector<uint8_t> buffer;
};

/// A data set of labelled images. Implementations must make `read` safe to call
/// from several threads at once.
class Dataset {
 public:
  virtual ~Dataset() = default;

  /// Number of samples.
  virtual int64_t size() const = 0;
  /// Number of classes; labels lie in [0, num_classes()).
  virtual int64_t num_classes() const = 0;
  /// One name per class, in label order.
  virtual const std::vector<std::string>& class_names() const = 0;
  /// {C, H, W} of every image; H and W are -1 when images may differ in size
  /// (folders read on demand), in which case each sample's view has its own size.
  virtual std::vector<int64_t> image_shape() const = 0;
  /// Short description for logs and errors: "fashion-mnist train (/usr/share/...)".
  virtual std::string name() const = 0;

  /// Fills `out` with sample `index` (0 <= index < size()). Errors (unreadable or
  /// undecodable file) are c10::Error naming the file.
  virtual void read(int64_t index, Sample& out) const = 0;

  /// Where sample `index` comes from, for error messages: a file path, or
  /// "sample 7 of <name()>".
  virtual std::string describe(int64_t index) const;

  /// Sample `index` in a fresh Sample (convenience; loaders reuse one Sample).
  Sample get(int64_t index) const;

  /// Whether every image has the same, known size (no -1 in image_shape()).
  bool fixed_image_size() const;

 protected:
  /// Errors naming this data set unless 0 <= index < size().
  void check_index(int64_t index) const;
};

}  // namespace ewgs::data
