// Tensor-backed data set and whole-set loading (include/ewgs/data/in_memory_dataset.h).
#include "ewgs/data/in_memory_dataset.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstring>
#include <utility>

#include "parallel.h"

namespace ewgs::data {

InMemoryDataset::InMemoryDataset(
    at::Tensor images, at::Tensor labels, std::vector<std::string> class_names, std::string name)
    : images_(std::move(images)),
      labels_(std::move(labels)),
      class_names_(std::move(class_names)),
      name_(std::move(name)) {
  TORCH_CHECK(images_.defined() && labels_.defined(), name_, ": images and labels must be set");
  TORCH_CHECK(
      images_.scalar_type() == at::kByte && images_.dim() == 4 && images_.device().is_cpu(),
      name_,
      ": images must be a CPU uint8 tensor (N,C,H,W), got ",
      images_.scalar_type(),
      " ",
      images_.sizes(),
      " on ",
      images_.device());
  TORCH_CHECK(
      labels_.scalar_type() == at::kLong && labels_.dim() == 1 && labels_.device().is_cpu(),
      name_,
      ": labels must be a CPU int64 tensor (N), got ",
      labels_.scalar_type(),
      " ",
      labels_.sizes());
  TORCH_CHECK(
      images_.size(0) == labels_.size(0),
      name_,
      ": ",
      images_.size(0),
      " images but ",
      labels_.size(0),
      " labels");
  TORCH_CHECK(!class_names_.empty(), name_, ": class_names must not be empty");
  images_ = images_.contiguous();
  labels_ = labels_.contiguous();
  size_ = images_.size(0);
  channels_ = images_.size(1);
  height_ = images_.size(2);
  width_ = images_.size(3);
  pixels_ = images_.data_ptr<uint8_t>();
  label_data_ = labels_.data_ptr<int64_t>();
  const auto classes = static_cast<int64_t>(class_names_.size());
  for (int64_t i = 0; i < size_; ++i) {
    TORCH_CHECK(
        label_data_[i] >= 0 && label_data_[i] < classes,
        name_,
        ": label ",
        label_data_[i],
        " of sample ",
        i,
        " is out of range [0, ",
        classes,
        ")");
  }
}

void InMemoryDataset::read(int64_t index, Sample& out) const {
  check_index(index);
  const int64_t plane = channels_ * height_ * width_;
  out.image = ImageView::chw(pixels_ + index * plane, channels_, height_, width_);
  out.label = label_data_[index];
}

std::shared_ptr<InMemoryDataset> load_in_memory(const Dataset& dataset, int64_t threads) {
  const int64_t n = dataset.size();
  TORCH_CHECK(n > 0, dataset.name(), ": cannot load an empty data set into memory");
  const Sample first = dataset.get(0);
  const int64_t c = first.image.channels;
  const int64_t h = first.image.height;
  const int64_t w = first.image.width;
  at::Tensor images = at::empty({n, c, h, w}, at::kByte);
  at::Tensor labels = at::empty({n}, at::kLong);
  uint8_t* pixels = images.data_ptr<uint8_t>();
  int64_t* label_data = labels.data_ptr<int64_t>();
  detail::parallel_for(n, threads, 64, [&](int64_t begin, int64_t end) {
    Sample sample;
    for (int64_t i = begin; i < end; ++i) {
      dataset.read(i, sample);
      const ImageView& v = sample.image;
      TORCH_CHECK(
          v.channels == c && v.height == h && v.width == w,
          dataset.describe(i),
          ": image is ",
          v.channels,
          "x",
          v.height,
          "x",
          v.width,
          " but ",
          dataset.describe(0),
          " is ",
          c,
          "x",
          h,
          "x",
          w,
          "; loading into memory needs images of one size");
      uint8_t* dst = pixels + i * c * h * w;
      if (v.channel_stride == h * w && v.row_stride == w && v.col_stride == 1) {
        std::memcpy(dst, v.data, static_cast<size_t>(c * h * w));
      } else {
        for (int64_t ch = 0; ch < c; ++ch) {
          for (int64_t y = 0; y < h; ++y) {
            const uint8_t* src = v.data + ch * v.channel_stride + y * v.row_stride;
            uint8_t* row = dst + (ch * h + y) * w;
            for (int64_t x = 0; x < w; ++x) {
              row[x] = src[x * v.col_stride];
            }
          }
        }
      }
      label_data[i] = sample.label;
    }
  });
  return std::make_shared<InMemoryDataset>(
      std::move(images), std::move(labels), dataset.class_names(), dataset.name());
}

}  // namespace ewgs::data
