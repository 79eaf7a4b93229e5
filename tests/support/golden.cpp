// Implementation of the test helpers (tests/support/support.h).
#include <fstream>
#include <sstream>

#include "ewgs/core/data_dir.h"
#include "support/support.h"

namespace ewgs::test {

::testing::AssertionResult all_close(
    const torch::Tensor& a, const torch::Tensor& b, double rtol, double atol) {
  if (a.sizes() != b.sizes()) {
    return ::testing::AssertionFailure() << "shapes differ: " << a.sizes() << " vs " << b.sizes();
  }
  const auto a64 = a.detach().to(torch::kCPU, torch::kDouble);
  const auto b64 = b.detach().to(torch::kCPU, torch::kDouble);
  const auto excess = (a64 - b64).abs() - (atol + rtol * b64.abs());
  if (a64.numel() == 0 || excess.max().item<double>() <= 0.0) {
    if (!torch::isfinite(a64).all().item<bool>() || !torch::isfinite(b64).all().item<bool>()) {
      return ::testing::AssertionFailure() << "non-finite values";
    }
    return ::testing::AssertionSuccess();
  }
  const int64_t worst = excess.flatten().argmax().item<int64_t>();
  const int64_t bad = (excess > 0).sum().item<int64_t>();
  return ::testing::AssertionFailure()
         << bad << " of " << a.numel() << " elements differ beyond rtol=" << rtol
         << " atol=" << atol << "; worst at flat index " << worst << ": "
         << a64.flatten()[worst].item<double>() << " vs " << b64.flatten()[worst].item<double>();
}

::testing::AssertionResult all_equal(const torch::Tensor& a, const torch::Tensor& b) {
  return all_close(a, b, 0.0, 0.0);
}

nlohmann::json load_golden(const std::string& name) {
  const std::string path = std::string(EWGS_GOLDEN_DIR) + "/" + name;
  std::ifstream in(path);
  TORCH_CHECK(in.good(), "cannot open golden file ", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return nlohmann::json::parse(buffer.str());
}

torch::Tensor tensor_from_json(const nlohmann::json& entry) {
  const auto data = entry.at("data").get<std::vector<double>>();
  const auto shape = entry.at("shape").get<std::vector<int64_t>>();
  return torch::tensor(data, torch::kDouble).to(torch::kFloat).reshape(shape);
}

std::string shared_data_path(const std::string& name) {
  return data_dir() + "/" + name;
}

}  // namespace ewgs::test
