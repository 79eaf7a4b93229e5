// Shared benchmark helpers (bench_util.h).
#include "bench_util.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <algorithm>
#include <ctime>

#include "ewgs/core/version.h"

namespace ewgs::cli {

c10::Device parse_device(const std::string& name) {
  if (name == "cuda") {
    TORCH_CHECK(torch::cuda::is_available(), "--device cuda: no CUDA device is available");
    TORCH_CHECK(
        built_with_cuda(),
        "--device cuda: ewgs was built without CUDA (configure with -DEWGS_USE_CUDA=ON)");
    return c10::Device(c10::kCUDA);
  }
  TORCH_CHECK(name == "cpu", "device must be cpu or cuda, got '", name, "'");
  return c10::Device(c10::kCPU);
}

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) {
    torch::cuda::synchronize();
  }
}

double median(std::vector<double> values) {
  TORCH_CHECK(!values.empty(), "median of no values");
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

std::vector<int64_t> input_shape(const std::string& model) {
  if (model == "small_cnn" || model == "minw_cnn") {
    return {1, 28, 28};
  }
  if (model == "resnet20") {
    return {3, 32, 32};
  }
  return {3, 224, 224};
}

nlohmann::json bench_header(const std::string& name, const c10::Device& device, int64_t threads) {
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof(date), "%Y-%m-%d", std::localtime(&now));
  return {
      {"benchmark", name},
      {"device", device.str()},
      {"threads", threads},
      {"ewgs", version()},
      {"libtorch", TORCH_VERSION},
      {"date", date}};
}

}  // namespace ewgs::cli
