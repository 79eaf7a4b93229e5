// The multi-threaded batch loader (include/ewgs/data/loader.h): workers claim batch
// numbers in order within a bounded window and publish finished batches in a map the
// caller drains in order; a generation counter retires abandoned epochs.
#include "ewgs/data/loader.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace ewgs::data {

int64_t hardware_threads() {
  return std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
}

std::pair<int64_t, int64_t> shard_range(int64_t count, int64_t shard, int64_t shards) {
  return {count * shard / shards, count * (shard + 1) / shards};
}

void check_loader_options(const LoaderOptions& options, const std::string& where) {
  TORCH_CHECK(options.batch_size > 0, where, ": batch_size must be > 0, got ", options.batch_size);
  TORCH_CHECK(options.shards >= 1, where, ": shards must be >= 1, got ", options.shards);
  TORCH_CHECK(
      options.shard >= 0 && options.shard < options.shards,
      where,
      ": shard must be in [0, shards - 1 = ",
      options.shards - 1,
      "], got ",
      options.shard);
  TORCH_CHECK(
      options.batch_size >= options.shards,
      where,
      ": batch_size ",
      options.batch_size,
      " cannot be split into ",
      options.shards,
      " shards (one per rank): every shard needs a sample");
}

struct DataLoader::Impl {
  /// A finished batch or the error that stopped it.
  struct Result {
    Batch batch;
    std::exception_ptr error;
  };

  Impl(std::shared_ptr<const Dataset> data, TransformOptions transform_options, LoaderOptions o);
  ~Impl();

  /// Stops the workers and joins them.
  void shutdown();
  void worker_main();
  void worker_loop();
  /// Builds batch `k` into `out`; false when the epoch was abandoned meanwhile.
  bool build(
      int64_t k,
      uint64_t gen,
      int64_t epoch_number,
      const std::vector<int64_t>& epoch_positions,
      Sample& sample,
      Batch& out);
  /// A (count, C, H, W) float buffer, reused when nobody else holds it.
  at::Tensor acquire(int64_t count);
  [[noreturn]] void rethrow(const std::exception_ptr& error, int64_t epoch_number, int64_t k);
  std::string where() const { return "data loader (" + dataset->name() + ")"; }

  std::shared_ptr<const Dataset> dataset;
  Transform transform;
  LoaderOptions options;
  int64_t samples = 0;
  int64_t batches = 0;
  int64_t channels = 0;
  int64_t out_h = 0;
  int64_t out_w = 0;

  std::mutex mutex;
  std::condition_variable work_cv;   // workers: a batch can be claimed, or stop
  std::condition_variable ready_cv;  // next(): a batch is ready
  bool started = false;
  bool stop = false;
  uint64_t generation = 0;
  std::atomic<uint64_t> live_generation{0};  // read without the lock, to abandon early
  int64_t epoch = 0;
  std::shared_ptr<const std::vector<int64_t>> order;
  int64_t next_claim = 0;
  int64_t next_deliver = 0;
  int64_t end = 0;
  std::map<int64_t, Result> ready;
  std::exception_ptr fatal;
  std::vector<std::thread> threads;
  Sample caller_sample;  // workers == 0

  std::mutex pool_mutex;
  std::vector<at::Tensor> pool;
  size_t pool_capacity = 0;
};

