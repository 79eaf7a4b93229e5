// Device-resident batches (include/ewgs/data/device_loader.h): gather, zero-pad,
// crop, flip and normalize with index arithmetic on the device.
#include "ewgs/data/device_loader.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "ewgs/data/sample_rng.h"

namespace ewgs::data {

bool device_transform_supported(const TransformOptions& t) {
  return t.random_resized_crop == 0 && t.resize == 0 && t.center_crop == 0;
}

struct DeviceLoader::Impl {
  Transform transform;
  LoaderOptions options;
  c10::Device device;
  at::Tensor images;  // uint8 (N, C, H, W) on the device
  at::Tensor labels;  // int64 (N)
  at::Tensor table;   // float (C or 1, 256): normalized value of each pixel value
  int64_t size = 0;
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  int64_t out_h = 0;
  int64_t out_w = 0;
  // The current epoch, on the device.
  at::Tensor order;
  at::Tensor crop_y;
  at::Tensor crop_x;
  at::Tensor flip;
  int64_t next_batch = 0;

  Impl(const InMemoryDataset& dataset, TransformOptions t, LoaderOptions o, c10::Device d)
      : transform(std::move(t)), options(o), device(d) {
    TORCH_CHECK(
        device_transform_supported(transform.options()),
        "device-resident data: ",
        dataset.name(),
        " needs a transform of crop/pad, flip and normalization only (no resize or center crop)");
    check_loader_options(options, "device-resident data");
    images = dataset.images().to(device);
    labels = dataset.labels().to(device);
    size = dataset.size();
    channels = images.size(1);
    height = images.size(2);
    width = images.size(3);
    transform.check_channels(channels);
    std::tie(out_h, out_w) = transform.output_size(height, width);
    const auto& lut = transform.normalization_table();
    table = at::tensor(lut, at::kFloat).view({-1, 256}).to(device);
    if (table.size(0) == 1 && channels > 1) {
      table = table.expand({channels, 256}).contiguous();
    }
  }

  int64_t batches() const {
    return options.drop_last ? size / options.batch_size
                             : (size + options.batch_size - 1) / options.batch_size;
  }

  void start(int64_t epoch, int64_t skip) {
    TORCH_CHECK(
        skip >= 0 && skip <= batches(),
        "device-resident data: skip_batches must be in [0, ",
        batches(),
        "], got ",
        skip);
    const auto positions = epoch_order(size, options.shuffle, options.seed, epoch);
    std::vector<int64_t> ys(size);
    std::vector<int64_t> xs(size);
    std::vector<uint8_t> flips(size);
    for (int64_t p = 0; p < size; ++p) {
      const Placement placement =
          transform.draw(height, width, CounterRng::for_sample(options.seed, epoch, p));
      ys[p] = placement.crop_y;
      xs[p] = placement.crop_x;
      flips[p] = placement.flip ? 1 : 0;
    }
    order = at::tensor(positions, at::kLong).to(device);
    crop_y = at::tensor(ys, at::kLong).to(device);
    crop_x = at::tensor(xs, at::kLong).to(device);
    flip = at::tensor(flips, at::kByte).to(device, at::kBool);
    next_batch = skip;
  }

  std::optional<Batch> take() {
    TORCH_CHECK(order.defined(), "device-resident data: call start_epoch() before next()");
    if (next_batch >= batches()) {
      return std::nullopt;
    }
    const int64_t global_begin = next_batch * options.batch_size;
    const int64_t global_size = std::min(size, global_begin + options.batch_size) - global_begin;
    const auto [first, last] = shard_range(global_size, options.shard, options.shards);
    const int64_t begin = global_begin + first;
    const int64_t end = global_begin + last;
    const int64_t b = end - begin;
    const auto idx = order.slice(0, begin, end);
    const int64_t pad = transform.options().crop_padding;
    const auto padded = at::constant_pad_nd(images.index_select(0, idx), {pad, pad, pad, pad}, 0);
    const int64_t hp = height + 2 * pad;
    const int64_t wp = width + 2 * pad;
    const auto long_options = at::TensorOptions().dtype(at::kLong).device(device);
    const auto iy = at::arange(out_h, long_options);
    const auto ix = at::arange(out_w, long_options);
    const auto rows = crop_y.slice(0, begin, end).view({b, 1}) + iy.view({1, out_h});
    const auto x0 = crop_x.slice(0, begin, end).view({b, 1});
    const auto cols = at::where(
        flip.slice(0, begin, end).view({b, 1}),
        x0 + (out_w - 1) - ix.view({1, out_w}),
        x0 + ix.view({1, out_w}));
    const auto plane =
        (at::arange(b, long_options).view({b, 1, 1, 1}) * channels +
         at::arange(channels, long_options).view({1, channels, 1, 1}));
    const auto source =
        (plane * hp + rows.view({b, 1, out_h, 1})) * wp + cols.view({b, 1, 1, out_w});
    const auto pixels = padded.flatten().take(source).to(at::kLong);
    const auto channel_base = at::arange(channels, long_options).view({1, channels, 1, 1}) * 256;
    Batch batch;
    batch.images = table.flatten().take(channel_base + pixels);
    batch.labels = labels.index_select(0, idx);
    batch.index = next_batch++;
    batch.global_size = global_size;
    return batch;
  }
};

DeviceLoader::DeviceLoader(
    const InMemoryDataset& dataset,
    TransformOptions transform,
    LoaderOptions options,
    c10::Device device)
    : impl_(std::make_unique<Impl>(dataset, std::move(transform), options, device)) {}

DeviceLoader::~DeviceLoader() = default;

void DeviceLoader::start_epoch(int64_t epoch, int64_t skip_batches) {
  impl_->start(epoch, skip_batches);
}

std::optional<Batch> DeviceLoader::next() {
  return impl_->take();
}

int64_t DeviceLoader::batches_per_epoch() const {
  return impl_->batches();
}

}  // namespace ewgs::data
