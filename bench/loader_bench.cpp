// Loader throughput (images/s) on Fashion-MNIST, CIFAR-10 binary and the CIFAR-10 JPEG
// folder, with and without augmentation; prints one JSON object for BENCHMARKS.md.

// Usage: loader_bench [--epochs N] [--batch N] [--workers N] [--cache-dir DIR]
//                     [--cifar10-binary DIR] [--cifar10-jpeg ARCHIVE_OR_DIR]
#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "ewgs/core/data_dir.h"
#include "ewgs/data/archive.h"
#include "ewgs/data/cifar_binary.h"
#include "ewgs/data/idx.h"
#include "ewgs/data/image_folder.h"
#include "ewgs/data/loader.h"
#include "ewgs/data/open_dataset.h"
#include "ewgs/data/transforms.h"

namespace {

using ewgs::data::DataLoader;
using ewgs::data::Dataset;
using ewgs::data::LoaderOptions;
using ewgs::data::TransformOptions;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double round3(double x) {
  return static_cast<double>(static_cast<int64_t>(x * 1000.0 + 0.5)) / 1000.0;
}

struct Settings {
  int64_t epochs = 3;
  int64_t batch = 128;
  int64_t workers = ewgs::data::hardware_threads();
  std::string cache_dir = ewgs::data::default_cache_dir();
  std::string cifar10_binary;
  std::string cifar10_jpeg = ewgs::data_dir() + "/cifar10-jpeg.tar.gz";
};

/// Runs `epochs` epochs and returns the median images/s of one epoch.
double throughput(
    const std::shared_ptr<const Dataset>& data,
    const TransformOptions& transform,
    const Settings& s,
    int64_t epochs,
    int64_t workers) {
  LoaderOptions options;
  options.batch_size = s.batch;
  options.workers = workers;
  options.seed = 1;
  DataLoader loader(data, transform, options);
  std::vector<double> rates;
  double checksum = 0.0;
  for (int64_t e = 0; e < epochs; ++e) {
    const auto start = Clock::now();
    loader.start_epoch(e);
    int64_t images = 0;
    while (auto batch = loader.next()) {
      images += batch->images.size(0);
      checksum += batch->images.data_ptr<float>()[0];
    }
    rates.push_back(static_cast<double>(images) / seconds_since(start));
  }
  std::sort(rates.begin(), rates.end());
  std::cerr << "  " << data->name() << (transform.flip ? " augmented" : " plain") << ": "
            << rates[rates.size() / 2] << " images/s (checksum " << checksum << ")\n";
  return rates[rates.size() / 2];
}

/// Plain and augmented throughput of `data` under `kind`'s presets.
nlohmann::json both(
    const std::shared_ptr<const Dataset>& data,
    const TransformOptions& plain,
    const TransformOptions& augmented,
    const Settings& s,
    int64_t epochs) {
  return {
      {"plain_images_per_s", round3(throughput(data, plain, s, epochs, s.workers))},
      {"augmented_images_per_s", round3(throughput(data, augmented, s, epochs, s.workers))}};
}

nlohmann::json fashion_mnist(const Settings& s) {
  const std::string root = ewgs::data::default_root("fashion-mnist");
  auto start = Clock::now();
  const std::shared_ptr<const Dataset> train = ewgs::data::load_fashion_mnist(root, "train");
  const double load_s = seconds_since(start);
  TransformOptions augmented = ewgs::data::train_transform("fashion-mnist");
  augmented.crop_padding = 2;
  augmented.flip = true;
  nlohmann::json out =
      both(train, ewgs::data::eval_transform("fashion-mnist"), augmented, s, s.epochs);
  out["source"] = root + " (train, 60000 images 1x28x28, .gz IDX)";
  out["load_s"] = round3(load_s);
  out["augmentation"] = "crop 28 pad 2 + flip";
  return out;
}

/// Writes the CIFAR-10 binary files from the decoded JPEG copy (same images, as records).
std::string synthesize_cifar10_binary(
    const Dataset& train, const Dataset& test, const std::string& dir) {
  fs::create_directories(dir);
  auto write = [&](const Dataset& data, int64_t begin, int64_t end, const std::string& file) {
    std::ofstream out(dir + "/" + file, std::ios::binary);
    ewgs::data::Sample sample;
    std::vector<char> record(3073);
    for (int64_t i = begin; i < end; ++i) {
      data.read(i, sample);
      record[0] = static_cast<char>(sample.label);
      for (int64_t c = 0; c < 3; ++c) {
        for (int64_t y = 0; y < 32; ++y) {
          for (int64_t x = 0; x < 32; ++x) {
            record[static_cast<size_t>(1 + (c * 32 + y) * 32 + x)] =
                static_cast<char>(sample.image.at(c, y, x));
          }
        }
      }
      out.write(record.data(), 3073);
    }
    TORCH_CHECK(out.good(), "cannot write ", dir, "/", file);
  };
  for (int b = 0; b < 5; ++b) {
    write(train, b * 10000, (b + 1) * 10000, "data_batch_" + std::to_string(b + 1) + ".bin");
  }
  write(test, 0, test.size(), "test_batch.bin");
  return dir;
}

nlohmann::json cifar10(const Settings& s) {
  nlohmann::json jpeg;
  nlohmann::json binary;
  std::string jpeg_root = s.cifar10_jpeg;
  auto start = Clock::now();
  if (jpeg_root.size() > 7 && jpeg_root.substr(jpeg_root.size() - 7) == ".tar.gz") {
    jpeg_root = ewgs::data::extract_once(jpeg_root, "cifar10-jpeg", s.cache_dir);
  }
  jpeg["source"] = jpeg_root + " (train, 50000 JPEG files 32x32)";
  jpeg["extract_s"] = round3(seconds_since(start));

  ewgs::data::ImageFolderOptions lazy_options;
  lazy_options.cache = ewgs::data::FolderCache::kNever;
  lazy_options.kind = "cifar10-jpeg";
  start = Clock::now();
  const std::shared_ptr<const Dataset> lazy =
      ewgs::data::open_image_folder(jpeg_root, "train", lazy_options);
  const double scan_s = seconds_since(start);
  const TransformOptions plain = ewgs::data::eval_transform("cifar10-jpeg");
  const TransformOptions augmented = ewgs::data::train_transform("cifar10-jpeg");
  jpeg["on_demand"] = both(lazy, plain, augmented, s, 1);
  jpeg["on_demand"]["scan_s"] = round3(scan_s);
  jpeg["on_demand"]["note"] = "cache=never: every epoch decodes all JPEGs in the loader workers";

  ewgs::data::ImageFolderOptions cached_options;
  cached_options.kind = "cifar10-jpeg";
  start = Clock::now();
  const auto cached_folder = ewgs::data::open_image_folder(jpeg_root, "train", cached_options);
  const double open_s = seconds_since(start);
  TORCH_CHECK(cached_folder->cache() != nullptr, "cifar10-jpeg was not cached");
  const std::shared_ptr<const Dataset> cached = cached_folder;
  const double first_rate = throughput(cached, augmented, s, 1, s.workers);
  const double first_epoch_s = open_s + static_cast<double>(cached->size()) / first_rate;
  jpeg["cached"] = both(cached, plain, augmented, s, s.epochs);
  jpeg["cached"]["open_and_decode_s"] = round3(open_s);
  jpeg["cached"]["first_epoch_with_decode_images_per_s"] =
      round3(static_cast<double>(cached->size()) / first_epoch_s);
  jpeg["cached"]["note"] = "cache=auto: open decodes all JPEGs once into memory with all threads";

  std::string binary_root = s.cifar10_binary;
  if (binary_root.empty()) {
    binary_root = s.cache_dir + "/cifar10-binary-from-jpeg";
    if (!fs::exists(binary_root + "/test_batch.bin")) {
      ewgs::data::ImageFolderOptions test_options = cached_options;
      const auto test = ewgs::data::open_image_folder(jpeg_root, "test", test_options);
      synthesize_cifar10_binary(*cached, *test, binary_root);
    }
    binary["source"] =
        binary_root +
        " (synthesized from the cifar10-jpeg copy: its decoded pixels as 3073-byte records)";
  } else {
    binary["source"] = binary_root + " (CIFAR-10 binary files)";
  }
  start = Clock::now();
  const std::shared_ptr<const Dataset> bin = ewgs::data::load_cifar10_binary(binary_root, "train");
  const double load_s = seconds_since(start);
  binary.update(both(
      bin,
      ewgs::data::eval_transform("cifar10"),
      ewgs::data::train_transform("cifar10"),
      s,
      s.epochs));
  binary["augmented_workers0_images_per_s"] =
      round3(throughput(bin, ewgs::data::train_transform("cifar10"), s, s.epochs, 0));
  binary["load_s"] = round3(load_s);
  binary["augmentation"] = "crop 32 pad 4 + flip";
  jpeg["augmentation"] = "crop 32 pad 4 + flip";
  return {{"cifar10_binary", binary}, {"cifar10_jpeg", jpeg}};
}

Settings parse(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    TORCH_CHECK(i + 1 < argc, "loader_bench: ", arg, " needs a value");
    const std::string value = argv[++i];
    if (arg == "--epochs") {
      s.epochs = std::stoll(value);
    } else if (arg == "--batch") {
      s.batch = std::stoll(value);
    } else if (arg == "--workers") {
      s.workers = std::stoll(value);
    } else if (arg == "--cache-dir") {
      s.cache_dir = value;
    } else if (arg == "--cifar10-binary") {
      s.cifar10_binary = value;
    } else if (arg == "--cifar10-jpeg") {
      s.cifar10_jpeg = value;
    } else {
      TORCH_CHECK(false, "loader_bench: unknown option ", arg);
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Settings s = parse(argc, argv);
    nlohmann::json out;
    out["benchmark"] = "loader_bench";
    out["hardware_threads"] = ewgs::data::hardware_threads();
    out["workers"] = s.workers;
    out["batch_size"] = s.batch;
    out["epochs_measured"] = s.epochs;
    out["statistic"] = "median images/s over epochs (on_demand: one epoch)";
    out["fashion_mnist"] = fashion_mnist(s);
    out.update(cifar10(s));
    std::cout << out.dump(2) << std::endl;
  } catch (const c10::Error& e) {
    std::cerr << "error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