DataLoader::Impl::Impl(
    std::shared_ptr<const Dataset> data, TransformOptions transform_options, LoaderOptions o)
    : dataset(std::move(data)), transform(std::move(transform_options)), options(o) {
  TORCH_CHECK(dataset != nullptr, "DataLoader: the data set is null");
  check_loader_options(options, "LoaderOptions");
  TORCH_CHECK(options.workers >= 0, "LoaderOptions: workers must be >= 0, got ", options.workers);
  if (options.prefetch <= 0) {
    options.prefetch = std::max<int64_t>(1, 2 * options.workers);
  }
  const int64_t n = dataset->size();
  TORCH_CHECK(n > 0, where(), ": the data set is empty");
  batches = options.drop_last ? n / options.batch_size
                              : (n + options.batch_size - 1) / options.batch_size;
  TORCH_CHECK(
      batches > 0,
      where(),
      ": drop_last with batch_size ",
      options.batch_size,
      " larger than the ",
      n,
      " samples leaves no batch");
  samples = std::min(n, batches * options.batch_size);
  const std::vector<int64_t> shape = dataset->image_shape();
  TORCH_CHECK(
      shape.size() == 3, where(), ": image_shape() must be {C,H,W}, got ", shape.size(), " values");
  channels = shape[0];
  int64_t h = shape[1];
  int64_t w = shape[2];
  if (!dataset->fixed_image_size()) {
    // Sizes vary or are unknown: sample 0 sets the batch shape, later samples must match.
    const Sample first = dataset->get(0);
    channels = first.image.channels;
    h = first.image.height;
    w = first.image.width;
  }
  transform.check_channels(channels);
  std::tie(out_h, out_w) = transform.output_size(h, w);
  pool_capacity = static_cast<size_t>(options.prefetch + options.workers + 2);
  threads.reserve(static_cast<size_t>(options.workers));
  try {
    for (int64_t t = 0; t < options.workers; ++t) {
      threads.emplace_back([this] { worker_main(); });
    }
  } catch (const std::exception& e) {
    shutdown();  // the destructor does not run when the constructor throws
    TORCH_CHECK(false, where(), ": cannot start ", options.workers, " workers: ", e.what());
  }
}

DataLoader::Impl::~Impl() {
  shutdown();
}

void DataLoader::Impl::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stop = true;
    live_generation = ++generation;
  }
  work_cv.notify_all();
  for (auto& thread : threads) {
    if (thread.joinable()) {
      thread.join();
    }
  }
}

void DataLoader::Impl::worker_main() {
  try {
    worker_loop();
  } catch (...) {
    // Only the locking itself can get here; report it instead of terminating.
    std::lock_guard<std::mutex> lock(mutex);
    fatal = std::current_exception();
    ready_cv.notify_all();
  }
}

void DataLoader::Impl::worker_loop() {
  Sample sample;
  std::unique_lock<std::mutex> lock(mutex);
  while (true) {
    work_cv.wait(lock, [&] {
      return stop || (started && next_claim < end && next_claim < next_deliver + options.prefetch);
    });
    if (stop) {
      return;
    }
    const int64_t k = next_claim++;
    const uint64_t gen = generation;
    const int64_t epoch_number = epoch;
    const std::shared_ptr<const std::vector<int64_t>> positions = order;
    lock.unlock();
    Result result;
    bool finished = true;
    try {
      finished = build(k, gen, epoch_number, *positions, sample, result.batch);
    } catch (...) {
      result.error = std::current_exception();
    }
    lock.lock();
    if (finished && gen == generation) {
      ready.emplace(k, std::move(result));
      ready_cv.notify_all();
    }
  }
}

at::Tensor DataLoader::Impl::acquire(int64_t count) {
  std::lock_guard<std::mutex> lock(pool_mutex);
  for (const at::Tensor& buffer : pool) {
    if (buffer.size(0) == count && buffer.use_count() == 1 && buffer.storage().use_count() == 1) {
      return buffer;
    }
  }
  at::Tensor buffer = at::empty({count, channels, out_h, out_w}, at::kFloat);
  if (pool.size() < pool_capacity) {
    pool.push_back(buffer);
  }
  return buffer;
}

bool DataLoader::Impl::build(
    int64_t k,
    uint64_t gen,
    int64_t epoch_number,
    const std::vector<int64_t>& epoch_positions,
    Sample& sample,
    Batch& out) {
  const int64_t global_count =
      std::min(options.batch_size, dataset->size() - k * options.batch_size);
  const auto [first, last] = shard_range(global_count, options.shard, options.shards);
  const int64_t begin = k * options.batch_size + first;
  const int64_t count = last - first;
  at::Tensor images = acquire(count);
  at::Tensor labels = at::empty({count}, at::kLong);
  float* pixels = images.data_ptr<float>();
  int64_t* label_data = labels.data_ptr<int64_t>();
  const int64_t plane = channels * out_h * out_w;
  for (int64_t i = 0; i < count; ++i) {
    if (live_generation.load(std::memory_order_relaxed) != gen) {
      return false;
    }
    const int64_t position = begin + i;
    const int64_t index = epoch_positions[static_cast<size_t>(position)];
    dataset->read(index, sample);
    const ImageView& image = sample.image;
    const auto [h, w] = transform.output_size(image.height, image.width);
    TORCH_CHECK(
        image.channels == channels && h == out_h && w == out_w,
        dataset->describe(index),
        ": image is ",
        image.channels,
        "x",
        image.height,
        "x",
        image.width,
        " (",
        image.channels,
        "x",
        h,
        "x",
        w,
        " after the transform) but this loader's batches hold ",
        channels,
        "x",
        out_h,
        "x",
        out_w,
        " images; images of different sizes need random_resized_crop or "
        "resize + center_crop");
    const Placement placement = transform.draw(
        image.height, image.width, CounterRng::for_sample(options.seed, epoch_number, position));
    transform.apply(image, placement, pixels + i * plane);
    label_data[i] = sample.label;
  }
  out.images = std::move(images);
  out.labels = std::move(labels);
  out.index = k;
  out.global_size = global_count;
  return true;
}

void DataLoader::Impl::rethrow(const std::exception_ptr& error, int64_t epoch_number, int64_t k) {
  const std::string context =
      where() + ", epoch " + std::to_string(epoch_number) + ", batch " + std::to_string(k) + ": ";
  try {
    std::rethrow_exception(error);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, context, e.what_without_backtrace());
  } catch (const std::exception& e) {
    TORCH_CHECK(false, context, e.what());
  } catch (...) {
    TORCH_CHECK(false, context, "unknown error");
  }
}

DataLoader::DataLoader(
    std::shared_ptr<const Dataset> dataset, TransformOptions transform, LoaderOptions options)
    : impl_(std::make_unique<Impl>(std::move(dataset), std::move(transform), options)) {}

DataLoader::~DataLoader() = default;

void DataLoader::start_epoch(int64_t epoch, int64_t skip_batches) {
  Impl& s = *impl_;
  TORCH_CHECK(epoch >= 0, s.where(), ": epoch must be >= 0, got ", epoch);
  TORCH_CHECK(
      skip_batches >= 0 && skip_batches <= s.batches,
      s.where(),
      ": skip_batches must be in [0, ",
      s.batches,
      "], got ",
      skip_batches);
  auto positions = std::make_shared<const std::vector<int64_t>>(
      epoch_order(s.dataset->size(), s.options.shuffle, s.options.seed, epoch));
  std::map<int64_t, Impl::Result> abandoned;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.live_generation = ++s.generation;
    abandoned.swap(s.ready);
    s.epoch = epoch;
    s.order = std::move(positions);
    s.next_claim = skip_batches;
    s.next_deliver = skip_batches;
    s.end = s.batches;
    s.started = true;
  }
  s.work_cv.notify_all();
}

std::optional<Batch> DataLoader::next() {
  Impl& s = *impl_;
  if (s.options.workers == 0) {
    TORCH_CHECK(s.started, s.where(), ": call start_epoch() before next()");
    if (s.next_deliver >= s.end) {
      return std::nullopt;
    }
    const int64_t k = s.next_deliver++;
    Batch batch;
    try {
      s.build(k, s.generation, s.epoch, *s.order, s.caller_sample, batch);
    } catch (...) {
      s.rethrow(std::current_exception(), s.epoch, k);
    }
    return batch;
  }
  std::unique_lock<std::mutex> lock(s.mutex);
  TORCH_CHECK(s.started, s.where(), ": call start_epoch() before next()");
  if (s.next_deliver >= s.end) {
    return std::nullopt;
  }
  const int64_t k = s.next_deliver;
  s.ready_cv.wait(lock, [&] { return s.fatal || s.ready.count(k) != 0; });
  if (s.fatal) {
    s.rethrow(s.fatal, s.epoch, k);
  }
  auto node = s.ready.extract(k);
  ++s.next_deliver;
  const int64_t epoch_number = s.epoch;
  lock.unlock();
  s.work_cv.notify_all();
  Impl::Result& result = node.mapped();
  if (result.error) {
    s.rethrow(result.error, epoch_number, k);
  }
  return std::move(result.batch);
}

int64_t DataLoader::batches_per_epoch() const {
  return impl_->batches;
}

int64_t DataLoader::size() const {
  return impl_->samples;
}

std::vector<int64_t> DataLoader::sample_shape() const {
  return {impl_->channels, impl_->out_h, impl_->out_w};
}

const LoaderOptions& DataLoader::options() const {
  return impl_->options;
}

const Dataset& DataLoader::dataset() const {
  return *impl_->dataset;
}

}  // namespace ewgs::data
